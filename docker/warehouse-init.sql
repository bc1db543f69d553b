-- Runs once, as the superuser postgres, when the warehouse container's data volume is created
-- (connected to the database POSTGRES_DB). Passwords are read from the environment with
-- \getenv, so they never appear in a command line or in this file.
--   pipeline   owns the warehouse database and runs every job; NOT a superuser. CREATEROLE
--              because `warehouse access` (warehouse/access.py) creates the BI roles.
--   bi_reader  read-only BI login (USAGE + SELECT on marts; re-granted after each build).
\set ON_ERROR_STOP on
\getenv pipeline_password WAREHOUSE_PASSWORD
\getenv bi_password WAREHOUSE_BI_PASSWORD_BI_READER
\if :{?pipeline_password}
\else
    \set pipeline_password ''
\endif
\if :{?bi_password}
\else
    \set bi_password ''
\endif
select :'pipeline_password' = '' or :'bi_password' = '' as missing \gset
\if :missing
    do $$ begin
        raise exception 'WAREHOUSE_PASSWORD and WAREHOUSE_BI_PASSWORD_BI_READER must be set';
    end $$;
\endif

create role pipeline with login createrole nosuperuser nocreatedb noreplication nobypassrls
    password :'pipeline_password';
select format('alter database %I owner to pipeline', current_database()) \gexec

-- bi_reader is created BY pipeline: since PostgreSQL 16 a CREATEROLE role may alter (set the
-- password and limits of) only the roles it administers, which are the roles it created.
set role pipeline;
create role bi_reader with login password :'bi_password';
create schema if not exists marts;
grant usage on schema marts to bi_reader;
-- no default privileges: a mart is granted (and given its row-level security) by
-- access.protect() in its post-hook, never merely by being created
reset role;
-- BEGIN hardening_sql('pipeline') from warehouse/localdb.py (why: see HARDENING there; a
-- test keeps this text the same)
revoke execute on function
    lo_create(oid), lo_creat(integer), lo_from_bytea(oid, bytea), lo_put(oid, bigint, bytea),
    lo_import(text), lo_import(text, oid)
from public;
do $$
declare f regprocedure;
begin
    for f in select oid::regprocedure from pg_proc
             where pronamespace = 'pg_catalog'::regnamespace
               and proname ~ '^pg_(try_)?advisory_(xact_)?lock(_shared)?$'
    loop
        execute format('revoke execute on function %s from public', f);
        execute format('grant execute on function %s to %I', f, 'pipeline');
    end loop;
    execute format('alter database %I set temp_file_limit = %L', current_database(), '2GB');
    execute format('alter role %I in database %I set temp_file_limit = -1',
                   'pipeline', current_database());
    -- temporary tables do not count towards the cap, and the cap is this database's
    execute format('revoke temporary on database %I from public', current_database());
    revoke connect on database template1 from public;
    if exists (select from pg_database where datname = 'postgres') then
        revoke connect on database postgres from public;
    end if;
end $$;
-- END hardening_sql
