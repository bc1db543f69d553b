"""The loader: one delivered file into its raw table.

Each raw table is partitioned by load: a file's rows become visible as one partition,
attached in the same transaction that records the file in ``audit.file_loads`` and writes
its quarantine. For each file:

* its sha256 is looked up in ``audit.file_loads``: the same content again is recorded as a
  ``duplicate`` and changes nothing;
* file-level faults (empty, unreadable, not UTF-8, wrong header) reject the whole file:
  nothing is loaded, the file moves to ``rejected/`` and the reason is recorded;
* otherwise one streaming pass over the bytes checks each record's field count (malformed
  and truncated lines are quarantined), fixes harmless faults (stray spaces, lower-case
  codes: counted in ``audit.load_fixes``), prefixes the line number and COPYs the records
  into a staging table ``landing.<feed>__<load_id>`` with the raw table's types. PostgreSQL
  skips and reports each value that is not of its column's type (``ON_ERROR ignore``);
* large files are COPYed in chunks, and the Great Expectations suite validates each chunk
  in PostgreSQL while the next one is copied (two cores, two sessions);
* duplicate keys within the file are found in SQL (the first line wins);
* one transaction then quarantines every failing row (file, line, field, value, reason),
  deletes them from staging, attaches staging as the load's partition of the raw table,
  records the load and supersedes an earlier delivery for the same feed and period (its
  partition is detached and dropped);
* ``rows_in = rows_loaded + rows_quarantined`` always (a check constraint holds us to it).

A load killed at any point leaves no raw rows: an unattached staging table is dropped by
the next run, and the file stays in landing until its load commits. Memory stays flat with
file size: the pass streams bytes and keeps only the failures.
"""

from __future__ import annotations

import bisect
import csv
import hashlib
import logging
import queue
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psycopg
from psycopg import sql

from ingestion.feeds import feed_for_file
from ingestion.schema import Feed
from ingestion.validation import LINE_COLUMN, GxValidator, RowFailure, sqlalchemy_url

log = logging.getLogger(__name__)

CHUNK_ROWS = 80_000  # records per COPY (and per GX validation) in a large file
DUPLICATE_WORK_MEM = "256MB"  # the duplicate-key check sorts every key of a file
FIX_LIST_LIMIT = 5_000  # more lines than this with spaces or lower case: fix-check every row
COPY_WORKERS = 2  # chunks COPYed at once (PostgreSQL parses each COPY on one core)
READ_BYTES = 1 << 20
SEND_BYTES = 1 << 20
TYPE_NAMES = {
    "date": "date (YYYY-MM-DD)",
    "int": "whole number",
    "numeric": "number",
    "bool": "boolean (0 or 1)",
    "score": "whole number",
}
STAGING_SCHEMA = "landing"
TYPE_SKIP = re.compile(
    r'skipping row due to data type incompatibility at line (\d+) for column "(.+?)": '
    r'(?:"(.*)"|null input)$',
    re.S,
)
SKIP_TOTAL = re.compile(r"(\d+) rows? w(?:as|ere) skipped due to data type incompatibility")


class FileRejected(Exception):
    """A file-level fault: the whole file is refused."""


@dataclass
class FileLoadResult:
    load_id: int
    file_name: str
    feed: str
    period: str | None
    status: str
    rows_in: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    reason: str | None = None


@dataclass
class _Chunk:
    """Consecutive records COPYed together into one staging sub-partition."""

    first_line: int
    last_line: int = 0  # last physical line (the range is first_line..last_line)
    parts: list[bytes] = field(default_factory=list)
    records: int = 0
    placeholders: list[int] = field(default_factory=list)  # malformed or blank lines
    # lines holding a space or a lower-case letter (None: too many to list, check all)
    fix_lines: list[int] | None = field(default_factory=list)

    def may_need_fixing(self, lines: list[int] | None) -> None:
        if self.fix_lines is None or lines is None:
            self.fix_lines = None
        else:
            self.fix_lines.extend(lines)
            if len(self.fix_lines) > FIX_LIST_LIMIT:
                self.fix_lines = None

    @property
    def size(self) -> int:
        return sum(len(p) for p in self.parts)


