"""``warehouse run`` (what ``make run`` runs): the whole pipeline through Airflow.

1. the warehouse is up (the local PostgreSQL, or ``WAREHOUSE_DSN``);
2. the synthetic feeds are generated into the landing folder;
3. Airflow is ready (SQLite metadata, ``db migrate`` once, the DAGs parsed);
4. each ingestion DAG runs (``dag.test()``, in this process);
5. the transform DAG runs (one dbt build, a task per model, Soda contracts), then the
   analytics DAG (a task per analytics step: run, dbt build of its marts, Soda);
then conservation is checked. Everything the tools print (Airflow task logs, dbt, GX,
Soda) goes to ``$WAREHOUSE_HOME/logs/<run id>/``; the caller shows progress from
``warehouse.progress`` and a summary.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from warehouse import progress, secret_files
from warehouse.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    run_id: str
    log_dir: Path
    seconds: dict[str, float] = field(default_factory=dict)  # stage -> wall time
    failures: list[str] = field(default_factory=list)  # "dag task: first error line"
    dbt_nodes: dict[str, int] = field(default_factory=dict)  # status -> nodes
    soda: dict[str, Any] = field(default_factory=dict)
    files_generated: int = 0
    loads_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def pipeline_seconds(self) -> float:
        return sum(self.seconds.values())


def new_run_id() -> str:
    return datetime.now(UTC).strftime("run_%Y%m%dT%H%M%SZ")


@contextlib.contextmanager
def output_to(log_file: Path) -> Iterator[IO[str]]:
    """Send everything written to this process's stdout and stderr (file descriptors 1
    and 2: Python, Airflow, dbt, GX, Soda and their subprocesses alike) to ``log_file``;
    yields a stream on the original stdout, for the progress display."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    log_fd = secret_files.open_private(log_file, append=True)
    console = os.fdopen(os.dup(saved[0]), "w", buffering=1)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    try:
        yield console
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, log_fd):
            os.close(fd)
        console.close()


def run_dag(dag: Any, result: RunResult) -> Any:
    """One DAG once, in this process. Retries are for unattended runs: here a person is
    waiting, so a failure is reported at once instead of after the retry delays."""
    for t in dag.tasks:
        t.retries = 0
    listener = _collect_failures(result)
    progress.listen(listener)
    try:
        run = dag.test()
    finally:
        progress.stop_listening(listener)
    state = str(getattr(run, "state", "unknown"))
    if state != "success" and not any(f.startswith(f"{dag.dag_id} ") for f in result.failures):
        failed = [ti.task_id for ti in run.get_task_instances() if str(ti.state) == "failed"]
        result.failures.append(f"{dag.dag_id} {', '.join(failed) or '?'}: ended {state}")
    return run


def _timed(result: RunResult, stage: str) -> contextlib.AbstractContextManager[None]:
    @contextlib.contextmanager
    def timer() -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            result.seconds[stage] = result.seconds.get(stage, 0.0) + time.monotonic() - started

    return timer()


def _collect_failures(result: RunResult) -> progress.Listener:
    def listener(stage: str, n: int, total: int | None, info: dict[str, Any]) -> None:
        if stage == "failure":
            result.failures.append(f"{info['dag']} {info['task']}: {info['error']}")

    return listener


def run_pipeline(
    settings: Settings, skip_generate: bool = False, log_dir: Path | None = None
) -> RunResult:
    """The numbered steps above; the transform does not start after a failed ingestion."""
    log_dir = log_dir or settings.home / "logs" / new_run_id()
    result = RunResult(run_id=log_dir.name, log_dir=log_dir)
    os.environ["WAREHOUSE_RUN_ID"] = result.run_id
    try:
        with contextlib.ExitStack() as parsed_once:
            _run_stages(settings, result, skip_generate, parsed_once)
    finally:
        os.environ.pop("WAREHOUSE_RUN_ID", None)
    return result


def _run_stages(
    settings: Settings, result: RunResult, skip_generate: bool, parsed_once: contextlib.ExitStack
) -> None:
    """The stages of ``run_pipeline``, each timed into ``result``; the DAG files are parsed
    once (``parsed_once`` holds that until the run ends)."""
    from warehouse import airflow_local
    from warehouse.pipeline import ConservationError, assert_conservation, generate_landing

    with _timed(result, "warehouse"):
        if settings.is_local:
            from warehouse.localdb import start_local
            from warehouse.sharing.pseudonymise import create_local_keys

            start_local(settings)
            create_local_keys(settings)  # for record-level agreements, outside git
    preparing = airflow_local.prepare_in_background(settings)
    if not skip_generate:
        with _timed(result, "generate"):
            result.files_generated = len(generate_landing(settings).files)
    with _timed(result, "airflow"):
        if preparing.wait() != 0:
            raise RuntimeError(f"preparing Airflow failed; see {result.log_dir / 'run.log'}")
        airflow_local.configure(settings)
        airflow_local.migrate(settings)
        dags = airflow_local.load_dags()
        parsed_once.enter_context(airflow_local.dag_files_parsed_once())
    with _timed(result, "ingest"):
        progress.advance("ingest", 0, total=_pending(settings))
        run_ingest_dags(settings, dags, result)
    if result.ok:
        with _timed(result, "transform"):
            from warehouse.dbt_graph import load_graph

            progress.advance("dbt", 0, total=load_graph(settings.graph_cache_dir).size)
            transform = run_dag(dags["transform"], result)
        result.dbt_nodes, result.soda = _transform_outcome(transform)
    if result.ok:  # linkage, evaluation, forecast, cost by complexity (on the marts)
        with _timed(result, "analytics"):
            run_dag(dags["analytics"], result)
    with _timed(result, "conservation"):
        try:
            result.loads_checked = assert_conservation(settings)
        except ConservationError as exc:
            result.failures.append(f"conservation: {progress.first_error_line(exc)}")


