"""The loader: the conductor of one delivered path's load.

``load_file`` reads like the steps it takes:

1. **lock** the feed (every load of a feed holds its lock; a second run waits for it, then
   skips a path the first run has already moved), and drop staging tables of dead loads;
   a path still being delivered (``landing``: held open for writing, or named as an
   upload in flight, or changed within the quiet period) is left for a later run,
   recorded nowhere; a path whose
   ``processed/`` or ``rejected/`` is not a real folder beside it is not loaded at all;
2. **check the path**: a symbolic link, a directory, a name that matches no feed, a
   period that is not a real month within the feed's window, an empty file, archive or
   binary bytes are ``rejected`` with a reason (``rows_in`` null when there are no
   records to count); the same content as a load whose rows are in ``raw`` is a
   ``duplicate`` (the same bytes as a rejected file, sent again under a corrected name,
   are processed again); a lower revision of a period than one already loaded (``_r2``
   loaded, then the original), or the content of a superseded load sent again under the
   newest revision's name, is ``rejected``;
3. **read** one streaming pass (``reading``; workbooks first become CSV in
   ``workbooks``), hashing the very bytes it reads;
4. **stage** chunks by COPY, strictly parsed in SQL (``staging``), two at a time;
5. **validate** the staged file with its GX suite (``validation``) while duplicate keys
   (``duplicates``) and rows of another month than the file's (``row_periods``) are found;
6. **commit** in one transaction (``registry``): quarantine, attach the partition to
   ``raw``, record the load, supersede an earlier delivery of the period; then move the
   file, still under the lock. A delivery that loads no row (header only, or every row
   quarantined) supersedes nothing: when its period has a load it is ``rejected`` (its
   rows still quarantined) and that load's rows stay.

A load killed at any point leaves no raw rows and no audit row; the file stays in landing
until its load commits. ``rows_in = rows_loaded + rows_quarantined`` always, and
``rows_in`` is the reader's record count. Bad data is recorded, never raised; only broken
systems raise, and their messages carry no delivered value.
"""

from __future__ import annotations

import bisect
import logging
import queue
import tempfile
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psycopg

from ingestion import headers, landing, reading, registry, row_periods, staging
from ingestion.duplicates import duplicate_keys
from ingestion.feeds import feed_for_file
from ingestion.landing import (
    check_done_folders,
    shown_name,
)
from ingestion.load_records import (
    STAGING_SCHEMA,
    FileRejected,
    RowFailure,
    sha256_of,
    staging_table,
)
from ingestion.reading import ReadStats, RecordReader
from ingestion.registry import FileLoadResult, Quarantined
from ingestion.schema import Feed
from ingestion.screen import FormatScreen
from ingestion.staging import FixCounts, Staged, Stager
from ingestion.validation import GxValidator, sqlalchemy_url
from ingestion.workbooks import workbook_as_csv

log = logging.getLogger(__name__)

CHUNK_ROWS = 80_000  # records per COPY (and per GX validation) in a large file
COPY_WORKERS = 2  # chunks COPYed at once (PostgreSQL parses each COPY on one core)

__all__ = [
    "FileLoadResult",
    "FileRejected",
    "LoadOptions",
    "load_file",
    "reject_unmatched",
]


@dataclass(frozen=True)
class LoadOptions:
    chunk_rows: int = CHUNK_ROWS
    move: bool = True  # move the file to processed/ or rejected/ when recorded
    validator: GxValidator | None = None
    after_copy: Callable[[], None] | None = None  # a test hook: runs before the commit
    read_bytes: int | None = None  # the reader's block size (tests make it tiny)
    quiet_seconds: float = 0.0  # a path changed more recently than this is left for later


@dataclass
class LoadJob:
    """One path's load: what every step needs, passed as one record."""

    conn: psycopg.Connection
    path: Path
    feed: Feed
    options: LoadOptions
    result: FileLoadResult
    started_at: datetime = field(default_factory=registry.now)
    sha: str | None = None

    @property
    def table(self) -> str:
        return staging_table(self.feed.name, self.result.load_id)