@dataclass
class _Pass:
    """What the streaming pass learnt about a file."""

    records: int = 0  # data records read (well-formed or not)
    malformed: list[tuple[int, str, str]] = field(default_factory=list)  # line, record, reason
    fixes: dict[tuple[str, str], int] = field(default_factory=dict)
    placeholders: list[int] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fix(self, column: str, what: str, count: int = 1) -> None:
        if count:
            key = (column, what)
            with self._lock:
                self.fixes[key] = self.fixes.get(key, 0) + count


@dataclass
class _Staged:
    """One chunk table in staging: its line range and the rows it holds now."""

    table: str
    first_line: int
    last_line: int
    rows: int


@dataclass
class _Rows:
    """What ``_load_rows`` leaves for the final transaction."""

    stats: _Pass
    failures: list[RowFailure]
    bad_lines: set[int]
    records: dict[int, str]  # quarantined line -> the row as staged (JSON)
    loaded: int  # rows left in staging: they become the raw partition


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


# -- reading ------------------------------------------------------------------------------
def read_header(path: Path, feed: Feed) -> list[str]:
    """The header, normalised (stripped, upper case); rejects a file we cannot use."""
    if path.stat().st_size == 0:
        raise FileRejected("file is empty (0 bytes, no header)")
    with path.open("rb") as f:
        first = f.readline()
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileRejected(f"file is not UTF-8 text (line 1): {exc}") from exc
    header = next(csv.reader([text]), None)
    if not header or not any(h.strip() for h in header):
        raise FileRejected("file has no header line")
    normalised = [h.strip().upper() for h in header]
    expected = feed.header
    missing = [c for c in expected if c not in normalised]
    unexpected = [c for c in normalised if c not in expected]
    duplicated = sorted({c for c in normalised if normalised.count(c) > 1})
    if missing or unexpected or duplicated:
        parts = []
        if missing:
            parts.append("missing column(s) " + ", ".join(missing))
        if unexpected:
            parts.append("unexpected column(s) " + ", ".join(unexpected))
        if duplicated:
            parts.append("repeated column(s) " + ", ".join(duplicated))
        raise FileRejected(f"header does not match feed {feed.name}: " + "; ".join(parts))
    return normalised


def _blocks(path: Path) -> Iterator[tuple[int, bytes]]:
    """(first line number, bytes) blocks of whole lines after the header, each ending in \\n."""
    with path.open("rb") as f:
        f.readline()
        line = 2
        rest = b""
        while True:
            data = f.read(READ_BYTES)
            if not data:
                break
            data = rest + data
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                rest = data
                continue
            block, rest = data[:cut], data[cut:]
            yield line, block
            line += block.count(b"\n")
        if rest:
            yield line, rest + b"\n"


def _malformed(width: int, found: int) -> str:
    return f"expected {width} fields, found {found} (truncated or malformed line)"


