"""The file registry: what happened to each delivered path, in ``audit``.

Every delivered path gets exactly one row in ``audit.file_loads`` (loaded, rejected,
duplicate, later superseded); failing rows go to ``audit.quarantine`` with file, line,
field, value and reason. Delivered values appear there only: never in a log line, a
reason or an exception message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql

from ingestion.load_records import STAGING_SCHEMA, RowFailure, ident, staging_table
from ingestion.schema import Feed

UNKNOWN_FEED = "unknown"  # the feed recorded for a path whose name matches no feed
COMMIT_LOCK = "warehouse:load-commit"
QUARANTINE_COLUMNS = (
    "load_id",
    "feed",
    "source_file",
    "line_number",
    "field",
    "value",
    "reason",
    "record",
)


@dataclass
class FileLoadResult:
    load_id: int
    file_name: str
    feed: str
    period: str | None
    status: str  # loaded, rejected, duplicate; "skipped" is never recorded (another run)
    rows_in: int | None = 0  # None: the file cannot be read as records (see reason)
    rows_loaded: int = 0
    rows_quarantined: int = 0
    reason: str | None = None


@dataclass
class Quarantined:
    """A file's failing rows: malformed lines (as delivered) and failing values."""

    malformed: list[tuple[int, str, str]]  # line, record text, reason
    failures: list[RowFailure]
    records: dict[int, str]  # line -> the row (JSON) for value failures


def now() -> datetime:
    return datetime.now(UTC)


def next_load_id(conn: psycopg.Connection) -> int:
    (load_id,) = conn.execute("select nextval('audit.file_loads_load_id_seq')").fetchone()
    return int(load_id)


def earlier_delivery(conn: psycopg.Connection, feed: str, sha: str) -> tuple[int, str] | None:
    """The first load of the same feed with the same content still ``loaded``, if any.

    A delivery is a duplicate only of a load whose rows are in ``raw`` (``loaded``): the
    same bytes as a rejected file (sent again under a corrected name, say) are processed
    on their own merits, and the same bytes as a superseded load are for the loader's
    revision rules (``revision_refusal``)."""
    row = conn.execute(
        """select load_id, file_name from audit.file_loads
           where sha256 = %s and feed = %s and status = 'loaded'
           order by load_id limit 1""",
        [sha, feed],
    ).fetchone()
    return (int(row[0]), str(row[1])) if row else None


def superseded_delivery(
    conn: psycopg.Connection, feed: Feed, period: str | None, sha: str
) -> int | None:
    """A load of the feed's period with the same content, superseded since, if any."""
    row = conn.execute(
        """select load_id from audit.file_loads
           where sha256 = %s and feed = %s and period is not distinct from %s
             and status = 'superseded'
           order by load_id limit 1""",
        [sha, feed.name, period],
    ).fetchone()
    return int(row[0]) if row else None


def insert_load(
    cur: psycopg.Cursor,
    result: FileLoadResult,
    sha: str | None,
    started_at: datetime,
    duplicate_of: int | None = None,
    loaded_at: datetime | None = None,
) -> None:
    cur.execute(
        """
        insert into audit.file_loads (load_id, file_name, sha256, feed, period, status, rows_in,
            rows_loaded, rows_quarantined, reason, duplicate_of, started_at, finished_at,
            loaded_at)
        values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        """,
        [
            result.load_id,
            result.file_name,
            sha,
            result.feed,
            result.period,
            result.status,
            result.rows_in,
            result.rows_loaded,
            result.rows_quarantined,
            result.reason,
            duplicate_of,
            started_at,
            now(),
            loaded_at,
        ],
    )


def record(
    conn: psycopg.Connection,
    result: FileLoadResult,
    sha: str | None,
    started_at: datetime,
    duplicate_of: int | None = None,
) -> FileLoadResult:
    """Record a file that loads nothing (rejected or duplicate) in its own transaction."""
    if result.status == "rejected":
        result.rows_loaded = 0
        result.rows_quarantined = result.rows_in or 0
    with conn.transaction(), conn.cursor() as cur:
        insert_load(cur, result, sha, started_at, duplicate_of)
    return result