@dataclass
class StagedFile:
    """What staging and validation leave for the final transaction."""

    stats: ReadStats
    fixes: FixCounts
    bad: Quarantined
    bad_lines: set[int]
    loaded: int  # rows left in staging: they become the raw partition
    sha: str  # of the bytes read


# what PostgreSQL raises for delivered bytes or values (any other error is the loader's)
COPY_REFUSALS = (
    psycopg.errors.BadCopyFileFormat,
    psycopg.errors.CharacterNotInRepertoire,
    psycopg.errors.UntranslatableCharacter,
    psycopg.errors.InvalidTextRepresentation,
    psycopg.errors.NumericValueOutOfRange,
    psycopg.errors.DatetimeFieldOverflow,
)


class LoaderFailed(RuntimeError):
    """The loader itself failed on a file (recorded as rejected; the run must fail)."""


class FileChanged(Exception):
    """The file's bytes changed while it was read: it is left for a later run."""


def load_file(
    conn: psycopg.Connection,
    path: Path,
    feed: Feed | None = None,
    *,
    chunk_rows: int = CHUNK_ROWS,
    move: bool = True,
    validator: GxValidator | None = None,
    after_copy: Callable[[], None] | None = None,
    read_bytes: int | None = None,
    quiet_seconds: float = 0.0,
) -> FileLoadResult:
    """Load (or reject, or record as a duplicate) one delivered path; returns what
    happened (status ``skipped``, recorded nowhere: another run took the path first).

    ``conn`` must be in autocommit mode: the load commits its staging steps separately and
    makes the result visible in one final transaction."""
    if not conn.autocommit:
        raise ValueError("load_file needs a connection in autocommit mode")
    options = LoadOptions(
        chunk_rows=chunk_rows,
        move=move,
        validator=validator,
        after_copy=after_copy,
        read_bytes=read_bytes,
        quiet_seconds=quiet_seconds,
    )
    feed = feed or feed_for_file(path.name)
    if feed is None:
        return reject_unmatched(conn, path, move=move, quiet_seconds=quiet_seconds)
    return _locked(conn, path, feed, options, _load)


def reject_unmatched(
    conn: psycopg.Connection, path: Path, *, move: bool = True, quiet_seconds: float = 0.0
) -> FileLoadResult:
    """Record a delivered path whose name matches no feed (of its folder) as rejected
    (unless it is still being delivered, as ``load_file``)."""

    def reject(job: LoadJob) -> None:
        countable = path.is_file() and not path.is_symlink()
        _reject(job, FileRejected(landing.unmatched_reason(path), countable=countable))

    return _locked(conn, path, None, LoadOptions(move=move, quiet_seconds=quiet_seconds), reject)


