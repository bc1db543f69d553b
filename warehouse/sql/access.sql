-- BI access: what the project's roles may read. Run by `warehouse access` (and before every
-- dbt build); idempotent. The roles themselves are created by warehouse/access.py.
--   bi_reader    USAGE + SELECT on marts only (nothing in raw, staging, snapshots, audit)
--   bi_district  group of the district-scoped logins; row-level security on every mart
--                carrying a district shows each login only its own local authority
create schema if not exists access;

create table if not exists access.district_logins (
    role_name text primary key,
    la_code text not null
);

-- true when the role may see rows of this district: district logins see their own LA,
-- every other role that holds SELECT (bi_reader) sees all. SECURITY DEFINER so logins
-- never need to read the mapping table itself.
create or replace function access.can_see_district(code text, who name)
returns boolean
language sql
stable
security definer
set search_path = pg_catalog, access
as $$
    select not exists (select 1 from access.district_logins where role_name = who)
        or exists (
            select 1 from access.district_logins where role_name = who and la_code = code
        )
$$;

-- Grants and the district policy for one mart relation. dbt calls it after building each
-- mart (a rebuilt table has lost its grants and policies), and `warehouse access` calls it
-- for every existing mart.
create or replace function access.protect(rel regclass)
returns void
language plpgsql
as $$
declare
    kind "char" := (select relkind from pg_class where oid = rel);
    expr text;
begin
    if exists (select 1 from pg_roles where rolname = 'bi_reader') then
        execute format('grant select on %s to bi_reader', rel);
    end if;
    if exists (select 1 from pg_roles where rolname = 'bi_district') then
        execute format('grant select on %s to bi_district', rel);
    end if;
    if kind = 'v' then
        -- a view reads its tables with the caller's rights, so their policies apply
        execute format('alter view %s set (security_invoker = true)', rel);
        return;
    end if;
    if exists (
        select 1 from pg_attribute where attrelid = rel and attname = 'la_code' and not attisdropped
    ) then
        expr := 'access.can_see_district(la_code, current_user)';
    elsif exists (
        select 1 from pg_attribute
        where attrelid = rel and attname = 'dimension_value' and not attisdropped
    ) then
        expr := 'dimension <> ''district'' or access.can_see_district(dimension_value, current_user)';
    else
        return;
    end if;
    execute format('alter table %s enable row level security', rel);
    execute format('drop policy if exists district_scope on %s', rel);
    execute format('create policy district_scope on %s for select using (%s)', rel, expr);
end
$$;
