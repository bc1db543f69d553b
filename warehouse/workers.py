"""Independent jobs two at a time (or ``workers``), each in a spawned worker process: a clean
interpreter, safe inside an Airflow task. Used by ``warehouse ingest`` (one feed a job) and
``warehouse share --all`` (one agreement a job)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any


def as_finished(
    fn: Callable[..., Any], jobs: Sequence[tuple[Any, ...]], workers: int = 2
) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """``fn(*job)`` for each job, started in the order given (put the longest first);
    yields (job, result) as each finishes. Closing the iterator early cancels the jobs not
    yet started; an exception raised by ``fn`` comes out of the iterator."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        running = {pool.submit(fn, *job): job for job in jobs}
        for done in as_completed(running):
            yield running[done], done.result()
    finally:
        pool.shutdown(cancel_futures=True)