def _chunks(path: Path, width: int, stats: _Pass, chunk_rows: int) -> Iterator[_Chunk]:
    """Chunks of COPY-ready bytes, one physical line per record, in file order.

    Field counts are checked on whole blocks with numpy (a comma count per line); a block
    holding a quote character goes line by line through the csv module instead, since
    quoted fields may hold commas and newlines. A malformed or blank line is replaced by an
    all-empty placeholder record (deleted after COPY), so each record's position in its
    chunk gives its line number. A record spanning several lines ends its chunk.
    """
    placeholder = b"," * (width - 1) + b"\n"
    chunk = _Chunk(first_line=2)

    def bad(line: int, text: bytes, reason: str | None) -> None:
        chunk.placeholders.append(line)
        if reason is not None:
            stats.records += 1
            stats.malformed.append((line, text.decode("utf-8", "replace").rstrip("\r\n"), reason))

    for first, block in _blocks(path):
        if b'"' not in block:
            arr = np.frombuffer(block, dtype=np.uint8)
            ends = np.flatnonzero(arr == 10)
            commas = np.searchsorted(np.flatnonzero(arr == 44), ends)
            per_line = np.diff(commas, prepend=0)
            wrong = np.flatnonzero(per_line != width - 1)
            n = len(ends)
            odd = np.flatnonzero((arr == 32) | (arr == 9) | ((arr >= 97) & (arr <= 122)))
            if len(odd):
                odd_lines = np.unique(np.searchsorted(ends, odd)) + first
                chunk.may_need_fixing(
                    odd_lines.tolist() if len(odd_lines) <= FIX_LIST_LIMIT else None
                )
            if len(wrong) == 0:
                chunk.parts.append(block)
            else:
                starts = np.concatenate(([0], ends[:-1] + 1))
                pos = 0
                for i in wrong.tolist():
                    s, e = int(starts[i]), int(ends[i]) + 1
                    chunk.parts.append(block[pos:s])
                    text = block[s:e]
                    if text.strip():
                        found = int(per_line[i]) + 1
                        bad(first + i, text, _malformed(width, found))
                    else:
                        bad(first + i, text, None)
                    chunk.parts.append(placeholder)
                    pos = e
                chunk.parts.append(block[pos:])
            stats.records += n - len(wrong)
            chunk.records += n
            chunk.last_line = first + n - 1
        else:
            chunk.may_need_fixing(None)
            line = first
            lines = block.splitlines(keepends=True)
            i = 0
            while i < len(lines):
                text = lines[i]
                span = 1
                while text.count(b'"') % 2 and i + span < len(lines):
                    text += lines[i + span]
                    span += 1
                if text.count(b'"') % 2:  # unterminated quote at the end of the file
                    bad(line, text, "unterminated quoted field (truncated or malformed line)")
                    chunk.parts.append(placeholder)
                    chunk.records += 1
                elif not text.strip():
                    bad(line, text, None)
                    chunk.parts.append(placeholder)
                    chunk.records += 1
                else:
                    fields = next(csv.reader([text.decode("utf-8", "replace")]), [])
                    if len(fields) != width:
                        bad(line, text, _malformed(width, len(fields)))
                        chunk.parts.append(placeholder)
                    else:
                        stats.records += 1
                        chunk.parts.append(text)
                    chunk.records += 1
                chunk.last_line = line + span - 1
                line += span
                i += span
                if span > 1:  # line numbers and record positions part here
                    yield chunk
                    chunk = _Chunk(first_line=line, fix_lines=None)
        if chunk.records >= chunk_rows:
            yield chunk
            chunk = _Chunk(first_line=chunk.last_line + 1)
    if chunk.records:
        yield chunk


# -- staging ------------------------------------------------------------------------------
def staging_table(feed: Feed, load_id: int) -> str:
    return f"{feed.name}__{load_id}"


def _ident(schema: str, table: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))