def _locked(
    conn: psycopg.Connection,
    path: Path,
    feed: Feed | None,
    options: LoadOptions,
    step: Callable[[LoadJob], None],
) -> FileLoadResult:
    """Run ``step`` on the path under its lock (the feed's, or the path's when it has no
    feed), unless another run moved it away first; then move it, still under the lock."""
    key = landing.lock_key(path, feed)
    conn.execute("select pg_advisory_lock(hashtext(%s))", [key])
    try:
        if landing.gone_or_arriving(path, options.quiet_seconds):
            return _skipped(path, feed)
        if options.move:
            check_done_folders(path)  # before any audit row: the path stays in landing
        result = FileLoadResult(
            load_id=registry.next_load_id(conn),
            file_name=shown_name(path),
            feed=feed.name if feed else registry.UNKNOWN_FEED,
            period=feed.period_of(path.name) if feed else None,
            status="loaded",
        )
        if feed is not None:
            staging.drop_stale_staging(conn, feed)  # safe: no load of the feed is running
        job = LoadJob(
            conn=conn, path=path, feed=feed or landing.NO_FEED, options=options, result=result
        )
        try:
            step(job)
        except FileChanged:
            log.warning("%s: changed while being read; left for a later run", shown_name(path))
            result.status = "skipped"
            return result
        except (psycopg.OperationalError, psycopg.InterfaceError):
            raise  # the server or the connection: the file stays for a later run
        except Exception as exc:
            # a fault of the loader on this file: record it, so that it does not block
            # its feed run after run, then fail the run naming it
            reason = f"the loader failed on this file ({type(exc).__name__}); see the run log"
            try:
                result.rows_loaded = result.rows_quarantined = 0
                _reject(job, FileRejected(reason, countable=False))
                if options.move:
                    landing.move(path, "rejected", result)
            except Exception:  # cannot even record it: it stays for a later run
                log.error("%s: could not be recorded as rejected either", shown_name(path))
            raise LoaderFailed(f"{shown_name(path)}: {type(exc).__name__}") from exc
        if options.move:
            landing.move(path, "rejected" if result.status == "rejected" else "processed", result)
    finally:
        conn.execute("select pg_advisory_unlock(hashtext(%s))", [key])
    log.info(
        "%s: %s (in %s, loaded %d, quarantined %d)",
        shown_name(path),
        result.status,
        result.rows_in,
        result.rows_loaded,
        result.rows_quarantined,
    )
    return result


def _skipped(path: Path, feed: Feed | None) -> FileLoadResult:
    """A path this run leaves alone (recorded nowhere)."""
    return FileLoadResult(
        load_id=0,
        file_name=shown_name(path),
        feed=feed.name if feed else "",
        period=None,
        status="skipped",
    )


def _load(job: LoadJob) -> None:
    """Check the path, then read, stage, validate and commit it."""
    try:
        reading.check_path(job.path)
        problem = job.feed.period_problem(job.result.period)
        if problem:
            raise FileRejected(problem)
    except FileRejected as exc:
        _reject(job, exc)
        return
    job.sha = sha256_of(job.path)
    earlier = registry.earlier_delivery(job.conn, job.feed.name, job.sha)
    if earlier:  # the same feed only: an empty file of another feed is not a duplicate
        job.result.status = "duplicate"
        job.result.rows_in = 0
        job.result.reason = f"same content (sha256) as load {earlier[0]} ({earlier[1]})"
        registry.record(job.conn, job.result, job.sha, job.started_at, earlier[0])
        return
    older = registry.revision_refusal(
        job.conn, job.feed, job.result.period, job.path.name, job.sha or ""
    )
    if older:
        _reject(job, FileRejected(older))
        return
    if job.path.stat().st_size == 0:
        _reject(job, FileRejected("file is empty (0 bytes, no header)"))
        return
    with tempfile.TemporaryDirectory(prefix="load-") as tmp:
        try:
            source, stats, sha = _source(job, Path(tmp))
            with RecordReader(source, job.options.read_bytes) as reader:
                header = reader.read_header()
                headers.check_header(header, job.feed)
                _stage_and_commit(job, reader, header, stats, sha)
        except FileRejected as exc:
            _reject(job, exc)
        except COPY_REFUSALS as exc:  # PostgreSQL refused bytes or a cast the reader let through
            name = type(exc).__name__
            _reject(job, FileRejected(f"file cannot be read by COPY ({name}, {exc.sqlstate})"))


def _source(job: LoadJob, tmp: Path) -> tuple[Path, ReadStats, str | None]:
    """The CSV to read, the read statistics to fill, and the sha256 already known (a
    workbook's, of the bytes converted; None: the reader hashes the CSV as it reads)."""
    stats = ReadStats()
    if job.feed.file_format != "xlsx":
        return job.path, stats, None
    target = tmp / (job.path.stem + ".csv")
    sha, stats.preset = workbook_as_csv(job.path, job.feed, target)
    return target, stats, sha


