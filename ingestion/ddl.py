"""Warehouse DDL owned by ingestion: the audit schema and one raw table per feed."""

from __future__ import annotations

import hashlib

import psycopg

from ingestion.feeds import ALL_FEEDS
from ingestion.schema import raw_table_ddl

AUDIT_DDL = """
create schema if not exists audit;
create schema if not exists raw;
create schema if not exists landing;

comment on schema landing is
    'Staging tables of loads in progress (one per file); never read from here.';

create table if not exists audit.file_loads (
    load_id bigserial primary key,
    file_name text not null,
    sha256 char(64),  -- null: a path that is not a file (a directory, a symbolic link)
    feed text not null,
    period text,
    status text not null
        check (status in ('loaded', 'rejected', 'duplicate', 'superseded')),
    rows_in integer default 0,  -- null: a file that cannot be read as records (see reason)
    rows_loaded integer not null default 0,
    rows_quarantined integer not null default 0,
    reason text,
    duplicate_of bigint references audit.file_loads (load_id),
    superseded_by bigint references audit.file_loads (load_id),
    started_at timestamptz not null,
    finished_at timestamptz,
    constraint file_loads_conservation check (rows_in = rows_loaded + rows_quarantined),
    constraint file_loads_unread_has_reason
        check (rows_in is not null or (status = 'rejected' and reason is not null))
);
alter table audit.file_loads alter column sha256 drop not null;
alter table audit.file_loads alter column rows_in drop not null;
-- the rows' _loaded_at (the commit's turn): a dbt run reads the latest as the boundary
-- of the loads it sees (audit.run_watermarks, dbt_project/macros/incremental.sql)
alter table audit.file_loads add column if not exists loaded_at timestamptz;
do $backfill$
declare
    loaded_feed text;
begin
    for loaded_feed in
        select distinct feed from audit.file_loads where status = 'loaded' and loaded_at is null
    loop
        if to_regclass(format('raw.%I', loaded_feed)) is not null then
            execute format(
                'update audit.file_loads as f set loaded_at = r.loaded_at'
                ' from (select _load_id, max(_loaded_at) as loaded_at from raw.%I group by 1) as r'
                ' where f.load_id = r._load_id and f.loaded_at is null',
                loaded_feed
            );
        end if;
    end loop;
end
$backfill$;
create index if not exists file_loads_sha256_idx on audit.file_loads (sha256);
create index if not exists file_loads_feed_period_idx on audit.file_loads (feed, period);

comment on table audit.file_loads is
    'One row per delivered file: what happened to it and how many rows went where.';

create table if not exists audit.quarantine (
    quarantine_id bigserial primary key,
    load_id bigint not null references audit.file_loads (load_id)
        deferrable initially deferred,
    feed text not null,
    source_file text not null,
    line_number integer not null,
    field text not null,
    value text,
    reason text not null,
    record text
);
create index if not exists quarantine_load_idx on audit.quarantine (load_id);

comment on table audit.quarantine is
    'Rows that failed a row-level rule: one row per failing field (a row may fail several).';

create table if not exists audit.load_fixes (
    load_id bigint not null references audit.file_loads (load_id)
        deferrable initially deferred,
    field text not null,
    fix text not null,
    rows_affected integer not null,
    primary key (load_id, field, fix)
);

comment on table audit.load_fixes is
    'Harmless faults corrected on load (stray spaces, lower-case codes), counted per field.';

create table if not exists audit.superseded_keys (
    feed text not null,
    key_column text not null,
    key_value text not null,
    superseded_at timestamptz not null,
    primary key (feed, key_column, key_value)
);

comment on table audit.superseded_keys is
    'The keys and ids (never a personal column) of the rows of superseded loads, and the '
    'ids a new version of a row no longer carries (moved to another offender), with the '
    '_loaded_at of the load that superseded them: incremental models rebuild them.';
"""


def _ddl() -> str:
    return AUDIT_DDL + "".join(raw_table_ddl(feed) for feed in ALL_FEEDS)


def _is_current(conn: psycopg.Connection, digest: str) -> bool:
    if conn.execute("select to_regclass('audit.schema_version')").fetchone()[0] is None:
        return False
    found = conn.execute("select 1 from audit.schema_version where digest = %s", [digest])
    return found.fetchone() is not None


def ensure_schema(conn: psycopg.Connection) -> None:
    """Create the audit schema and every feed's raw table if missing (idempotent).

    A schema already made by this version is left alone, without a lock: the DDL's
    ``alter table`` locks ``audit.file_loads`` outright, and run beside another feed's
    load (which holds ``audit.quarantine`` and then writes ``audit.file_loads``) it
    deadlocked that load. The digest of the DDL says which version made the schema."""
    ddl = _ddl()
    digest = hashlib.sha256(ddl.encode()).hexdigest()
    with conn.transaction():
        if _is_current(conn, digest):
            return
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext('warehouse.ensure_schema'))")
        if _is_current(conn, digest):  # another run made it while this one waited
            return
        for feed in ALL_FEEDS:
            legacy = conn.execute(
                "select relkind from pg_class where oid = to_regclass(%s)", [feed.raw_table]
            ).fetchone()
            if legacy and legacy[0] != "p":
                raise RuntimeError(
                    f"{feed.raw_table} exists but is not partitioned by load (made by an "
                    "older version of this project); rebuild the local warehouse with "
                    "`make clean && make run`"
                )
        conn.execute(ddl)
        conn.execute(
            "create table if not exists audit.schema_version"
            " (digest char(64) not null, made_at timestamptz not null default now())"
        )
        conn.execute("delete from audit.schema_version")
        conn.execute("insert into audit.schema_version (digest) values (%s)", [digest])
