"""Independent jobs two at a time (or ``workers``), each in a spawned worker process: a clean
interpreter, safe inside an Airflow task. Used by ``warehouse ingest`` (one feed a job) and
``warehouse share --all`` (one agreement a job); ``run_then_leave``, a spawned helper's
life (``make run``'s ingestion helper)."""

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


def run_then_leave(fn: Callable[[], None], queue: Any) -> None:
    """A spawned process's whole life: ``fn()``, then out at once with ``os._exit`` (0, or 1
    after printing the traceback), once ``queue`` (its messages to the parent) is flushed
    and the logs are shut down. The interpreter's own clean-up skipped: after the ingestion
    helper's last DAG, that clean-up of Airflow, GX and SQLAlchemy took ~3.4 s of a core
    (measured), and ``make run`` waited for it before the transform."""
    import logging
    import multiprocessing
    import os
    import sys
    import traceback

    code = 1
    try:
        fn()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()  # into the process's stderr (the run's log)
    finally:
        try:
            parent = multiprocessing.parent_process()
            if parent is not None and not parent.is_alive():  # nobody reads the queue
                queue.cancel_join_thread()
            queue.close()
            queue.join_thread()
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