def _reject(job: LoadJob, exc: FileRejected) -> None:
    result = job.result
    result.status = "rejected"
    result.reason = str(exc)
    if exc.countable and job.path.is_file() and not job.path.is_symlink():
        result.rows_in = _count_records(job)
    else:
        result.rows_in = None
    if result.rows_in is None and exc.countable:
        result.reason += "; its records cannot be counted"
    sha = job.sha
    if sha is None and job.path.is_file() and not job.path.is_symlink():
        sha = sha256_of(job.path)
    registry.record(job.conn, result, sha, job.started_at)


def _count_records(job: LoadJob) -> int | None:
    """A rejected file's records, by the same reader (a workbook's sheet as CSV)."""
    if job.path.stat().st_size == 0:
        return 0
    if job.feed.file_format != "xlsx":
        return reading.count_records(job.path)
    with tempfile.TemporaryDirectory(prefix="count-") as tmp:
        try:
            source, _, _ = _source(job, Path(tmp))
        except FileRejected:
            return None
        return reading.count_records(source)


def _stage_and_commit(
    job: LoadJob, reader: RecordReader, header: list[str], stats: ReadStats, sha: str | None
) -> None:
    conn, result = job.conn, job.result
    with conn.transaction(), conn.cursor() as cur:
        staging.create_staging(cur, job.feed, job.table, result.load_id)
    try:
        staged = _stage_file(job, reader, header, stats)
        staged.sha = sha or reader.hexdigest()
        if staged.sha != job.sha:
            raise FileChanged(job.path.name)
        result.rows_in = staged.stats.records
        result.rows_loaded = staged.loaded
        result.rows_quarantined = len(staged.bad_lines)
        if result.rows_in != result.rows_loaded + result.rows_quarantined:
            raise RuntimeError(
                f"{job.path.name}: {result.rows_in} records read but {staged.loaded} "
                f"loaded and {len(staged.bad_lines)} quarantined; refusing to commit"
            )
        if staged.bad_lines:
            result.reason = f"{len(staged.bad_lines)} row(s) quarantined"
        kept = registry.loaded_in_period(conn, job.feed, result.period) if not staged.loaded else []
        loaded_at = None
        with conn.transaction(), conn.cursor() as cur:
            registry.write_quarantine(cur, job.feed, job.path, result.load_id, staged.bad)
            if kept:  # an empty or all-quarantined revision: the period keeps its rows
                registry.refuse_empty_revision(result, kept)
            else:
                loaded_at = registry.stamp(cur, job.table, job.path.name)
                registry.attach(cur, job.feed, job.table, result.load_id)
                registry.remember_moved_keys(cur, job.feed, job.table, result.load_id)
            if job.options.after_copy:
                job.options.after_copy()
            registry.insert_load(cur, result, staged.sha, job.started_at, loaded_at=loaded_at)
            registry.write_fixes(cur, result.load_id, staged.fixes.counts)
            if not kept:
                registry.supersede_earlier(cur, job.feed, result.period, result.load_id)
    except BaseException:
        staging.drop_staging(conn, job.table)
        raise
    if kept:
        staging.drop_staging(conn, job.table)


def _second_connection(conn: psycopg.Connection) -> psycopg.Connection:
    params = conn.info.get_parameters()
    return psycopg.connect(**params, password=conn.info.password, autocommit=True)


