-- BI access: what the project's roles may read. Run by `warehouse access` (and before every
-- dbt build); idempotent. The roles are created, and access.mart_access is loaded from
-- warehouse/access_matrix.yml, by warehouse/access.py.
--   bi_reader    SELECT on the marts the matrix gives it (all rows)
--   bi_district  group of the district logins (membership without SET: a login can never
--                become the group); SELECT on aggregate and reference marts only, and a
--                row-level-security policy shows each login its own district's rows
-- Nothing in this schema is readable by a BI role; the one function a BI role may call is
-- access.own_district() (district logins, through the policies).
create schema if not exists access;
revoke all on schema access from public;

-- which district each district login sees. A role that is not here sees no district's rows
-- (default deny). bi_reader is not here: its policies are `true`, not a lookup.
create table if not exists access.district_logins (
    role_name text primary key,
    la_code text not null
);

-- the matrix (warehouse/access_matrix.yml), one row per mart x role that may read it, with
-- the policy expression of its row scope; a mart x role not here gets no SELECT.
create table if not exists access.mart_access (
    mart text not null,
    role_name text not null,
    scope text not null,
    using_expr text not null,
    primary key (mart, role_name)
);
revoke all on all tables in schema access from public;

-- The caller's own district, or null: the only helper the policies need. It is SECURITY
-- DEFINER so that logins need not (and cannot) read access.district_logins, and it answers
-- only about the session's own login (session_user: a district login cannot change it,
-- SET SESSION AUTHORIZATION needs a superuser), so it reveals no one else's district. The
-- policies call it in an uncorrelated subquery, which PostgreSQL runs once per query as an
-- InitPlan (row-by-row calls of a SECURITY DEFINER function, which is never inlined, cost
-- ~12 s a login to scan the district marts at scale 1).
create or replace function access.own_district()
returns text
language sql
stable
security definer
set search_path = pg_catalog, access
as $$
    select la_code from access.district_logins where role_name = session_user
$$;
revoke all on function access.own_district() from public;

-- Grants and policies of one mart relation, from access.mart_access. dbt calls it after
-- building each mart (a rebuilt table has lost its grants and policies), and `warehouse
-- access` calls it for every existing mart. It changes only what differs from the matrix:
-- on a mart already protected it takes no lock (an ALTER TABLE there waits for, and can
-- deadlock with, autovacuum, and waits behind any BI query).
create or replace function access.protect(rel regclass)
returns void
language plpgsql
set search_path = pg_catalog, access
as $$
declare
    kind "char";
    rel_owner oid;
    mart_name text;
    r record;
    expected text[];
begin
    select c.relkind, c.relowner, c.relname into kind, rel_owner, mart_name
    from pg_class c where c.oid = rel;
    -- 1. default deny: revoke every privilege the matrix does not give (also PUBLIC's, and
    --    a grant made by hand to a login)
    for r in
        select distinct a.grantee, a.privilege_type
        from pg_class c, aclexplode(c.relacl) a
        where c.oid = rel and a.grantee <> c.relowner
            and not (
                a.privilege_type = 'SELECT' and a.grantee <> 0 and exists (
                    select 1 from access.mart_access m
                    where m.mart = mart_name and m.role_name = pg_get_userbyid(a.grantee)
                )
            )
    loop
        execute format(
            'revoke %s on %s from %s', r.privilege_type, rel,
            case when r.grantee = 0 then 'public' else quote_ident(pg_get_userbyid(r.grantee)) end
        );
    end loop;
    -- 2. SELECT for each role the matrix names
    for r in
        select m.role_name from access.mart_access m
        join pg_roles g on g.rolname = m.role_name
        where m.mart = mart_name
            and not exists (
                select 1 from pg_class c, aclexplode(c.relacl) a
                where c.oid = rel and a.grantee = g.oid and a.privilege_type = 'SELECT'
            )
    loop
        execute format('grant select on %s to %I', rel, r.role_name);
    end loop;
    if kind = 'v' then
        -- a view reads its tables with the caller's rights, so their policies apply
        if not exists (
            select 1 from pg_class
            where oid = rel and 'security_invoker=true' = any(coalesce(reloptions, '{}'))
        ) then
            execute format('alter view %s set (security_invoker = true)', rel);
        end if;
        return;
    end if;
    if kind = 'm' then
        if exists (
            select 1 from access.mart_access where mart = mart_name and using_expr <> 'true'
        ) then
            raise exception 'mart % is a materialized view: no row-level security for its scope', mart_name;
        end if;
        return;
    end if;
    -- 3. row-level security on every mart table: a role without a policy sees no row, even
    --    if SELECT were granted to it by hand
    if not (select relrowsecurity from pg_class where oid = rel) then
        execute format('alter table %s enable row level security', rel);
    end if;
    -- 4. one policy per role, named after its expression: a changed scope is a new policy
    --    (the old one is dropped), an unchanged one is left alone
    select coalesce(array_agg('matrix_' || m.role_name || '_' || left(md5(m.using_expr), 8)), '{}')
    into expected
    from access.mart_access m join pg_roles g on g.rolname = m.role_name
    where m.mart = mart_name;
    for r in select polname from pg_policy where polrelid = rel and polname <> all(expected) loop
        execute format('drop policy %I on %s', r.polname, rel);
    end loop;
    for r in
        select m.role_name, m.using_expr,
            'matrix_' || m.role_name || '_' || left(md5(m.using_expr), 8) as polname
        from access.mart_access m join pg_roles g on g.rolname = m.role_name
        where m.mart = mart_name
    loop
        if not exists (select 1 from pg_policy where polrelid = rel and polname = r.polname) then
            execute format(
                'create policy %I on %s for select to %I using (%s)',
                r.polname, rel, r.role_name, r.using_expr
            );
        end if;
    end loop;
end
$$;
revoke all on function access.protect(regclass) from public;

-- helpers of earlier versions (dropped by warehouse/access.py once no policy uses them):
-- can_see_district(text, name) and sees_all_districts()
