"""The loader: one delivered file into its raw table, in one transaction.

For each file:

* its sha256 is looked up in ``audit.file_loads``: the same content again is recorded as a
  ``duplicate`` and changes nothing;
* file-level faults (empty, unreadable, wrong header) reject the whole file: nothing is
  loaded, the file moves to ``rejected/`` and the reason is recorded;
* otherwise rows stream through in chunks: structural check (field count), harmless fixes
  (stray spaces, lower-case codes: counted in ``audit.load_fixes``), type parsing, the GX
  suite, duplicate keys. Good rows are COPYed into the raw table with lineage columns; bad
  rows go to ``audit.quarantine`` with line, field, value and reason;
* a corrected re-delivery of the same feed and period supersedes the earlier load (its raw
  rows are removed in the same transaction);
* ``rows_in = rows_loaded + rows_quarantined`` always (a check constraint holds us to it).

Memory stays flat with file size: only one chunk and the set of keys seen are held.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import psycopg

from ingestion.feeds import feed_for_file
from ingestion.schema import LINEAGE_COLUMNS, Feed
from ingestion.validation import GxValidator, RowFailure, parse_chunk

log = logging.getLogger(__name__)

CHUNK_ROWS = 50_000


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
class _Tally:
    rows_in: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    fixes: dict[tuple[str, str], int] = field(default_factory=dict)

    def fix(self, column: str, what: str, count: int) -> None:
        if count:
            self.fixes[(column, what)] = self.fixes.get((column, what), 0) + count


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


# -- reading ------------------------------------------------------------------------------
def _read_header(path: Path, feed: Feed) -> tuple[list[str], list[str]]:
    """The header as delivered and as normalised; rejects a file we cannot use."""
    if path.stat().st_size == 0:
        raise FileRejected("file is empty (0 bytes, no header)")
    try:
        with path.open(newline="", encoding="utf-8") as f:
            header = next(csv.reader(f), None)
    except UnicodeDecodeError as exc:
        raise FileRejected(f"file is not UTF-8 text: {exc}") from exc
    if not header:
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
    return header, normalised


def _chunks(
    path: Path, width: int, chunk_rows: int
) -> Iterator[tuple[list[int], list[list[str]], list[tuple[int, list[str]]]]]:
    """(line numbers, well-formed rows, malformed rows with their line) per chunk."""
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        lines: list[int] = []
        rows: list[list[str]] = []
        bad: list[tuple[int, list[str]]] = []
        start = reader.line_num + 1
        try:
            for record in reader:
                line = start
                start = reader.line_num + 1
                if not record:  # a blank line is no row
                    continue
                if len(record) != width:
                    bad.append((line, record))
                else:
                    lines.append(line)
                    rows.append(record)
                if len(rows) + len(bad) >= chunk_rows:
                    yield lines, rows, bad
                    lines, rows, bad = [], [], []
        except csv.Error as exc:  # e.g. a quote left open by a truncated last line
            bad.append((start, [f"<unparseable: {exc}>"]))
        except UnicodeDecodeError as exc:
            raise FileRejected(f"file is not UTF-8 text after line {start - 1}: {exc}") from exc
        if rows or bad:
            yield lines, rows, bad


# -- one chunk ----------------------------------------------------------------------------
def _clean(feed: Feed, frame: pd.DataFrame, tally: _Tally) -> pd.DataFrame:
    """Strip stray spaces, upper-case coded values, empty -> missing; count each fix."""
    for col in feed.columns:
        text = frame[col.name]
        stripped = text.str.strip()
        tally.fix(col.name, "stray spaces removed", int((stripped != text).sum()))
        if col.codes is not None or col.pattern is not None:
            upper = stripped.str.upper()
            tally.fix(col.name, "lower-case code upper-cased", int((upper != stripped).sum()))
            stripped = upper
        frame[col.name] = stripped.where(stripped != "", None)
    return frame


def _key_failures(
    feed: Feed, frame: pd.DataFrame, lines: list[int], seen: dict[tuple, int], bad: set[int]
) -> list[RowFailure]:
    """Rows whose unique key already appeared (earlier in the file): the first one wins."""
    if not feed.unique_key:
        return []
    failures = []
    keys = frame[list(feed.unique_key)].itertuples(index=True, name=None)
    for idx, *key in keys:
        if idx in bad:
            continue
        k = tuple(key)
        if k in seen:
            failures.append(
                RowFailure(
                    idx,
                    "+".join(feed.unique_key),
                    "|".join(str(v) for v in k),
                    f"duplicate key: already delivered at line {seen[k]}",
                )
            )
        else:
            seen[k] = lines[idx]
    return failures


def _copy_frame(cur: psycopg.Cursor, table: str, columns: list[str], frame: pd.DataFrame) -> None:
    if frame.empty:
        return
    buf = io.StringIO()
    frame.to_csv(buf, header=False, index=False, na_rep="")
    cols = ", ".join(columns)
    with cur.copy(f"copy {table} ({cols}) from stdin with (format csv)") as copy:
        copy.write(buf.getvalue())


QUARANTINE_COLUMNS = [
    "load_id",
    "feed",
    "source_file",
    "line_number",
    "field",
    "value",
    "reason",
    "record",
]


def _load_rows(
    cur: psycopg.Cursor,
    feed: Feed,
    path: Path,
    load_id: int,
    loaded_at: datetime,
    validator: GxValidator,
    chunk_rows: int,
) -> _Tally:
    tally = _Tally()
    _, normalised = _read_header(path, feed)
    order = [normalised.index(name) for name in feed.header]
    raw_columns = [c.db_name for c in feed.columns] + [name for name, _ in LINEAGE_COLUMNS]
    seen: dict[tuple, int] = {}
    for lines, rows, malformed in _chunks(path, len(normalised), chunk_rows):
        tally.rows_in += len(rows) + len(malformed)
        quarantine: list[list[object]] = []
        for line, record in malformed:
            quarantine.append(
                [
                    load_id,
                    feed.name,
                    path.name,
                    line,
                    "*",
                    None,
                    f"expected {len(normalised)} fields, found {len(record)} "
                    "(truncated or malformed line)",
                    ",".join(record),
                ]
            )
        tally.rows_quarantined += len(malformed)
        if rows:
            frame = pd.DataFrame([[r[i] for i in order] for r in rows], columns=feed.header)
            frame = _clean(feed, frame, tally)
            typed, failures = parse_chunk(feed, frame)
            failures += validator.validate(typed, frame)
            bad_rows = {f.index for f in failures}
            failures += _key_failures(feed, frame, lines, seen, bad_rows)
            bad_rows = {f.index for f in failures}
            for f in sorted(failures, key=lambda f: (f.index, f.field)):
                quarantine.append(
                    [
                        load_id,
                        feed.name,
                        path.name,
                        lines[f.index],
                        f.field,
                        f.value,
                        f.reason,
                        ",".join(rows[f.index]),
                    ]
                )
            good = frame.drop(index=sorted(bad_rows))
            good["_load_id"] = load_id
            good["_source_file"] = path.name
            good["_line_number"] = [lines[i] for i in good.index]
            good["_loaded_at"] = loaded_at.isoformat()
            _copy_frame(cur, feed.raw_table, raw_columns, good)
            tally.rows_loaded += len(good)
            tally.rows_quarantined += len(bad_rows)
        if quarantine:
            _copy_frame(
                cur,
                "audit.quarantine",
                QUARANTINE_COLUMNS,
                pd.DataFrame(quarantine, columns=QUARANTINE_COLUMNS),
            )
    return tally


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
    """Load one file; returns what happened. Never raises for bad data, only for bad systems."""
    feed = feed or feed_for_file(path.name)
    if feed is None:
        raise ValueError(f"{path}: file name matches no known feed")
    started_at = _now()
    sha = sha256_of(path)
    period = feed.period_of(path.name)
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("select pg_advisory_xact_lock(hashtext(%s))", [f"feed:{feed.name}"])
        (load_id,) = cur.execute("select nextval('audit.file_loads_load_id_seq')").fetchone()
        result = FileLoadResult(load_id, path.name, feed.name, period, "loaded")
        earlier = cur.execute(
            """select load_id, file_name from audit.file_loads
               where sha256 = %s and status <> 'duplicate' order by load_id limit 1""",
            [sha],
        ).fetchone()
        if earlier:
            result.status = "duplicate"
            result.reason = f"same content (sha256) as load {earlier[0]} ({earlier[1]})"
            _insert_load(cur, result, sha, started_at, duplicate_of=earlier[0])
        else:
            try:
                tally = _load_rows(
                    cur,
                    feed,
                    path,
                    load_id,
                    started_at,
                    validator or GxValidator(feed),
                    chunk_rows,
                )
            except FileRejected as exc:
                result.status = "rejected"
                result.reason = str(exc)
                result.rows_in = result.rows_quarantined = _count_data_lines(path)
                _insert_load(cur, result, sha, started_at)
            else:
                if after_copy:
                    after_copy()
                result.rows_in = tally.rows_in
                result.rows_loaded = tally.rows_loaded
                result.rows_quarantined = tally.rows_quarantined
                if tally.rows_quarantined:
                    result.reason = f"{tally.rows_quarantined} row(s) quarantined"
                _insert_load(cur, result, sha, started_at)
                for (column, what), count in sorted(tally.fixes.items()):
                    cur.execute(
                        "insert into audit.load_fixes values (%s, %s, %s, %s)",
                        [load_id, column, what, count],
                    )
                _supersede_earlier(cur, feed, period, load_id)
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


def _count_data_lines(path: Path) -> int:
    """Rows in a rejected file (lines after the header), so conservation still holds."""
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
        cur.execute(f"delete from {feed.raw_table} where _load_id = %s", [old])
        cur.execute(
            """update audit.file_loads set status = 'superseded', superseded_by = %s,
                   reason = coalesce(reason || '; ', '') || %s
               where load_id = %s""",
            [load_id, f"superseded by load {load_id}", old],
        )