def _create_staging(cur: psycopg.Cursor, feed: Feed, table: str, load_id: int) -> None:
    """The load's staging table: the raw table's columns, sub-partitioned by line range.

    ``_source_file`` and ``_loaded_at`` are one value for the whole file: they are added at
    commit (``_stamp``), as column defaults PostgreSQL keeps once in its catalog rather
    than on every row.

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
            _ident(STAGING_SCHEMA, table), sql.SQL(", ").join(cols), sql.Identifier(LINE_COLUMN)
        )
    )


def _drop_landing(conn: psycopg.Connection, exact: str, pattern: str) -> int:
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
                sql.SQL(what), _ident(STAGING_SCHEMA, name)
            )
        )
    return len(rows)


def drop_stale_staging(conn: psycopg.Connection, feed: Feed) -> int:
    """Drop staging tables left by killed loads of ``feed`` (never attached)."""
    return _drop_landing(conn, feed.name, f"{feed.name}\\_\\_%")


class _Stager:
    """COPYs chunks into staging chunk tables over one connection; fixes harmless faults."""

    def __init__(
        self, conn: psycopg.Connection, feed: Feed, table: str, header: list[str], stats: _Pass
    ) -> None:
        self.conn = conn
        self.feed = feed
        self.table = table
        self.header = header
        self.stats = stats
        self.type_failures: list[RowFailure] = []
        self.skipped_reported = 0
        self._chunk_first = 0
        conn.add_notice_handler(self.on_notice)

    def close(self) -> None:
        self.conn.remove_notice_handler(self.on_notice)

    def on_notice(self, diag: psycopg.errors.Diagnostic) -> None:
        message = diag.message_primary or ""
        match = TYPE_SKIP.match(message)
        if match:
            copy_line, column, value = match.groups()
            line = self._chunk_first + int(copy_line) - 1
            self.type_failures.append(
                RowFailure(line, column, value, f"not a valid {self._type_of(column)}")
            )
            return
        total = SKIP_TOTAL.search(message)
        if total:
            self.skipped_reported += int(total.group(1))

    def _type_of(self, column: str) -> str:
        for col in self.feed.columns:
            if col.db_name == column:
                return TYPE_NAMES.get(col.type, col.type)
        return "value"

    def stage(self, chunk: _Chunk, n: int) -> str:
        """COPY one chunk into its own table (attached to the staging table at the end)."""
        part = f"{self.table}_{n}"
        seq = f"{part}_line"
        columns = [h.lower() for h in self.header]
        self._chunk_first = chunk.first_line
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute(
                sql.SQL("create sequence {} start with {} cache 10000").format(
                    _ident(STAGING_SCHEMA, seq), sql.Literal(chunk.first_line)
                )
            )
            cur.execute(
                sql.SQL(
                    "create table {part} (like {parent} including defaults including constraints,"
                    " check ({line} between {first} and {last}))"
                ).format(
                    part=_ident(STAGING_SCHEMA, part),
                    parent=_ident(STAGING_SCHEMA, self.table),
                    line=sql.Identifier(LINE_COLUMN),
                    first=sql.Literal(chunk.first_line),
                    last=sql.Literal(chunk.last_line),
                )
            )
            cur.execute(
                sql.SQL("alter table {} alter column {} set default nextval({})").format(
                    _ident(STAGING_SCHEMA, part),
                    sql.Identifier(LINE_COLUMN),
                    sql.Literal(f"{STAGING_SCHEMA}.{seq}"),
                )
            )
            copy_sql = sql.SQL(
                "copy {} ({}) from stdin with (format csv, on_error ignore, log_verbosity verbose)"
            ).format(
                _ident(STAGING_SCHEMA, part),
                sql.SQL(", ").join(sql.Identifier(c) for c in columns),
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
            kept = cur.rowcount  # COPY's own count: rows written (badly typed rows skipped)
            cur.execute(
                sql.SQL("alter table {} alter column {} drop default").format(
                    _ident(STAGING_SCHEMA, part), sql.Identifier(LINE_COLUMN)
                )
            )
            cur.execute(sql.SQL("drop sequence {}").format(_ident(STAGING_SCHEMA, seq)))
            if chunk.placeholders:
                cur.execute(
                    sql.SQL("delete from {} where {} = any(%s)").format(
                        _ident(STAGING_SCHEMA, part), sql.Identifier(LINE_COLUMN)
                    ),
                    [chunk.placeholders],
                )
                kept -= cur.rowcount
            self._fix(cur, part, chunk.fix_lines)
        return _Staged(part, chunk.first_line, chunk.last_line, kept)

    def remove(self, staged: _Staged, lines: list[int]) -> dict[int, str]:
        """Delete quarantined lines from one chunk table; returns each deleted row as JSON."""
        with self.conn.transaction(), self.conn.cursor() as cur:
            rows = cur.execute(
                sql.SQL(
                    "delete from {} t where t.{} = any({}::integer[])"
                    " returning t.{}, row_to_json(t)::text"
                ).format(
                    _ident(STAGING_SCHEMA, staged.table),
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
            ident = sql.Identifier(col.db_name)
            coded = col.codes is not None or col.pattern is not None
            fixed = sql.SQL(
                "nullif(upper(btrim({})), '')" if coded else "nullif(btrim({}), '')"
            ).format(ident)
            sets.append(sql.SQL("{} = {}").format(ident, fixed))
            where.append(sql.SQL("{} is distinct from {}").format(ident, fixed))
            flags_space.append(sql.SQL("old.{0} <> btrim(old.{0})").format(ident))
            flags_case.append(
                sql.SQL("btrim(old.{0}) <> upper(btrim(old.{0}))").format(ident)
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
                _ident(STAGING_SCHEMA, part),
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
                    self.stats.fix(col.name, "stray spaces removed")
                if row[n + i]:
                    self.stats.fix(col.name, "lower-case code upper-cased")


def _second_connection(conn: psycopg.Connection) -> psycopg.Connection:
    params = conn.info.get_parameters()
    return psycopg.connect(**params, password=conn.info.password, autocommit=True)


def _balanced_chunk_rows(path: Path, chunk_rows: int) -> int:
    """Records per chunk so that the chunks share out evenly over the COPY workers.

    A file of a little over two chunks would otherwise COPY its last chunk alone while the
    other worker idles. The record count is estimated from the first block's line length.
    """
    size = path.stat().st_size
    with path.open("rb") as f:
        sample = f.read(1 << 20)
    lines = max(sample.count(b"\n"), 1)
    estimate = size * lines // max(len(sample), 1)
    if estimate <= chunk_rows:
        return chunk_rows
    rounds = -(-estimate // (chunk_rows * COPY_WORKERS))
    # 3 % slack, so an estimate on the low side does not leave a sliver of a chunk
    return -(-estimate * 103 // (rounds * COPY_WORKERS * 100))


def _load_rows(
    conn: psycopg.Connection,
    feed: Feed,
    path: Path,
    table: str,
    header: list[str],
    validator: GxValidator,
    chunk_rows: int,
) -> _Rows:
    """COPY the file into staging chunk tables, two at a time (a second connection opens
    for files of more than one chunk), attach them to the staging table, validate it with
    GX, then delete the failing rows from the chunk tables (again two at a time)."""
    stats = _Pass()
    stagers: list[_Stager] = [_Stager(conn, feed, table, header, stats)]
    idle: queue.Queue[_Stager] = queue.Queue()
    idle.put(stagers[0])
    extra: list[psycopg.Connection] = []
    parts: list[Future[_Staged]] = []

    def on_a_free_connection(work: Callable[[_Stager], object]) -> object:
        stager = idle.get()
        try:
            return work(stager)
        finally:
            idle.put(stager)

    try:
        with (
            ThreadPoolExecutor(max_workers=COPY_WORKERS, thread_name_prefix="copy") as copy_pool,
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="gx") as gx_pool,
        ):
            chunks = _chunks(path, len(header), stats, _balanced_chunk_rows(path, chunk_rows))
            for n, chunk in enumerate(chunks, start=1):
                if n == 2 and COPY_WORKERS > 1:
                    extra.append(_second_connection(conn))
                    stagers.append(_Stager(extra[-1], feed, table, header, stats))
                    idle.put(stagers[-1])
                while sum(not f.done() for f in parts) >= COPY_WORKERS + 1:
                    wait([f for f in parts if not f.done()], return_when=FIRST_COMPLETED)
                parts.append(
                    copy_pool.submit(on_a_free_connection, lambda st, c=chunk, n=n: st.stage(c, n))
                )
            staged = [f.result() for f in parts]
            _attach_chunks(conn, table, staged)
            # GX on the whole file (its cost is mostly per call) while keys are checked
            gx_job = gx_pool.submit(validator.validate, STAGING_SCHEMA, table)
            failures = _duplicate_keys(conn, feed, table)
            failures += gx_job.result()
            reported = sum(s.skipped_reported for s in stagers)
            type_failures = [f for s in stagers for f in s.type_failures]
            if reported != len(type_failures):
                raise RuntimeError(
                    f"{path.name}: PostgreSQL skipped {reported} row(s) but reported "
                    f"{len(type_failures)}; the loader needs English server messages "
                    "(lc_messages = 'C' or 'en_*')"
                )
            failures += type_failures
            bad_lines = {line for line, _, _ in stats.malformed} | {f.line for f in failures}
            records: dict[int, str] = {}
            removals = [
                copy_pool.submit(on_a_free_connection, lambda st, p=part, b=lines: st.remove(p, b))
                for part, lines in _lines_by_chunk(staged, bad_lines)
            ]
            for removal in removals:
                records.update(removal.result())
    finally:
        for stager in stagers:
            stager.close()
        for extra_conn in extra:
            extra_conn.close()
    return _Rows(stats, failures, bad_lines, records, sum(part.rows for part in staged))


def _lines_by_chunk(staged: list[_Staged], lines: set[int]) -> list[tuple[_Staged, list[int]]]:
    """The given lines, sorted, grouped by the chunk table whose range holds them."""
    ordered = sorted(lines)
    groups = []
    for part in staged:
        low = bisect.bisect_left(ordered, part.first_line)
        high = bisect.bisect_right(ordered, part.last_line)
        if high > low:
            groups.append((part, ordered[low:high]))
    return groups


def _attach_chunks(conn: psycopg.Connection, table: str, staged: list[_Staged]) -> None:
    """Chunk tables become partitions of the staging table (their CHECK spares a scan)."""
    with conn.transaction(), conn.cursor() as cur:
        for part in staged:
            cur.execute(
                sql.SQL("alter table {} attach partition {} for values from ({}) to ({})").format(
                    _ident(STAGING_SCHEMA, table),
                    _ident(STAGING_SCHEMA, part.table),
                    sql.Literal(part.first_line),
                    sql.Literal(part.last_line + 1),
                )
            )


def _duplicate_keys(conn: psycopg.Connection, feed: Feed, table: str) -> list[RowFailure]:
    """Rows whose unique key appeared earlier in the same file: the first line wins."""
    if not feed.unique_key:
        return []
    keys = [feed.column(k).db_name for k in feed.unique_key]
    names = {  # the identifiers both queries below are written with
        "keys": sql.SQL(", ").join(sql.Identifier(k) for k in keys),
        "line": sql.Identifier(LINE_COLUMN),
        "table": _ident(STAGING_SCHEMA, table),
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


# -- the registry -------------------------------------------------------------------------
def _insert_load(
    cur: psycopg.Cursor, result: FileLoadResult, sha: str, started_at: datetime, **extra: object
) -> None:
    cur.execute(
        """
        insert into audit.file_loads (load_id, file_name, sha256, feed, period, status, rows_in,
            rows_loaded, rows_quarantined, reason, duplicate_of, started_at, finished_at)
        values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
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
            extra.get("duplicate_of"),
            started_at,
            _now(),
        ],
    )


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


