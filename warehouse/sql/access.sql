-- BI access: what the project's roles may read. Run by `warehouse access` (and before every
-- dbt build); idempotent. The roles themselves are created by warehouse/access.py.
--   bi_reader    USAGE + SELECT on marts only (nothing in raw, staging, snapshots, audit)
--   bi_district  group of the district-scoped logins (membership without SET: a login can
--                never become the group); row-level security on every mart carrying a
--                district shows each login only its own local authority
create schema if not exists access;

-- which districts each login sees: its own LA code, or '*' for every district (bi_reader).
-- A role that is not here sees no district's rows (default deny).
create table if not exists access.district_logins (
    role_name text primary key,
    la_code text not null
);

-- true when the connected login may see rows of this district. It asks about the login
-- of the session (session_user), whatever role the session has set or the caller passes:
-- `who` is ignored (policies written by earlier versions pass current_user). SECURITY
-- DEFINER so logins need not read the mapping; it answers only for the caller's own login.
create or replace function access.can_see_district(code text, who name default null)
returns boolean
language sql
stable
security definer
set search_path = pg_catalog, access
as $$
    select exists (
        select 1 from access.district_logins
        where role_name = session_user and (la_code = code or la_code = '*')
    )
$$;
revoke all on function access.can_see_district(text, name) from public;

-- what the policies ask, once per query (each is called in an uncorrelated subquery, so
-- PostgreSQL runs it as an InitPlan: a row-by-row call of a SECURITY DEFINER function,
-- which is never inlined, cost ~12 s a login to scan the district marts at scale 1)
create or replace function access.sees_all_districts()
returns boolean
language sql
stable
security definer
set search_path = pg_catalog, access
as $$
    select exists (select 1 from access.district_logins where role_name = session_user and la_code = '*')
$$;

create or replace function access.own_district()
returns text
language sql
stable
security definer
set search_path = pg_catalog, access
as $$
    select la_code from access.district_logins where role_name = session_user and la_code <> '*'
$$;
revoke all on function access.sees_all_districts() from public;
revoke all on function access.own_district() from public;

-- Grants and the district policy for one mart relation. dbt calls it after building each
-- mart (a rebuilt table has lost its grants and policies), and `warehouse access` calls it
-- for every existing mart. It changes only what is missing: on a mart already protected it
-- takes no lock (an ALTER TABLE there waits for, and can deadlock with, autovacuum).
create or replace function access.protect(rel regclass)
returns void
language plpgsql
as $$
declare
    kind "char" := (select relkind from pg_class where oid = rel);
    expr text;
    reader text;
begin
    foreach reader in array array['bi_reader', 'bi_district'] loop
        if exists (select 1 from pg_roles where rolname = reader)
            and not has_table_privilege(reader, rel, 'select') then
            execute format('grant select on %s to %I', rel, reader);
        end if;
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
    if exists (
        select 1 from pg_attribute where attrelid = rel and attname = 'la_code' and not attisdropped
    ) then
        expr := '(select access.sees_all_districts()) or la_code = (select access.own_district())';
    elsif exists (
        select 1 from pg_attribute
        where attrelid = rel and attname = 'dimension_value' and not attisdropped
    ) then
        expr := 'dimension <> ''district'' or (select access.sees_all_districts())'
            ' or dimension_value = (select access.own_district())';
    else
        return;
    end if;
    if not (select relrowsecurity from pg_class where oid = rel) then
        execute format('alter table %s enable row level security', rel);
    end if;
    -- the policy follows from the columns; a table rebuilt with other columns has none.
    -- district_scope (row-by-row calls) is the policy of earlier versions: replaced
    if exists (select 1 from pg_policy where polrelid = rel and polname = 'district_scope') then
        execute format('drop policy district_scope on %s', rel);
    end if;
    if not exists (
        select 1 from pg_policy where polrelid = rel and polname = 'district_scope_v2'
    ) then
        execute format('create policy district_scope_v2 on %s for select using (%s)', rel, expr);
    end if;
end
$$;