def write_quarantine(
    cur: psycopg.Cursor, feed: Feed, path: Path, load_id: int, bad: Quarantined
) -> None:
    """Quarantine every failing row with its record: as delivered for a malformed line, as
    delivered or staged for a failing value."""
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in QUARANTINE_COLUMNS)
    with cur.copy(sql.SQL("copy audit.quarantine ({}) from stdin").format(cols)) as copy:
        for line, text, reason in bad.malformed:
            copy.write_row((load_id, feed.name, path.name, line, "*", None, reason, text))
        for f in sorted(bad.failures, key=lambda f: (f.line, f.field)):
            copy.write_row(
                (
                    load_id,
                    feed.name,
                    path.name,
                    f.line,
                    f.field,
                    f.value,
                    f.reason,
                    bad.records.get(f.line),
                )
            )


def write_fixes(cur: psycopg.Cursor, load_id: int, fixes: dict[tuple[str, str], int]) -> None:
    for (column, what), count in sorted(fixes.items()):
        cur.execute(
            "insert into audit.load_fixes values (%s, %s, %s, %s)",
            [load_id, column, what, count],
        )


def stamp(cur: psycopg.Cursor, table: str, name: str) -> datetime:
    """Give the staged rows their source file and load time, as of this commit (returned,
    for ``audit.file_loads.loaded_at``).

    The commits of all loads take turns (a transaction-scoped advisory lock), so the load
    time orders loads as they became visible: a row committed after a reader (an
    incremental dbt model, say) looked always carries a later ``_loaded_at`` than every
    row that reader saw, and ``loaded_at > the latest seen`` misses nothing. Adding a
    column with a constant default writes no rows.
    """
    cur.execute("select pg_advisory_xact_lock(hashtext(%s))", [COMMIT_LOCK])
    (loaded_at,) = cur.execute("select clock_timestamp()").fetchone()
    cur.execute(
        sql.SQL(
            "alter table {} add column _source_file text not null default {},"
            " add column _loaded_at timestamptz not null default {}"
        ).format(ident(STAGING_SCHEMA, table), sql.Literal(name), sql.Literal(loaded_at))
    )
    return loaded_at  # type: ignore[no-any-return]


def attach(cur: psycopg.Cursor, feed: Feed, table: str, load_id: int) -> None:
    """Move the staging table (and its chunk sub-partitions) to ``raw`` and attach it."""
    children = cur.execute(
        """select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid
           where i.inhparent = to_regclass(%s)""",
        [f'{STAGING_SCHEMA}."{table}"'],
    ).fetchall()
    for name in [table, *(child for (child,) in children)]:
        cur.execute(sql.SQL("alter table {} set schema raw").format(ident(STAGING_SCHEMA, name)))
    cur.execute(
        sql.SQL("alter table {} attach partition {} for values in ({})").format(
            ident("raw", feed.name), ident("raw", table), sql.Literal(load_id)
        )
    )


def loaded_in_period(
    conn: psycopg.Connection | psycopg.Cursor, feed: Feed, period: str | None
) -> list[int]:
    """The loads of the feed's period whose rows are in ``raw`` now (one, or none)."""
    if period is None:
        return []
    rows = conn.execute(
        """select load_id from audit.file_loads
           where feed = %s and period = %s and status = 'loaded' order by load_id""",
        [feed.name, period],
    ).fetchall()
    return [int(load_id) for (load_id,) in rows]


def newest_revision(
    conn: psycopg.Connection, feed: Feed, period: str | None
) -> tuple[int, int] | None:
    """The highest revision of the feed's period ever loaded (loaded now, or superseded
    since): its load id and revision number (``Feed.delivery_order``)."""
    if period is None:
        return None
    rows = conn.execute(
        """select load_id, file_name from audit.file_loads
           where feed = %s and period = %s and status in ('loaded', 'superseded')""",
        [feed.name, period],
    ).fetchall()
    revisions = [(feed.delivery_order(name)[1], int(load_id)) for load_id, name in rows]
    if not revisions:
        return None
    revision, load_id = max(revisions)
    return load_id, revision