def _write_quarantine(
    cur: psycopg.Cursor, feed: Feed, path: Path, load_id: int, rows: _Rows
) -> None:
    """Quarantine every failing row with its record: as delivered for a malformed line, as
    staged for a failure found after COPY (a badly typed value was never staged)."""
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in QUARANTINE_COLUMNS)
    with cur.copy(sql.SQL("copy audit.quarantine ({}) from stdin").format(cols)) as copy:
        for line, record, reason in rows.stats.malformed:
            copy.write_row((load_id, feed.name, path.name, line, "*", None, reason, record))
        for f in sorted(rows.failures, key=lambda f: (f.line, f.field)):
            copy.write_row(
                (
                    load_id,
                    feed.name,
                    path.name,
                    f.line,
                    f.field,
                    f.value,
                    f.reason,
                    rows.records.get(f.line),
                )
            )


COMMIT_LOCK = "warehouse:load-commit"


def _stamp(cur: psycopg.Cursor, table: str, name: str) -> None:
    """Give the staged rows their source file and load time, as of this commit.

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
        ).format(_ident(STAGING_SCHEMA, table), sql.Literal(name), sql.Literal(loaded_at))
    )


def _attach(cur: psycopg.Cursor, feed: Feed, table: str, load_id: int) -> None:
    """Move the staging table (and its chunk sub-partitions) to ``raw`` and attach it."""
    children = cur.execute(
        """select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid
           where i.inhparent = to_regclass(%s)""",
        [f'{STAGING_SCHEMA}."{table}"'],
    ).fetchall()
    for name in [table, *(child for (child,) in children)]:
        cur.execute(sql.SQL("alter table {} set schema raw").format(_ident(STAGING_SCHEMA, name)))
    cur.execute(
        sql.SQL("alter table {} attach partition {} for values in ({})").format(
            _ident("raw", feed.name), _ident("raw", table), sql.Literal(load_id)
        )
    )


def _move(path: Path, folder: str) -> None:
    target = path.parent / folder
    target.mkdir(exist_ok=True)
    shutil.move(str(path), str(target / path.name))


def load_file(
    conn: psycopg.Connection,
    path: Path,
    feed: Feed | None = None,
    *,
    chunk_rows: int = CHUNK_ROWS,
    move: bool = True,
    validator: GxValidator | None = None,
    after_copy: Callable[[], None] | None = None,
) -> FileLoadResult:
    """Load one file; returns what happened. Never raises for bad data, only for bad systems.

    ``conn`` must be in autocommit mode: the load commits its staging steps separately and
    makes the result visible in one final transaction.
    """
    feed = feed or feed_for_file(path.name)
    if feed is None:
        raise ValueError(f"{path}: file name matches no known feed")
    if not conn.autocommit:
        raise ValueError("load_file needs a connection in autocommit mode")
    started_at = _now()
    sha = sha256_of(path)
    period = feed.period_of(path.name)
    lock = f"feed:{feed.name}"
    conn.execute("select pg_advisory_lock(hashtext(%s))", [lock])
    try:
        result = _load_locked(
            conn, path, feed, sha, period, started_at, chunk_rows, validator, after_copy
        )
    finally:
        conn.execute("select pg_advisory_unlock(hashtext(%s))", [lock])
    if move:
        _move(path, "rejected" if result.status == "rejected" else "processed")
    log.info(
        "%s: %s (in %d, loaded %d, quarantined %d)",
        path.name,
        result.status,
        result.rows_in,
        result.rows_loaded,
        result.rows_quarantined,
    )
    return result


def _load_locked(
    conn: psycopg.Connection,
    path: Path,
    feed: Feed,
    sha: str,
    period: str | None,
    started_at: datetime,
    chunk_rows: int,
    validator: GxValidator | None,
    after_copy: Callable[[], None] | None,
) -> FileLoadResult:
    (load_id,) = conn.execute("select nextval('audit.file_loads_load_id_seq')").fetchone()
    result = FileLoadResult(load_id, path.name, feed.name, period, "loaded")
    earlier = conn.execute(
        """select load_id, file_name from audit.file_loads
           where sha256 = %s and status <> 'duplicate' order by load_id limit 1""",
        [sha],
    ).fetchone()
    if earlier:
        result.status = "duplicate"
        result.reason = f"same content (sha256) as load {earlier[0]} ({earlier[1]})"
        with conn.transaction(), conn.cursor() as cur:
            _insert_load(cur, result, sha, started_at, duplicate_of=earlier[0])
        return result
    with tempfile.TemporaryDirectory(prefix="load-") as tmp:
        try:
            source = _as_csv(path, feed, Path(tmp))
            header = read_header(source, feed)
        except FileRejected as exc:
            return _reject(conn, result, path, sha, started_at, str(exc))
        return _load_source(
            conn,
            path,
            source,
            feed,
            sha,
            header,
            result,
            started_at,
            chunk_rows,
            validator,
            after_copy,
            period,
        )


def _as_csv(path: Path, feed: Feed, tmp: Path) -> Path:
    """The file to read as CSV: itself, or its first sheet written out (finance workbooks).

    Sheet row numbers are kept, so quarantine line numbers are spreadsheet row numbers.
    """
    if feed.file_format != "xlsx":
        return path
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zip, XML or format errors: the workbook cannot be read
        raise FileRejected(f"workbook cannot be read: {type(exc).__name__}: {exc}") from exc
    try:
        sheet = book.worksheets[0]
        target = tmp / (path.stem + ".csv")
        with target.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, lineterminator="\n")
            for row in sheet.iter_rows(values_only=True):
                writer.writerow(["" if v is None else _cell_text(v) for v in row])
    finally:
        book.close()
    if target.stat().st_size == 0:
        raise FileRejected("workbook's first sheet is empty (no header)")
    return target


def _cell_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat()
    return str(value)


def _load_source(
    conn: psycopg.Connection,
    path: Path,
    source: Path,
    feed: Feed,
    sha: str,
    header: list[str],
    result: FileLoadResult,
    started_at: datetime,
    chunk_rows: int,
    validator: GxValidator | None,
    after_copy: Callable[[], None] | None,
    period: str | None,
) -> FileLoadResult:
    load_id = result.load_id
    table = staging_table(feed, load_id)
    with conn.transaction(), conn.cursor() as cur:
        _create_staging(cur, feed, table, load_id)
    try:
        try:
            rows = _load_rows(
                conn,
                feed,
                source,
                table,
                header,
                validator or GxValidator(feed, sqlalchemy_url(conn)),
                chunk_rows,
            )
        except (psycopg.errors.CharacterNotInRepertoire, psycopg.errors.BadCopyFileFormat) as exc:
            detail = str(exc).strip().splitlines()[0]
            raise FileRejected(f"file cannot be read: {detail}") from exc
        with conn.transaction(), conn.cursor() as cur:
            _write_quarantine(cur, feed, path, load_id, rows)
            _stamp(cur, table, path.name)
            _attach(cur, feed, table, load_id)
            if after_copy:
                after_copy()
            # rows loaded: PostgreSQL's own counts (COPY's, less the rows deleted since)
            result.rows_in = rows.stats.records
            result.rows_loaded = rows.loaded
            result.rows_quarantined = len(rows.bad_lines)
            if result.rows_in != result.rows_loaded + result.rows_quarantined:
                raise RuntimeError(
                    f"{path.name}: {result.rows_in} records read but {rows.loaded} loaded and "
                    f"{len(rows.bad_lines)} quarantined; refusing to commit"
                )
            if rows.bad_lines:
                result.reason = f"{len(rows.bad_lines)} row(s) quarantined"
            _insert_load(cur, result, sha, started_at)
            for (column, what), count in sorted(rows.stats.fixes.items()):
                cur.execute(
                    "insert into audit.load_fixes values (%s, %s, %s, %s)",
                    [load_id, column, what, count],
                )
            _supersede_earlier(cur, feed, period, load_id)
    except FileRejected as exc:
        _drop_staging(conn, table)
        return _reject(conn, result, path, sha, started_at, str(exc))
    except BaseException:
        _drop_staging(conn, table)
        raise
    return result


def _drop_staging(conn: psycopg.Connection, table: str) -> None:
    """Drop one load's staging table, chunk tables and sequences."""
    try:
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.rollback()
        _drop_landing(conn, table, table.replace("_", "\\_") + "\\_%")
    except psycopg.Error:  # the next run drops it
        log.warning("could not drop staging table %s.%s", STAGING_SCHEMA, table)


def _reject(
    conn: psycopg.Connection,
    result: FileLoadResult,
    path: Path,
    sha: str,
    started_at: datetime,
    reason: str,
) -> FileLoadResult:
    result.status = "rejected"
    result.reason = reason
    result.rows_in = result.rows_quarantined = _count_data_lines(path)
    result.rows_loaded = 0
    with conn.transaction(), conn.cursor() as cur:
        _insert_load(cur, result, sha, started_at)
    return result


def _count_data_lines(path: Path) -> int:
    """Rows in a rejected file (non-blank lines after the header), so conservation holds."""
    try:
        with path.open("rb") as f:
            lines = sum(1 for line in f if line.strip())
    except OSError:
        return 0
    return max(lines - 1, 0)


def _supersede_earlier(cur: psycopg.Cursor, feed: Feed, period: str | None, load_id: int) -> None:
    """A new delivery for the same feed and period replaces the earlier loaded one."""
    if period is None:
        return
    rows = cur.execute(
        """select load_id from audit.file_loads
           where feed = %s and period = %s and status = 'loaded' and load_id <> %s""",
        [feed.name, period, load_id],
    ).fetchall()
    for (old,) in rows:
        partition = sql.Identifier(staging_table(feed, old))
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
