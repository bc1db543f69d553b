"""Pick up delivered files from the landing folder and load each one.

Landing layout: ``<landing>/<system>/<file>``; loaded files move to ``processed/`` and
rejected ones to ``rejected/`` beside them. One file's failure never stops the others: a
file that breaks the loader itself (not bad data, which is quarantined) is reported and the
run fails at the end, after every other file was loaded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import psycopg

from ingestion.ddl import ensure_schema
from ingestion.feeds import ALL_FEEDS, get_feed
from ingestion.loader import FileLoadResult, drop_stale_staging, load_file
from ingestion.schema import Feed
from ingestion.validation import GxValidator, sqlalchemy_url

log = logging.getLogger(__name__)


class IngestionError(RuntimeError):
    """Raised after a run in which some files could not be processed at all."""


def pending_files(landing: Path, feed: Feed, period: str | None = None) -> list[Path]:
    folder = landing / feed.system
    if not folder.is_dir():
        return []
    files = sorted(
        (p for p in folder.iterdir() if p.is_file() and feed.matches(p.name)),
        key=lambda p: feed.delivery_order(p.name),
    )
    if period:
        files = [p for p in files if feed.period_of(p.name) == period]
    return files


def ingest_feed(
    conn: psycopg.Connection,
    landing: Path,
    feed_name: str,
    period: str | None = None,
    on_file: Callable[[FileLoadResult], None] | None = None,
) -> list[FileLoadResult]:
    """Load every pending file of one feed (optionally one period: a backfill);
    ``on_file`` hears each file's result as it is loaded."""
    feed = get_feed(feed_name)
    ensure_schema(conn)
    files = pending_files(landing, feed, period)
    if not files:
        return []
    stale = drop_stale_staging(conn, feed)
    if stale:
        log.warning("%s: dropped %d staging table(s) left by an interrupted load", feed.name, stale)
    validator = GxValidator(feed, sqlalchemy_url(conn))
    results: list[FileLoadResult] = []
    errors: list[str] = []
    for path in files:
        try:
            results.append(load_file(conn, path, feed, validator=validator))
            if on_file:
                on_file(results[-1])
        except Exception as exc:  # a broken file must not stop the others
            log.exception("%s: could not be processed", path.name)
            errors.append(f"{path.name}: {type(exc).__name__}: {exc}")
    if errors:
        raise IngestionError(
            f"{len(errors)} of {len(files)} {feed.name} file(s) could not be processed:\n"
            + "\n".join(errors)
        )
    return results


def ingest_all(
    conn: psycopg.Connection, landing: Path, period: str | None = None
) -> list[FileLoadResult]:
    results: list[FileLoadResult] = []
    for feed in ALL_FEEDS:
        results += ingest_feed(conn, landing, feed.name, period)
    return results
