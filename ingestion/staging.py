"""Staging: COPY a file's chunks into PostgreSQL, parse them strictly, fix harmless faults.

A load's staging table ``landing.<feed>__<load_id>`` has the raw table's columns (line
number first) and is partitioned by line range: each chunk of the file is one table.

* The records the reader's format screen passed (``screen.py``: every typed field is
  certainly in its declared format) are COPYed straight into the chunk table's typed
  columns: one COPY row per physical line, numbered by an identity, COPY's ``WHERE``
  leaving out placeholders and the records that go the exact way.
* The exact way, for the rest: COPYed as text with their line numbers into a temporary
  table, then every typed value must be in the declared format only
  (``schema.STRICT_FORMATS``: digit counts that fit the column, plus ``pg_input_is_valid``
  for a real day or a number PostgreSQL can hold; PostgreSQL's casts alone accept
  ``03/02/2008``, ``20080215``, ``J2454512``, ``0x10``, ``1_000``, ``+5``, ``yes``, ``NaN``,
  ``Infinity`` and ``1e309``), booleans the declared texts only, text at most the declared
  number of characters; one ``insert ... select`` casts the rows in format into the chunk
  table, and one scan lists each failing value (line, field, value, reason).

Then stray spaces and lower-case codes are fixed (and counted) on the lines that can need it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql

from ingestion.load_records import LINE_COLUMN, STAGING_SCHEMA, RowFailure, ident
from ingestion.schema import STRICT_FORMATS, Column, Feed

if TYPE_CHECKING:
    from ingestion.reading import Chunk

log = logging.getLogger(__name__)

SEND_BYTES = 1 << 20
VALUE_LIMIT = 200  # characters of a failing value kept in quarantine
RECORD_LIMIT = 10_000  # characters of a failing record (as JSON) kept in quarantine
TEXT_TABLE = "_chunk_text"  # the session's temporary table a chunk is COPYed into


@dataclass
class FixCounts:
    """Harmless faults fixed, per (column, what); shared by the COPY threads."""

    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, column: str, what: str, count: int = 1) -> None:
        if count:
            with self._lock:
                self.counts[(column, what)] = self.counts.get((column, what), 0) + count


@dataclass
class Staged:
    """One chunk table in staging: its line range and the rows it holds now."""

    table: str
    first_line: int
    last_line: int
    rows: int


def create_staging(cur: psycopg.Cursor, feed: Feed, table: str, load_id: int) -> None:
    """The load's staging table: the raw table's columns, sub-partitioned by line range.

    ``_source_file`` and ``_loaded_at`` are one value for the whole file: they are added at
    commit (``registry.stamp``), as column defaults PostgreSQL keeps once in its catalog.

    The line number comes first (a partition may order its columns unlike its parent):
    the scans that look rows up by line (fixes, quarantine) then read one column of each
    row instead of unpacking every field before it (three times faster on wide feeds)."""
    cols = [sql.SQL("{} integer not null").format(sql.Identifier(LINE_COLUMN))]
    cols += [
        sql.SQL("{} {}").format(sql.Identifier(c.db_name), sql.SQL(c.pg_type)) for c in feed.columns
    ]
    cols += [
        sql.SQL("_load_id bigint not null default {} check (_load_id = {})").format(
            sql.Literal(load_id), sql.Literal(load_id)
        ),
    ]
    cur.execute(
        sql.SQL("create table {} ({}) partition by range ({})").format(
            ident(STAGING_SCHEMA, table), sql.SQL(", ").join(cols), sql.Identifier(LINE_COLUMN)
        )
    )


def drop_landing(conn: psycopg.Connection, exact: str, pattern: str) -> int:
    """Drop staging tables and sequences in ``landing`` named ``exact`` or like ``pattern``."""
    rows = conn.execute(
        """select c.relname, c.relkind from pg_class c
           join pg_namespace n on n.oid = c.relnamespace
           where n.nspname = %s and (c.relname = %s or c.relname like %s)
             and c.relkind in ('r', 'p', 'S') and not c.relispartition
           order by c.relkind = 'S'""",
        [STAGING_SCHEMA, exact, pattern],
    ).fetchall()
    for name, kind in rows:
        what = "sequence" if kind == "S" else "table"
        conn.execute(
            sql.SQL("drop {} if exists {} cascade").format(
                sql.SQL(what), ident(STAGING_SCHEMA, name)
            )
        )
    return len(rows)


def drop_stale_staging(conn: psycopg.Connection, feed: Feed) -> int:
    """Drop staging tables left by killed loads of ``feed``.

    Call it only while holding the feed's lock (taken by ``loader.load_file``): every live load
    of the feed holds that lock, so no table dropped here belongs to a running load."""
    return drop_landing(conn, feed.name, f"{feed.name}\\_\\_%")


def drop_staging(conn: psycopg.Connection, table: str) -> None:
    """Drop one load's staging table and its chunk tables."""
    try:
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.rollback()
        drop_landing(conn, table, table.replace("_", "\\_") + "\\_%")
    except psycopg.Error:  # the next load of the feed drops it
        log.warning("could not drop staging table %s.%s", STAGING_SCHEMA, table)