def _stage_file(
    job: LoadJob, reader: RecordReader, header: list[str], stats: ReadStats
) -> StagedFile:
    """COPY the file into staging chunk tables, two at a time (a second connection opens
    for files of more than one chunk), attach them to the staging table, validate it with
    GX, then delete the failing rows from the chunk tables (again two at a time)."""
    conn, feed, table = job.conn, job.feed, job.table
    fixes = FixCounts()
    stagers = [Stager(conn, feed, table, header, fixes)]
    idle: queue.Queue[Stager] = queue.Queue()
    idle.put(stagers[0])
    extra: list[psycopg.Connection] = []
    parts: list[Future[Staged]] = []
    validator = job.options.validator or GxValidator(feed, sqlalchemy_url(conn))
    own_validator = job.options.validator is None  # closed here; a feed's run closes its own

    def on_a_free_connection(work: Callable[[Stager], object]) -> object:
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
            rows_per_chunk = _balanced_chunk_rows(reader.path, job.options.chunk_rows)
            screen = FormatScreen(feed.columns, header)
            chunks = reader.chunks(len(header), stats, rows_per_chunk, screen)
            for n, chunk in enumerate(chunks, start=1):
                if n == 2 and COPY_WORKERS > 1:
                    extra.append(_second_connection(conn))
                    stagers.append(Stager(extra[-1], feed, table, header, fixes))
                    idle.put(stagers[-1])
                while sum(not f.done() for f in parts) >= COPY_WORKERS + 1:
                    wait([f for f in parts if not f.done()], return_when=FIRST_COMPLETED)
                parts.append(
                    copy_pool.submit(on_a_free_connection, lambda st, c=chunk, n=n: st.stage(c, n))
                )
            staged = [f.result() for f in parts]
            staging.attach_chunks(conn, table, staged)
            # GX on the whole file (its cost is mostly per call) while keys are checked
            gx_job = gx_pool.submit(validator.validate, STAGING_SCHEMA, table)
            failures = duplicate_keys(conn, feed, table)
            failures += row_periods.outside_file_period(conn, feed, table, job.result.period)
            failures += gx_job.result()
            failures += [f for s in stagers for f in s.type_failures]
            failures += [RowFailure(line, f, None, r) for line, f, r, _ in stats.preset_failed]
            records = {k: v for s in stagers for k, v in s.records.items()}
            records.update({line: text for line, _, _, text in stats.preset_failed})
            bad_lines = {line for line, _, _ in stats.malformed} | {f.line for f in failures}
            removals = [
                copy_pool.submit(on_a_free_connection, lambda st, p=part, b=lines: st.remove(p, b))
                for part, lines in _lines_by_chunk(staged, bad_lines)
            ]
            for removal in removals:
                for line, row in removal.result().items():
                    records.setdefault(line, row)
    finally:
        for extra_conn in extra:
            extra_conn.close()
        if own_validator:
            validator.close()
    return StagedFile(
        stats=stats,
        fixes=fixes,
        bad=Quarantined(stats.malformed, failures, records),
        bad_lines=bad_lines,
        loaded=sum(part.rows for part in staged),
        sha="",  # set by the caller, from the reader's hash of the bytes read
    )


def _balanced_chunk_rows(path: Path, chunk_rows: int) -> int:
    """Records per chunk so that the chunks share out evenly over the COPY workers.

    A file of a little over two chunks would otherwise COPY its last chunk alone while the
    other worker idles. The record count is estimated from the first block's line length.
    """
    size = path.stat().st_size
    with path.open("rb") as f:
        sample = f.read(1 << 20)
    lines = max(sample.count(b"\n"), sample.count(b"\r"), 1)
    estimate = size * lines // max(len(sample), 1)
    if estimate <= chunk_rows:
        return chunk_rows
    rounds = -(-estimate // (chunk_rows * COPY_WORKERS))
    # 3 % slack, so an estimate on the low side does not leave a sliver of a chunk
    return -(-estimate * 103 // (rounds * COPY_WORKERS * 100))


def _lines_by_chunk(staged: list[Staged], lines: set[int]) -> list[tuple[Staged, list[int]]]:
    """The given lines, sorted, grouped by the chunk table whose range holds them."""
    ordered = sorted(lines)
    groups = []
    for part in staged:
        low = bisect.bisect_left(ordered, part.first_line)
        high = bisect.bisect_right(ordered, part.last_line)
        if high > low:
            groups.append((part, ordered[low:high]))
    return groups
