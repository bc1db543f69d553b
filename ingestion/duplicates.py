"""The in-file duplicate check: a key delivered twice in one file, found in SQL."""

from __future__ import annotations

import psycopg
from psycopg import sql

from ingestion.load_records import LINE_COLUMN, STAGING_SCHEMA, RowFailure, ident
from ingestion.schema import Feed

DUPLICATE_WORK_MEM = "256MB"  # the duplicate-key check sorts every key of a file


def duplicate_keys(conn: psycopg.Connection, feed: Feed, table: str) -> list[RowFailure]:
    """Rows whose key (with its row version) appeared earlier in the same file: the first
    line wins. Two versions of one key are not duplicates: both load, and staging keeps
    the latest (a disposal that starts and ends in one month keeps its termination)."""
    if not feed.duplicate_key:
        return []
    keys = [feed.column(k).db_name for k in feed.duplicate_key]
    names = {  # the identifiers both queries below are written with
        "keys": sql.SQL(", ").join(sql.Identifier(k) for k in keys),
        "line": sql.Identifier(LINE_COLUMN),
        "table": ident(STAGING_SCHEMA, table),
    }
    with conn.transaction():
        # grouping every key of a file: sorted in memory (keys mostly arrive in order, and
        # this measured ~40 % faster than a hash aggregate of one group per row)
        conn.execute(sql.SQL("set local work_mem = {}").format(sql.Literal(DUPLICATE_WORK_MEM)))
        conn.execute("set local enable_hashagg = off")
        # GX scans the same table at the same time: parallel workers here would only take
        # its core (measured: same wall time, three times the CPU)
        conn.execute("set local max_parallel_workers_per_gather = 0")
        # one scan: a key delivered twice needs only its first and last line; the rare
        # key seen three or more times is looked up again for all of its lines
        groups = conn.execute(
            sql.SQL(
                "select {keys}, min({line}), max({line}), count(*) from {table}"
                " where {not_null} group by {keys} having count(*) > 1"
            ).format(
                **names,
                not_null=sql.SQL(" and ").join(
                    sql.SQL("{} is not null").format(sql.Identifier(k)) for k in keys
                ),
            )
        ).fetchall()
    rows = [(*g[:-3], [g[-3], g[-2]]) for g in groups if g[-1] == 2]
    many = [tuple(g[:-3]) for g in groups if g[-1] > 2]
    if many:
        rows += conn.execute(
            sql.SQL(
                "select {keys}, array_agg({line} order by {line}) from {table}"
                " join (values {many}) as v ({keys}) using ({keys}) group by {keys}"
            ).format(
                **names,
                many=sql.SQL(", ").join(
                    sql.SQL("({})").format(sql.SQL(", ").join(sql.Literal(v) for v in key))
                    for key in many
                ),
            )
        ).fetchall()
    failures = []
    for *key, lines in rows:
        for line in lines[1:]:
            failures.append(
                RowFailure(
                    line,
                    "+".join(keys),
                    "|".join(str(v) for v in key),
                    f"duplicate key: already delivered at line {lines[0]}",
                )
            )
    return failures
