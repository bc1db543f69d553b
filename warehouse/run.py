"""``warehouse run`` (what ``make run`` runs): the whole pipeline through Airflow.

1. the warehouse is up (the local PostgreSQL, or ``WAREHOUSE_DSN``);
2. the synthetic feeds are generated into the landing folder (in a process of their own),
3. while Airflow gets ready (SQLite metadata, ``db migrate`` once, the DAGs parsed and
   written, the in-process execution API started) here and in the ingestion helper;
4. each ingestion DAG runs (``dag.test()``, here and in the helper, two at a time);
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
    from warehouse.pipeline import ConservationError, assert_conservation

    with _timed(result, "warehouse"):
        if settings.is_local:
            from warehouse.localdb import start_local
            from warehouse.sharing.pseudonymise import create_local_keys

            start_local(settings)
            create_local_keys(settings)  # for record-level agreements, outside git
    dags, helper = _feeds_and_airflow(settings, result, skip_generate, parsed_once)
    with _timed(result, "ingest"):
        try:
            progress.advance("ingest", 0, total=_pending(settings))
        except BaseException:
            helper.cancel()
            raise
        run_ingest_dags(settings, dags, result, helper)
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


def _feeds_and_airflow(
    settings: Settings, result: RunResult, skip_generate: bool, parsed_once: contextlib.ExitStack
) -> tuple[dict[str, Any], IngestHelper]:
    """The feeds generated and Airflow made ready, at once: the generator is one process
    on one core; meanwhile, on the other, Airflow's metadata is migrated (``--prepare``),
    and this process and the ingestion helper each parse the DAG files, write them to the
    metadata and start the in-process execution API (``airflow_local.warm_up``: ~5 s a
    process, otherwise paid by each one's first DAG run). Timed as ``generate`` (until the
    generator ended) and ``airflow`` (the wait after it, if Airflow was not ready yet)."""
    from warehouse import airflow_local

    started = time.monotonic()
    preparing = airflow_local.prepare_in_background(settings)
    generating: Generation | None = None
    helper: IngestHelper | None = None
    try:
        generating = None if skip_generate else Generation(settings)
        helper = IngestHelper(result.run_id, airflow_local.metadata_url(settings))
        while preparing.poll() is None:  # a generator that failed ends the run at once
            if generating is not None and generating.failed():
                generating.wait()  # raises with its reason
            time.sleep(0.1)
        if preparing.returncode != 0:
            raise RuntimeError(f"preparing Airflow failed; see {result.log_dir / 'run.log'}")
        airflow_local.configure(settings)
        airflow_local.migrate(settings)
        parsed_once.enter_context(airflow_local.dag_files_parsed_once())
        dags = airflow_local.warm_up()
        helper.metadata_ready()
        ready = time.monotonic()
        if generating is not None:
            result.files_generated = generating.wait()
    except BaseException:
        if generating is not None:
            generating.cancel()
        if helper is not None:
            helper.cancel()
        preparing.wait()  # a migration is left to finish (Ctrl-C reaches it too)
        raise
    generated = generating.finished if generating is not None else started
    if generating is not None:
        result.seconds["generate"] = generated - started
    result.seconds["airflow"] = max(0.0, ready - generated)
    return dags, helper


class Generation:
    """``pipeline.generate_landing`` in a process of its own (spawned: a clean
    interpreter), its progress forwarded to this process's listeners; ``wait`` returns
    the number of files written, or raises with the generator's first error line."""

    def __init__(self, settings: Settings) -> None:
        import multiprocessing
        import threading

        context = multiprocessing.get_context("spawn")
        self.events: Any = context.Queue()
        self.process = context.Process(target=_generate, args=(settings, self.events), daemon=True)
        self.process.start()
        self.finished = 0.0  # time.monotonic() when the generator said it was done
        self.outcome: dict[str, Any] = {}
        self.forward = threading.Thread(target=self._forward, daemon=True)
        self.forward.start()

    def _forward(self) -> None:
        self.outcome = _forward_progress(self.events, self.process) or {}
        self.finished = time.monotonic()

    def failed(self) -> bool:
        return bool(self.finished) and "files" not in self.outcome

    def wait(self) -> int:
        self.process.join()
        self.forward.join(timeout=10)
        if "files" in self.outcome:
            return int(self.outcome["files"])
        error = self.outcome.get("error") or f"exited {self.process.exitcode}"
        raise RuntimeError(f"generating the feeds failed: {error}")

    def cancel(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
        self.process.join(timeout=30)


def _generate(settings: Settings, events: Any) -> None:
    from warehouse.pipeline import generate_landing

    outcome: dict[str, Any] = {}
    try:
        progress.listen(lambda stage, n, total, info: events.put((stage, n, total, info)))
        outcome["files"] = len(generate_landing(settings).files)
    except Exception as exc:  # the traceback goes to the run's log, the first line back
        outcome["error"] = progress.first_error_line(exc)
        raise
    finally:
        events.put(("done", 0, None, outcome))


class IngestHelper:
    """The second process that runs ingestion DAGs (``run_ingest_dags``). Started with the
    generator: it imports Airflow and the loader, and once this process has
    migrated the metadata (``metadata_ready``) parses the DAGs and warms up as this one
    does; then it waits for the list of DAGs, takes the next one after this process's,
    and so on until none is left. Both record their runs in the same Airflow metadata."""

    def __init__(self, run_id: str, metadata: str) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        # ``order[:taken]`` are taken (the first by each process); created here: a child
        # unpickles its lock at start
        self.taken: Any = context.Value("i", 2)
        self.events: Any = context.Queue()
        self.orders: Any = context.Queue()
        self.process = context.Process(
            target=_ingest_helper,
            args=(self.orders, self.taken, run_id, metadata, self.events),
            daemon=True,
        )
        self.process.start()

    def metadata_ready(self) -> None:
        self.orders.put("ready")

    def cancel(self) -> None:
        """Nothing to ingest (the run stopped before): the helper ends."""
        self.orders.put(None)
        self.process.join(timeout=60)
        if self.process.is_alive():
            self.process.terminate()

    def run(self, order: list[str], dags: dict[str, Any], result: RunResult) -> None:
        """Hand the helper ``order``; this process runs its share of ``dags``; wait for
        the helper."""
        import threading

        from warehouse import airflow_local

        theirs: list[str] = []
        forward = threading.Thread(
            target=_forward, args=(self.events, theirs, self.process), daemon=True
        )
        forward.start()
        self.orders.put(order)
        with airflow_local.dag_files_parsed_once():
            for dag_id in _take_next(order, self.taken, first=0):
                run_dag(dags[dag_id], result)
        self.process.join()
        forward.join(timeout=10)
        result.failures += theirs
        if self.process.exitcode != 0 and not theirs:  # (its DAGs may not have run)
            result.failures.append(f"ingest helper process: exited {self.process.exitcode}")


def run_ingest_dags(
    settings: Settings,
    dags: dict[str, Any],
    result: RunResult,
    helper: IngestHelper | None = None,
) -> None:
    """Every ingestion DAG, two at a time: this process and ``helper`` (started here if
    not given, Airflow's metadata migrated) each take the next DAG from one list (largest
    delivery first) until none is left. Feeds are independent, and a load is half Python
    (reading, GX), half PostgreSQL: two at a time halve the time on two cores."""
    from ingestion.feeds import get_feed
    from warehouse import airflow_local
    from warehouse.pipeline import delivered_bytes

    if helper is None:
        helper = IngestHelper(result.run_id, airflow_local.metadata_url(settings))
        helper.metadata_ready()
    try:
        size = {
            d: delivered_bytes(settings.landing_dir, get_feed(d.removeprefix("ingest_")))
            for d in dags
            if d.startswith("ingest_")
        }
    except BaseException:
        helper.cancel()
        raise
    order = sorted(size, key=lambda d: (-size[d], d))
    helper.run(order, dags, result)


def _take_next(order: list[str], taken: Any, first: int) -> Iterator[str]:
    """The DAGs of ``order`` this process runs: ``order[first]`` (0 here, 1 in the helper:
    each process runs at least one), then the next one neither process has taken, until
    none is left."""
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
    """The helper's progress to this process's listeners, its failures into ``failures``
    (if it ended without saying it was done, its exit code is reported instead)."""
    done = _forward_progress(events, helper)
    if done is not None:
        failures += done["failures"]


def _forward_progress(events: Any, process: Any) -> dict[str, Any] | None:
    """A child process's progress events to this process's listeners, until it says it is
    done (returns what it said) or has ended without saying so (None). Its "failure"
    events stay with it: it reports them in "done"."""
    import queue

    while True:
        try:
            stage, n, total, info = events.get(timeout=1)
        except Exception as exc:  # queue.Empty, or a message that did not unpickle
            if not isinstance(exc, queue.Empty):
                log.exception("progress from a child process lost")
            if not process.is_alive():
                return None
            continue
        if stage == "done":
            return info
        if stage != "failure":
            try:
                progress.advance(stage, n, total, **info)
            except Exception:  # a display's error must not stall the child's queue
                log.exception("progress listener failed on %s", stage)


def _ingest_helper(orders: Any, taken: Any, run_id: str, metadata: str, events: Any) -> None:
    """The helper process: ``_serve_ingestion``, then out at once (``workers.run_then_leave``)."""
    from warehouse.workers import run_then_leave

    run_then_leave(lambda: _serve_ingestion(orders, taken, run_id, metadata, events), events)


def _serve_ingestion(orders: Any, taken: Any, run_id: str, metadata: str, events: Any) -> None:
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
        import ingestion.runner  # noqa: F401 - the loader (GX), while the feeds are written

        if _next_order(orders) is None:  # "ready": the metadata is migrated
            return
        with airflow_local.dag_files_parsed_once():
            dags = airflow_local.warm_up()
            order = _next_order(orders)
            if order is None:
                return
            progress.listen(lambda stage, n, total, info: events.put((stage, n, total, info)))
            for dag_id in _take_next(order, taken, first=1):
                run_dag(dags[dag_id], result)
    except Exception as exc:  # named in the summary; the traceback is in the run's log
        failures.append("ingest helper: " + first_line(exc))
        raise
    finally:
        events.put(("done", 0, None, {"failures": failures}))


def _next_order(orders: Any) -> Any:
    """The next message for the helper; None (stop) when it is told so or the process
    that started it has gone (a killed ``make run`` leaves no helper waiting)."""
    import multiprocessing
    import queue

    while True:
        try:
            return orders.get(timeout=1)
        except queue.Empty:
            parent = multiprocessing.parent_process()
            if parent is not None and not parent.is_alive():
                return None


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