# -- strict parsing -------------------------------------------------------------------------
def _column(col: Column, alias: str | None = None) -> sql.Composable:
    if alias is None:
        return sql.Identifier(col.db_name)
    return sql.SQL("{}.{}").format(sql.Identifier(alias), sql.Identifier(col.db_name))


def _trimmed(col: Column, alias: str | None = None) -> sql.Composable:
    """A typed field as delivered, stray spaces ignored (spaces only: empty, null)."""
    return sql.SQL("nullif(btrim({}), '')").format(_column(col, alias))


def _valid(col: Column, alias: str | None = None) -> sql.Composable | None:
    """The condition a delivered (text) value of ``col`` meets when it may be cast."""
    value = _trimmed(col, alias)
    if col.type == "bool":
        return sql.SQL("({} is null or {} = any({}))").format(
            value, value, sql.Literal(list(col.bool_values))
        )
    if col.type in STRICT_FORMATS:
        regex, _, cast_check = STRICT_FORMATS[col.type]
        if not cast_check:
            return sql.SQL("({0} is null or {0} ~ {1})").format(value, sql.Literal(regex))
        return sql.SQL("({0} is null or ({0} ~ {1} and pg_input_is_valid({0}, {2})))").format(
            value, sql.Literal(regex), sql.Literal(col.pg_type)
        )
    if col.text_limit is not None:
        return sql.SQL("coalesce(char_length({}) <= {}, true)").format(
            _column(col, alias), sql.Literal(col.text_limit)
        )
    return None


# characters no delivered text holds: C0 controls but the line breaks (a quoted line break
# is text the reader keeps, within ``layout.MAX_RECORD_LINES``), DEL, and the
# bidirectional overrides and isolates that make text read unlike its bytes
UNSAFE_TEXT = "[\x01-\x09\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]"
UNSAFE_TEXT_REASON = "holds a control character or a bidirectional override (not text)"


def _checks(col: Column, alias: str | None = None) -> list[tuple[sql.Composable, str]]:
    """Each condition a delivered (text) value of ``col`` must meet, with its reason."""
    valid = _valid(col, alias)
    checks = [] if valid is None else [(valid, _reason(col))]
    if col.type == "text":
        safe = sql.SQL("coalesce({} !~ {}, true)").format(
            _column(col, alias), sql.Literal(UNSAFE_TEXT)
        )
        checks.append((safe, UNSAFE_TEXT_REASON))
    return checks


def _reason(col: Column) -> str:
    if col.type == "bool":
        true, false = col.bool_values
        return f"not a valid boolean ({true} or {false})"
    if col.type in STRICT_FORMATS:
        return f"not a valid {STRICT_FORMATS[col.type][1]}"
    return f"longer than the declared maximum of {col.text_limit} characters"


def _cast(col: Column) -> sql.Composable:
    if col.type == "bool":
        return sql.SQL("({} = {})").format(_trimmed(col), sql.Literal(col.bool_values[0]))
    if col.type == "text":
        return sql.Identifier(col.db_name)
    return sql.SQL("{}::{}").format(_trimmed(col), sql.SQL(col.pg_type))


