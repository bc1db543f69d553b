"""Pick up delivered paths from the landing folder and load each one.

Landing layout: ``<landing>/<system>/<file>``; loaded files move to ``processed/`` and
rejected ones to ``rejected/`` beside them. A path still being uploaded is left alone: one
named ``*.part``, ``*.tmp``, ``*.partial`` or ``.*`` (upload under such a name, then
rename) is never picked up, and one held open for writing is skipped by the loader.
Every delivered path gets one audit row: a path in a system's folder whose name matches
none of its feeds (and anything directly in the landing folder that is not a system's
folder) is recorded as rejected, never skipped.

One file's failure never stops the others, nor one feed's the next feed: a path that
breaks the loader itself (not bad data, which is quarantined or rejected) is reported and
the run fails at the end, naming every such path, after all the others were loaded.
Messages name the path and the error's type, never a delivered value.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from ingestion.ddl import ensure_schema
from ingestion.feeds import ALL_FEEDS, get_feed
from ingestion.landing import (
    UnsafeFolder,
    pending_files,
    stray_paths,
    unmatched_paths,
)
from ingestion.loader import FileLoadResult, load_file, reject_unmatched
from ingestion.validation import GxValidator, sqlalchemy_url

log = logging.getLogger(__name__)


class IngestionError(RuntimeError):
    """Raised after a run in which some paths could not be processed at all."""

    def __init__(self, message: str, failed: list[str], results: list[FileLoadResult]):
        super().__init__(message)
        self.failed = failed
        self.results = results


@dataclass
class Outcome:
    results: list[FileLoadResult] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # "<path>: <error type>"


def _process(
    conn: psycopg.Connection,
    paths: list[tuple[Path, Callable[[Path], FileLoadResult]]],
    outcome: Outcome,
    on_file: Callable[[FileLoadResult], None] | None,
) -> None:
    for path, load in paths:
        try:
            result = load(path)
        except Exception as exc:  # a broken path must not stop the others
            detail = type(exc).__name__
            if isinstance(exc, psycopg.Error) and exc.sqlstate:
                detail += f" (SQLSTATE {exc.sqlstate})"
            if isinstance(exc, UnsafeFolder):  # names the folder to put right
                detail += f": {exc}"
            log.error("%s: could not be processed: %s", path, detail)
            outcome.failed.append(f"{path}: {detail}")
            if conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR:
                conn.rollback()
            continue
        if result.status == "skipped":  # another run holds or took it
            continue
        outcome.results.append(result)
        if on_file:
            on_file(result)


def _raise_if_failed(outcome: Outcome, what: str, total: int) -> None:
    if outcome.failed:
        raise IngestionError(
            f"{len(outcome.failed)} of {total} {what} path(s) could not be processed:\n"
            + "\n".join(outcome.failed),
            outcome.failed,
            outcome.results,
        )


def load_feed(
    conn: psycopg.Connection,
    landing: Path,
    feed_name: str,
    period: str | None = None,
    on_file: Callable[[FileLoadResult], None] | None = None,
    quiet_seconds: float = 0.0,
) -> list[FileLoadResult]:
    """Load every pending path of one feed (optionally one period: a backfill), and
    record the paths in its system's folder that match no feed and those directly in the
    landing folder; ``on_file`` hears each path's result as it is recorded. A path changed
    less than ``quiet_seconds`` ago is left for a later run."""
    feed = get_feed(feed_name)
    files = pending_files(landing, feed, period)
    # every feed's run records the unmatched paths of its folder and the landing folder's
    # strays (a path lock and an existence check make the first run to reach one record it)
    unmatched = [] if period else unmatched_paths(landing, feed.system) + stray_paths(landing)
    if not files and not unmatched:
        return []
    ensure_schema(conn)
    validator = GxValidator(feed, sqlalchemy_url(conn)) if files else None
    outcome = Outcome()
    work: list[tuple[Path, Callable[[Path], FileLoadResult]]] = [
        (p, lambda p: load_file(conn, p, feed, validator=validator, quiet_seconds=quiet_seconds))
        for p in files
    ]
    work += [
        (p, lambda p: reject_unmatched(conn, p, quiet_seconds=quiet_seconds)) for p in unmatched
    ]
    try:
        _process(conn, work, outcome, on_file)
    finally:
        if validator is not None:
            validator.close()
    _raise_if_failed(outcome, feed.name, len(work))
    return outcome.results


def load_strays(
    conn: psycopg.Connection,
    landing: Path,
    on_file: Callable[[FileLoadResult], None] | None = None,
    quiet_seconds: float = 0.0,
) -> list[FileLoadResult]:
    """Record what lies directly in the landing folder outside the systems' folders."""
    strays = stray_paths(landing)
    if not strays:
        return []
    ensure_schema(conn)
    outcome = Outcome()
    work: list[tuple[Path, Callable[[Path], FileLoadResult]]] = [
        (p, lambda p: reject_unmatched(conn, p, quiet_seconds=quiet_seconds)) for p in strays
    ]
    _process(conn, work, outcome, on_file)
    _raise_if_failed(outcome, "landing", len(strays))
    return outcome.results


def load_all(
    conn: psycopg.Connection, landing: Path, period: str | None = None
) -> list[FileLoadResult]:
    """Every feed, then the strays; raises at the end naming every failed path."""
    outcome = Outcome()
    steps: list[Callable[[], list[FileLoadResult]]] = [
        (lambda name=feed.name: load_feed(conn, landing, name, period)) for feed in ALL_FEEDS
    ]
    if period is None:
        steps.append(lambda: load_strays(conn, landing))
    for step in steps:
        try:
            outcome.results += step()
        except IngestionError as exc:
            outcome.results += exc.results
            outcome.failed += exc.failed
    _raise_if_failed(outcome, "delivered", len(outcome.results) + len(outcome.failed))
    return outcome.results