def run_ingest_dags(settings: Settings, dags: dict[str, Any], result: RunResult) -> None:
    """Every ingestion DAG, two at a time: this process and a helper process each take the
    next DAG from one list (largest delivery first) until none is left. Feeds are
    independent, and a load is half Python (reading, GX), half PostgreSQL: two at a time
    halve the time on two cores. Both record their runs in the same Airflow metadata."""
    import multiprocessing
    import threading

    from ingestion.feeds import get_feed
    from warehouse import airflow_local
    from warehouse.pipeline import delivered_bytes

    size = {
        d: delivered_bytes(settings.landing_dir, get_feed(d.removeprefix("ingest_")))
        for d in dags
        if d.startswith("ingest_")
    }
    order = sorted(size, key=lambda d: (-size[d], d))
    metadata = airflow_local.metadata_url(settings)  # the helper records where this does
    context = multiprocessing.get_context("spawn")
    taken: Any = context.Value("i", 2)  # ``order[:taken]`` are taken (the first by each)
    events: Any = context.Queue()
    helper = context.Process(
        target=_ingest_helper, args=(order, taken, result.run_id, metadata, events), daemon=True
    )
    helper.start()
    theirs: list[str] = []
    forward = threading.Thread(target=_forward, args=(events, theirs, helper), daemon=True)
    forward.start()
    with airflow_local.dag_files_parsed_once():
        for dag_id in _take_next(order, taken, first=0):
            run_dag(dags[dag_id], result)
    helper.join()
    forward.join(timeout=10)
    result.failures += theirs
    if helper.exitcode != 0 and not theirs:  # (its DAGs may not have run)
        result.failures.append(f"ingest helper process: exited {helper.exitcode}")


def _take_next(order: list[str], taken: Any, first: int) -> Iterator[str]:
    """The DAGs of ``order`` this process runs: ``order[first]`` (0 here, 1 in the helper:
    each process runs at least one, the helper's start-up overlapping the largest load),
    then the next one neither process has taken, until none is left."""
    if first < len(order):
        yield order[first]
    while True:
        with taken.get_lock():
            index = taken.value
            taken.value = index + 1
        if index >= len(order):
            return
        yield order[index]


def _forward(events: Any, failures: list[str], helper: Any) -> None:
    """The helper's progress to this process's listeners, its failures into ``failures``;
    until it says it is done, or has ended without saying so."""
    import queue

    while True:
        try:
            stage, n, total, info = events.get(timeout=1)
        except queue.Empty:
            if not helper.is_alive():
                return  # ended before it reported: its exit code is reported instead
            continue
        if stage == "done":
            failures += info["failures"]
            return
        if stage != "failure":  # the helper's own RunResult collects those
            try:
                progress.advance(stage, n, total, **info)
            except Exception:  # a display's error must not stall the helper's queue
                log.exception("progress listener failed on %s", stage)


def _ingest_helper(order: list[str], taken: Any, run_id: str, metadata: str, events: Any) -> None:
    from warehouse import airflow_local
    from warehouse.progress import first_error_line as first_line
    from warehouse.settings import get_settings

    os.environ["WAREHOUSE_RUN_ID"] = run_id
    failures: list[str] = []
    try:
        settings = get_settings()
        result = RunResult(run_id=run_id, log_dir=settings.home / "logs" / run_id)
        failures = result.failures  # one list: what the DAGs reported, then any error
        airflow_local.configure(settings)
        os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = metadata  # before Airflow loads
        dags = airflow_local.load_dags()
        progress.listen(lambda stage, n, total, info: events.put((stage, n, total, info)))
        with airflow_local.dag_files_parsed_once():
            for dag_id in _take_next(order, taken, first=1):
                run_dag(dags[dag_id], result)
    except Exception as exc:  # named in the summary; the traceback is in the run's log
        failures.append("ingest helper: " + first_line(exc))
        raise
    finally:
        events.put(("done", 0, None, {"failures": failures}))


def _pending(settings: Settings) -> int:
    from ingestion.feeds import ALL_FEEDS
    from ingestion.landing import pending_files

    return sum(len(pending_files(settings.landing_dir, feed)) for feed in ALL_FEEDS)


def _transform_outcome(run: Any) -> tuple[dict[str, int], dict[str, Any]]:
    tis = {ti.task_id: ti for ti in run.get_task_instances()}
    nodes: dict[str, int] = {}
    built = tis.get("dbt.build")
    from warehouse.transform import build_results

    results = build_results(built.xcom_pull(task_ids="dbt.build") if built else None)
    for status, _ in results.values():
        nodes[status] = nodes.get(status, 0) + 1
    soda = tis.get("soda_contracts")
    return nodes, (soda.xcom_pull(task_ids="soda_contracts") or {}) if soda else {}