def supersede_earlier(cur: psycopg.Cursor, feed: Feed, period: str | None, load_id: int) -> None:
    """A new delivery for the same feed and period replaces the earlier loaded one.

    The loader calls it only for a delivery that loads rows and is not an older revision
    than one already loaded (``revision_refusal``): an empty or all-quarantined
    re-delivery, or an old file sent again, is rejected and the period keeps its rows."""
    for old in loaded_in_period(cur, feed, period):
        if old == load_id:
            continue
        partition = sql.Identifier(staging_table(feed.name, old))
        remember_superseded_keys(cur, feed, old, load_id)
        cur.execute(
            sql.SQL("alter table raw.{} detach partition raw.{}").format(
                sql.Identifier(feed.name), partition
            )
        )
        cur.execute(sql.SQL("drop table raw.{}").format(partition))
        cur.execute(
            """update audit.file_loads set status = 'superseded', superseded_by = %s,
                   reason = coalesce(reason || '; ', '') || %s
               where load_id = %s""",
            [load_id, f"superseded by load {load_id}", old],
        )


def remember_superseded_keys(cur: psycopg.Cursor, feed: Feed, old: int, load_id: int) -> None:
    """Record the keys and ids of superseded load ``old``'s rows (``Feed.change_keys``) with the
    superseding load's ``_loaded_at``: a row the new delivery leaves out is gone from
    ``raw``, and an incremental model that looks only at the rows loaded since would keep
    what it built from it. The same time as the new rows, so a model sees both or neither.
    Also the ids of the versions of those rows that other loads still hold: staging falls
    back to one of them, and if it belongs to another offender (a correction undoing a
    move), that offender gains the row without any row of theirs being loaded."""
    keys = feed.change_keys
    if not keys:
        return
    partition = sql.Identifier(staging_table(feed.name, old))
    pairs = sql.SQL(", ").join(
        sql.SQL("({}, old.{}::text)").format(sql.Literal(k), sql.Identifier(k)) for k in keys
    )
    _record_keys(
        cur,
        feed,
        load_id,
        sql.SQL(
            "select k.key_column, k.key_value from raw.{partition} as old"
            " cross join lateral (values {pairs}) as k (key_column, key_value)"
            " where k.key_value is not null"
        ).format(partition=partition, pairs=pairs),
    )
    _remember_other_versions(cur, feed, partition, (old, load_id), load_id)


def remember_moved_keys(cur: psycopg.Cursor, feed: Feed, table: str, load_id: int) -> None:
    """Record the ids that a new version of a row no longer carries (``Feed.change_keys``
    of its earlier versions, in other loads, that differ from the new one's: a sentence
    moved to another offender), stamped with the new load's ``_loaded_at``. An incremental
    model rebuilding the offenders of the rows loaded since would otherwise rebuild only
    the new offender, and the old one would keep the sentence (or, in a fact keyed by the
    sentence, the rebuild would fail on its primary key). Called in the commit, after
    ``attach``: the new rows are ``raw.<table>``."""
    _remember_other_versions(cur, feed, sql.Identifier(table), (load_id,), load_id)