class Stager:
    """COPYs chunks into staging chunk tables over one connection; fixes harmless faults."""

    def __init__(
        self, conn: psycopg.Connection, feed: Feed, table: str, header: list[str], fixes: FixCounts
    ) -> None:
        self.conn = conn
        self.feed = feed
        self.table = table
        self.header = header
        self.fixes = fixes
        self.type_failures: list[RowFailure] = []
        self.records: dict[int, str] = {}  # line -> the row as delivered (JSON) for failures
        if conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
            try:  # a chunk's text copy stays in memory (8 MB by default; a chunk ~10 MB)
                conn.execute("set temp_buffers = '64MB'")
            except psycopg.Error:  # temporary tables already used in this session
                pass
        self.checked = [(c, r) for c in feed.columns for _, r in _checks(c)]
        all_ok = [v for c in feed.columns for v, _ in _checks(c)]
        self.all_ok = sql.SQL(" and ").join(all_ok) if all_ok else sql.SQL("true")

    def stage(self, chunk: Chunk, n: int) -> Staged:
        """Stage one chunk in its own table (attached to the staging table at the end): the
        records the format screen passed by one COPY into the typed columns (each physical
        line is a COPY row numbered by an identity; placeholders and the records that go
        the exact way are left out by COPY's WHERE), then the others the exact way."""
        part = f"{self.table}_{n}"
        line = sql.Identifier(LINE_COLUMN)
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute(
                sql.SQL(
                    "create table {part} (like {parent} including defaults including constraints,"
                    " check ({line} between {first} and {last}))"
                ).format(
                    part=ident(STAGING_SCHEMA, part),
                    parent=ident(STAGING_SCHEMA, self.table),
                    line=line,
                    first=sql.Literal(chunk.first_line),
                    last=sql.Literal(chunk.last_line),
                )
            )
            cur.execute(
                sql.SQL(
                    "alter table {} alter column {} add generated by default as identity"
                    " (start with {})"
                ).format(ident(STAGING_SCHEMA, part), line, sql.Literal(chunk.first_line))
            )
            kept = self._copy(cur, ident(STAGING_SCHEMA, part), chunk)
            cur.execute(
                sql.SQL("alter table {} alter column {} drop identity").format(
                    ident(STAGING_SCHEMA, part), line
                )
            )
            if chunk.exact:
                kept += self._stage_exact(cur, part, chunk.exact)
            self._fix(cur, part, chunk.fix_lines)
        return Staged(part, chunk.first_line, chunk.last_line, kept)

    def _copy(self, cur: psycopg.Cursor, target: sql.Composable, chunk: Chunk) -> int:
        """COPY the chunk's rows (one per physical line) into ``target``; the lines of
        placeholders and of records that go the exact way are not kept."""
        left_out = sorted(chunk.placeholders + chunk.exact_lines)
        where = (
            sql.SQL(" where {} <> all({}::integer[])").format(
                sql.Identifier(LINE_COLUMN), sql.Literal(left_out)
            )
            if left_out
            else sql.SQL("")
        )
        copy_sql = sql.SQL("copy {} ({}) from stdin with (format csv){}").format(
            target, sql.SQL(", ").join(sql.Identifier(h.lower()) for h in self.header), where
        )
        with cur.copy(copy_sql) as copy:
            buf: list[bytes] = []
            size = 0
            for data in chunk.parts:
                buf.append(data)
                size += len(data)
                if size >= SEND_BYTES:
                    copy.write(b"".join(buf))
                    buf, size = [], 0
            if buf:
                copy.write(b"".join(buf))
        return cur.rowcount

    def _stage_exact(self, cur: psycopg.Cursor, part: str, rows: list[bytes]) -> int:
        """The exact way for records the screen could not pass (each prefixed by its line
        number): COPYed as text into a temporary table, then in one pass the rows whose
        every value is in its format are cast into ``part``; the others (an anti-join) are
        listed with each failing value."""
        line = sql.Identifier(LINE_COLUMN)
        text = sql.Identifier(TEXT_TABLE)
        cur.execute(
            sql.SQL("create temporary table {} ({} integer, {}) on commit drop").format(
                text,
                line,
                sql.SQL(", ").join(
                    sql.SQL("{} text").format(sql.Identifier(c.db_name)) for c in self.feed.columns
                ),
            )
        )
        columns = [line, *(sql.Identifier(h.lower()) for h in self.header)]
        with cur.copy(
            sql.SQL("copy {} ({}) from stdin with (format csv)").format(
                text, sql.SQL(", ").join(columns)
            )
        ) as copy:
            copy.write(b"".join(rows))
        cur.execute(
            sql.SQL("insert into {} ({}, {}) select {}, {} from {} where {}").format(
                ident(STAGING_SCHEMA, part),
                line,
                sql.SQL(", ").join(sql.Identifier(c.db_name) for c in self.feed.columns),
                line,
                sql.SQL(", ").join(_cast(c) for c in self.feed.columns),
                text,
                self.all_ok,
            )
        )
        kept = cur.rowcount
        self._type_failures(cur)
        return kept

    def _type_failures(self, cur: psycopg.Cursor) -> set[int]:
        """Every value not in its column's declared format in the exact way's text copy
        (a few rows: each value is checked again); their lines."""
        if not self.checked:
            return set()
        rows = cur.execute(
            sql.SQL(
                "select t.{line}, v.field, left(v.value, {vlim}), char_length(v.value), v.reason,"
                " left(row_to_json(t)::text, {rlim})"
                " from {text} as t"
                " cross join lateral (values {values}) as v (field, value, ok, reason)"
                " where not v.ok order by 1, 2"
            ).format(
                line=sql.Identifier(LINE_COLUMN),
                vlim=sql.Literal(VALUE_LIMIT),
                rlim=sql.Literal(RECORD_LIMIT),
                text=sql.Identifier(TEXT_TABLE),
                values=sql.SQL(", ").join(
                    sql.SQL("({}, t.{}, {}, {})").format(
                        sql.Literal(c.db_name),
                        sql.Identifier(c.db_name),
                        valid,
                        sql.Literal(reason),
                    )
                    for c in self.feed.columns
                    for valid, reason in _checks(c, "t")
                ),
            )
        ).fetchall()
        for line, column, value, length, reason, record in rows:
            if length is not None and length > VALUE_LIMIT:
                value = f"{value}... ({length} characters)"
            self.type_failures.append(RowFailure(line, column, value, reason))
            self.records[line] = record
        return {row[0] for row in rows}

    def remove(self, staged: Staged, lines: list[int]) -> dict[int, str]:
        """Delete quarantined lines from one chunk table; returns each deleted row as JSON."""
        with self.conn.transaction(), self.conn.cursor() as cur:
            rows = cur.execute(
                sql.SQL(
                    "delete from {} t where t.{} = any({}::integer[])"
                    " returning t.{}, row_to_json(t)::text"
                ).format(
                    ident(STAGING_SCHEMA, staged.table),
                    sql.Identifier(LINE_COLUMN),
                    sql.Literal(lines),  # a constant array: hashed, not scanned
                    sql.Identifier(LINE_COLUMN),
                )
            ).fetchall()
        staged.rows -= len(rows)
        return dict(rows)

    def _fix(self, cur: psycopg.Cursor, part: str, lines: list[int] | None) -> None:
        """Strip stray spaces from text fields and upper-case coded ones; count each fix.
        A field of spaces only is an empty field: null, as an empty one is (an optional
        code of spaces was '' before, not a code, and quarantined its row).

        ``lines``: the only lines that can need it (None: any line may)."""
        text_cols = [c for c in self.feed.columns if c.type == "text"]
        if not text_cols or lines == []:
            return
        sets, flags_space, flags_case, where = [], [], [], []
        for col in text_cols:
            name = sql.Identifier(col.db_name)
            coded = col.codes is not None or col.pattern is not None
            fixed = sql.SQL(
                "nullif(upper(btrim({})), '')" if coded else "nullif(btrim({}), '')"
            ).format(name)
            sets.append(sql.SQL("{} = {}").format(name, fixed))
            where.append(sql.SQL("{} is distinct from {}").format(name, fixed))
            flags_space.append(sql.SQL("old.{0} <> btrim(old.{0})").format(name))
            flags_case.append(
                sql.SQL("btrim(old.{0}) <> upper(btrim(old.{0}))").format(name)
                if coded
                else sql.SQL("false")
            )
        only = (
            sql.SQL("true")
            if lines is None
            else sql.SQL("{} = any({}::integer[])").format(
                sql.Identifier(LINE_COLUMN), sql.Literal(sorted(set(lines)))
            )
        )
        rows = cur.execute(
            sql.SQL("update {} set {} where {} and ({}) returning {}, {}").format(
                ident(STAGING_SCHEMA, part),
                sql.SQL(", ").join(sets),
                only,
                sql.SQL(" or ").join(where),
                sql.SQL(", ").join(flags_space),
                sql.SQL(", ").join(flags_case),
            )
        ).fetchall()
        n = len(text_cols)
        for row in rows:
            for i, col in enumerate(text_cols):
                if row[i]:
                    self.fixes.add(col.name, "stray spaces removed")
                if row[n + i]:
                    self.fixes.add(col.name, "lower-case code upper-cased")


def attach_chunks(conn: psycopg.Connection, table: str, staged: list[Staged]) -> None:
    """Chunk tables become partitions of the staging table (their CHECK spares a scan)."""
    with conn.transaction(), conn.cursor() as cur:
        for part in staged:
            cur.execute(
                sql.SQL("alter table {} attach partition {} for values from ({}) to ({})").format(
                    ident(STAGING_SCHEMA, table),
                    ident(STAGING_SCHEMA, part.table),
                    sql.Literal(part.first_line),
                    sql.Literal(part.last_line + 1),
                )
            )