def _remember_other_versions(
    cur: psycopg.Cursor,
    feed: Feed,
    partition: sql.Identifier,
    skip_loads: tuple[int, ...],
    load_id: int,
) -> None:
    """Record, stamped with load ``load_id``'s ``_loaded_at``, the ``Feed.change_keys`` of
    the rows of ``raw.<feed>`` outside ``skip_loads`` that share their unique key with a
    row of ``raw.<partition>`` and differ from it. It reads the whole feed (no index on
    raw), so it is skipped where nothing can differ or nothing reads it: every change key
    is part of the unique key; every row of the partition is at its first version (it
    has no earlier one; the same version delivered again with other ids is a fault of the
    source, which staging settles by the later load, not looked up here); the feed has no
    version column (OASys: the models reading it rebuild each assessment and objective
    by its own key, from the rows loaded since, and none reads these ids)."""
    unique = [feed.column(name).db_name for name in feed.unique_key]
    keys = [k for k in feed.change_keys if k not in unique]
    if not keys or not unique or not feed.version_column:
        return
    later = sql.SQL("row.{} > 1").format(sql.Identifier(feed.column(feed.version_column).db_name))
    found = cur.execute(
        sql.SQL("select exists (select from raw.{} as row where {})").format(partition, later)
    ).fetchone()
    if not found or not found[0]:
        return
    triples = sql.SQL(", ").join(
        sql.SQL("({}, other.{}::text, row.{}::text)").format(
            sql.Literal(k), sql.Identifier(k), sql.Identifier(k)
        )
        for k in keys
    )
    _record_keys(
        cur,
        feed,
        load_id,
        sql.SQL(
            "select k.key_column, k.other_value from raw.{partition} as row"
            " join raw.{table} as other on {match} and other._load_id <> all({skip})"
            " and {later}"
            " cross join lateral (values {triples}) as k (key_column, other_value, value)"
            " where k.other_value is distinct from k.value and k.other_value is not null"
        ).format(
            partition=partition,
            table=sql.Identifier(feed.name),
            match=sql.SQL(" and ").join(
                sql.SQL("other.{0} = row.{0}").format(sql.Identifier(c)) for c in unique
            ),
            skip=sql.Literal(list(skip_loads)),
            later=later,
            triples=triples,
        ),
    )


def _record_keys(cur: psycopg.Cursor, feed: Feed, load_id: int, pairs: sql.Composable) -> None:
    """Record the (key column, key value) rows of query ``pairs`` in
    ``audit.superseded_keys``, stamped with the ``_loaded_at`` of load ``load_id``'s rows
    (a key recorded before takes the new time)."""
    cur.execute(
        sql.SQL(
            "insert into audit.superseded_keys (feed, key_column, key_value, superseded_at)"
            " select distinct {feed}, pairs.key_column, pairs.key_value,"
            " (select _loaded_at from raw.{table} where _load_id = {load} limit 1)"
            " from ({pairs}) as pairs (key_column, key_value)"
            " on conflict (feed, key_column, key_value)"
            " do update set superseded_at = excluded.superseded_at"
        ).format(
            feed=sql.Literal(feed.name),
            table=sql.Identifier(feed.name),
            load=sql.Literal(load_id),
            pairs=pairs,
        )
    )


def revision_refusal(
    conn: psycopg.Connection, feed: Feed, period: str | None, name: str, sha: str
) -> str | None:
    """Why the path may not supersede its period's load: a lower revision than one already
    loaded (an old file sent again after its correction), or the same revision with the
    content of a load since superseded (an uncorrected workbook sent again). The same
    revision with new content (how a workbook, named without revisions, is corrected) and
    a higher one supersede as before."""
    newest = newest_revision(conn, feed, period)
    if newest is None:
        return None
    revision = feed.delivery_order(name)[1]
    load_id, newer = newest
    if revision > newer:
        return None
    if revision == newer:
        old = superseded_delivery(conn, feed, period, sha)
        if old is None:
            return None
        return (
            f"same content (sha256) as load {old}, since superseded: not loaded, the"
            f" newer load of period {period} kept"
        )
    return (
        f"revision {revision} of period {period} is older than revision {newer}"
        f" already loaded (load {load_id}): not loaded, the newer load kept"
    )


def refuse_empty_revision(result: FileLoadResult, kept: list[int]) -> None:
    """A delivery that loads no row does not supersede its period's load (a header-only or
    all-quarantined re-delivery would empty the month): it is rejected, its failing rows
    quarantined (``rows_quarantined = rows_in``, as for every rejected file)."""
    result.status = "rejected"
    what = f"all {result.rows_in} quarantined" if result.rows_in else "no records"
    loads = ", ".join(str(k) for k in kept)
    result.reason = f"revision loads no rows ({what}): earlier load {loads} of the period kept"
