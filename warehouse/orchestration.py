"""DAG factories: the DAG files in ``dags/`` only call these.

Every task body is a few lines calling a package function that the CLI and the tests call
too. Heavy imports (pandas, GX, dbt, Soda) happen inside tasks, never at parse time.
Assets are the contract between ingestion and transformation: each ingestion DAG produces
its raw table's asset and the transform DAG is scheduled on them. The sharing DAGs run on
their agreements' cron schedules (a partner expects a delivery on a date) and verify their
marts' Soda contracts themselves.
"""

from __future__ import annotations

import json
import logging
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import DAG, Asset, Param, dag, task

from warehouse.settings import PROJECT_ROOT, get_settings

log = logging.getLogger(__name__)

OWNER = "data-engineering"
START = pendulum.datetime(2026, 1, 1, tz="UTC")
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"


def notify_failure(context: dict[str, Any]) -> None:
    """Failure callback: one clear log line naming the DAG, task and run (no personal data),
    also heard by ``warehouse run``'s display."""
    from warehouse import progress
    from warehouse.transform import scrub

    ti = context.get("task_instance")
    dag_id, task_id = getattr(ti, "dag_id", "?"), getattr(ti, "task_id", "?")
    error = scrub(progress.first_error_line(context.get("exception")))
    log.error(
        "FAILED dag=%s task=%s run=%s try=%s: %s",
        dag_id,
        task_id,
        context.get("run_id"),
        getattr(ti, "try_number", "?"),
        error,
    )
    progress.advance("failure", dag=dag_id, task=task_id, error=error)


def default_args(retries: int = 2) -> dict[str, Any]:
    return {
        "owner": OWNER,
        "retries": retries,
        "retry_delay": timedelta(minutes=2),
        "on_failure_callback": notify_failure,
    }


def raw_asset(feed_name: str) -> Asset:
    return Asset(name=f"warehouse.raw.{feed_name}", uri=f"warehouse://raw/{feed_name}")


def marts_asset() -> Asset:
    """The marts, built and their Soda contracts passed: the analytics DAG follows it."""
    return Asset(name="warehouse.marts", uri="warehouse://marts")


def mart_asset(model: str) -> Asset:
    """One analytics mart, produced by its analytics step."""
    return Asset(name=f"warehouse.marts.{model}", uri=f"warehouse://marts/{model}")


# -- ingestion ----------------------------------------------------------------------------
def ingest_dags() -> dict[str, DAG]:
    """Every feed's ingestion DAG by its id (``ingest_<feed>``): ``dags/ingest_feeds.py``."""
    from ingestion.feeds import ALL_FEEDS

    return {f"ingest_{feed.name}": make_ingest_dag(feed.name) for feed in ALL_FEEDS}


def make_ingest_dag(feed_name: str) -> DAG:
    """One DAG per feed: find new files, validate + load them, check conservation."""
    from ingestion.feeds import get_feed

    feed = get_feed(feed_name)
    asset = raw_asset(feed.name)

    @dag(
        dag_id=f"ingest_{feed.name}",
        schedule="@hourly",
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=default_args(),
        tags=["layer:ingestion", f"feed:{feed.system}", f"table:{feed.name}"],
        params={
            "period": Param(
                None,
                type=["null", "string"],
                description="Only this period (e.g. 2007-03): backfill one month",
            )
        },
        doc_md=f"""
### Ingest `{feed.name}`
{feed.description}.

Picks up new `{feed.name}_<period>.csv` files from `landing/{feed.system}/`, validates each
with the Great Expectations suite `expectations/gx/{feed.name}.json`, loads good rows into
`{feed.raw_table}` by COPY (one transaction per file), quarantines bad rows in
`audit.quarantine` and records every file in `audit.file_loads`.
Produces the asset `{asset.name}`. Backfill: trigger with `{{"period": "2007-03"}}`.
""",
    )
    def ingest() -> None:
        @task
        def find_new_files(params: dict[str, Any] | None = None) -> list[str]:
            from ingestion.landing import pending_files, stray_paths, unmatched_paths

            settings = get_settings()
            period = (params or {}).get("period")
            files = pending_files(settings.landing_dir, feed, period)
            if not period:  # names matching no feed are recorded (rejected) too
                files += unmatched_paths(settings.landing_dir, feed.system)
                files += stray_paths(settings.landing_dir)
            log.info("%d new %s file(s)", len(files), feed.name)
            return [f.name for f in files]

        @task(outlets=[asset])
        def validate_and_load(files: list[str], params: dict[str, Any] | None = None) -> list[int]:
            from airflow.sdk.exceptions import AirflowSkipException

            from warehouse.pipeline import ingest_feed

            if not files:
                raise AirflowSkipException("no new files")
            results = ingest_feed(get_settings(), feed.name, (params or {}).get("period"))
            return [r.load_id for r in results]

        @task
        def check_conservation(load_ids: list[int]) -> None:
            from warehouse.pipeline import assert_conservation

            assert_conservation(get_settings(), load_ids)

        check_conservation(validate_and_load(find_new_files()))

    return ingest()


# -- transformation -----------------------------------------------------------------------
def _dbt_log_dir(context: dict[str, Any]) -> Path:
    """``$WAREHOUSE_HOME/logs/<run id>/``: ``warehouse run`` names the run for all its DAGs."""
    settings = get_settings()
    run_id = os.environ.get("WAREHOUSE_RUN_ID") or str(context.get("run_id") or "manual")
    return settings.home / "logs" / re.sub(r"[^A-Za-z0-9_.+-]", "_", run_id)


def _report_task(task_id: str, own: list[str], command: str, select: str, doc: str) -> Any:
    """A task reporting what the one ``dbt build`` did to ``own`` (a node and the data
    tests that run after it, a unit test, the source tests). It runs ``dbt <command>
    --select <select>`` itself on a retry, or when the build did not run them (it skips
    what follows a failure)."""

    @task(task_id=task_id, doc_md=doc)
    def report(**context: Any) -> None:
        from warehouse.transform import PASSED, invoke

        ti = context["ti"]
        results = _build_results(ti)
        statuses = {uid: tuple(results.get(uid, ("not run", ""))) for uid in own}
        if ti.try_number > 1 or all(status == "not run" for status, _ in statuses.values()):
            # a retry does the work itself, in a target folder of its own (node tasks
            # of a real executor may retry at the same time)
            log_dir = _dbt_log_dir(context)
            target = log_dir / f"target-{ti.task_id}-{ti.try_number}"
            again = invoke(
                get_settings(),
                command,
                "--select",
                select,
                "--target-path",
                str(target),
                log_dir=log_dir,
            )
            statuses.update({uid: again.nodes[uid] for uid in own if uid in again.nodes})
        # "skipped": dbt did not build it after a failure upstream (a failing source test,
        # say); that failure's own task names the cause, and a retry builds it
        problems = [f"{uid}: {s} {msg}" for uid, (s, msg) in statuses.items() if s not in PASSED]
        if problems:
            raise RuntimeError("dbt: " + "; ".join(problems))

    return report().operator


_BUILD_RESULTS: dict[str, dict[str, list[str]]] = {}


def _build_results(ti: Any) -> dict[str, list[str]]:
    """The build's per-node results (its XCom), read once per DAG run and process: under
    ``dag.test()`` every task runs in one process, and 75 reads of the same ~30 kB XCom
    cost ~1 s of the run (a worker process of a real executor reads it once)."""
    from warehouse.transform import build_results

    key = f"{ti.dag_id}/{ti.run_id}"
    if key not in _BUILD_RESULTS:
        _BUILD_RESULTS.clear()
        _BUILD_RESULTS[key] = build_results(ti.xcom_pull(task_ids="dbt.build"))
    return _BUILD_RESULTS[key]


def _dbt_build_task(select: tuple[str, ...] = ()) -> Any:
    # a slice builds the selected nodes and all they read, and runs the source tests
    # (buildable: no test of a node outside the slice, which no task would report)
    selection = (
        ("--select", *(f"+{name}" for name in select), "source:*")
        + ("--indirect-selection", "buildable")
        if select
        else ()
    )

    @task(task_id="build")
    def build(**context: Any) -> str:
        """``dbt build`` of the whole project in one invocation (seeds, models,
        snapshots, unit and data tests, in dbt's order); each node's result goes
        to the node's task below."""
        from warehouse.transform import invoke

        report = invoke(get_settings(), "build", *selection, log_dir=_dbt_log_dir(context))
        for line in report.failures:
            log.error("dbt: %s", line)
        results = {uid: list(result) for uid, result in report.nodes.items()}
        _BUILD_RESULTS.clear()
        _BUILD_RESULTS[f"{context['ti'].dag_id}/{context['ti'].run_id}"] = results
        return json.dumps(results)  # one string: a nested dict took XCom 2 s

    return build().operator


def _dbt_node_tasks(graph: Any, started: Any) -> None:
    """A task per seed/model/snapshot after its parents (or the build), a task per unit
    test gating its model, and one for the source tests."""
    tasks = {
        uid: _report_task(
            n.name, [uid, *n.tests], "build", n.name, f"dbt {n.resource_type} `{uid}`"
        )
        for uid, n in graph.nodes.items()
    }
    for uid, node in graph.nodes.items():
        for upstream in [tasks[d] for d in node.depends_on] or [started]:
            upstream >> tasks[uid]
        for unit in node.unit_tests:  # gates its model, as in dbt build
            name = unit.rsplit(".", 1)[1]
            doc = f"dbt unit test `{name}` of `{node.name}`"
            unit_task = _report_task(f"unit_test.{name}", [unit], "test", f"unit_test:{name}", doc)
            started >> unit_task >> tasks[uid]
            for parent in node.depends_on:  # after the model's inputs, as in dbt
                tasks[parent] >> unit_task
    if graph.source_tests:
        doc = "dbt data tests on the raw sources"
        started >> _report_task("source_tests", graph.source_tests, "test", "source:*", doc)


def make_transform_dag(select: tuple[str, ...] = (), dag_id: str = "transform") -> DAG:
    """One ``dbt build``, one task per seed/model/snapshot reporting it, then Soda; scheduled
    on every feed's raw-table asset. ``select``: a slice of the same DAG (tests of its
    wiring), the named nodes and all they read, and only their marts' contracts."""
    from airflow.sdk import TaskGroup

    from ingestion.feeds import ALL_FEEDS
    from warehouse.dbt_graph import load_graph

    graph = load_graph(get_settings().graph_cache_dir)
    if select:
        graph = graph.upstream_of(select)
    contracts = sorted(n.name for n in graph.nodes.values()) if select else None
    schedule = None
    for feed in ALL_FEEDS if not select else ():  # a slice runs when triggered
        asset = raw_asset(feed.name)
        schedule = asset if schedule is None else (schedule | asset)

    with DAG(
        dag_id=dag_id,
        schedule=schedule,
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=default_args(retries=1),
        tags=["layer:transform", "tool:dbt", "tool:soda"],
        doc_md=TRANSFORM_DOC,
    ) as transform:

        @task
        def bi_access() -> int:
            """Roles, district logins and access.protect(), which dbt's post-hook calls."""
            from warehouse.access import ensure_access

            return len(ensure_access(get_settings()))

        with TaskGroup("dbt") as dbt:
            _dbt_node_tasks(graph, _dbt_build_task(select))

        # a slice checks only its marts: it does not say every contract passed
        @task(outlets=[] if select else [marts_asset()])
        def soda_contracts() -> dict[str, Any]:
            from warehouse.quality import verify_contracts

            return verify_contracts(get_settings(), contracts).as_dict()

        bi_access() >> dbt >> soda_contracts()
    return transform


TRANSFORM_SLICE_ENV = "WAREHOUSE_TRANSFORM_SLICE"


def make_transform_slice_dag() -> DAG | None:
    """``transform_slice``: the transform DAG cut down to the seeds, models or snapshots
    named in ``$WAREHOUSE_TRANSFORM_SLICE`` (spaces or commas between names) and all they
    read, run when triggered: rebuild or debug a few marts without the whole project. None
    when the variable is unset."""
    names = tuple(n for n in re.split(r"[\s,]+", os.environ.get(TRANSFORM_SLICE_ENV, "")) if n)
    return make_transform_dag(select=names, dag_id="transform_slice") if names else None


TRANSFORM_DOC = """
### Transform: one dbt build, a task per model, then Soda contracts
Runs whenever an ingestion DAG updates a raw table. First the BI roles and district logins
are ensured (`warehouse/access.py`; each mart's dbt post-hook re-applies its grants and
row-level-security policy). Then `dbt.build` runs **one** `dbt build` of the whole project
(seeds, models, snapshots, unit tests, data tests, in dbt's order, two threads): the work
costs what it costs without Airflow. One task per seed, model and snapshot follows the dbt
graph and reports its node and the data tests that ran after it (a failure names the node
and dbt's message; the log is in `.warehouse/logs/<run id>/dbt.log`). A retried node task,
or one whose node the build skipped after an upstream failure, builds the node itself
(`dbt build --select <node>`). Each dbt unit test has a task that gates its model, as in
`dbt build`. Last, every mart's Soda contract (`expectations/soda/contracts/`) is verified;
a failed contract fails the run, and a passed one updates the asset `warehouse.marts`,
which the analytics DAG follows. The sharing DAGs are not scheduled on this DAG: they run on
their agreements' cron schedules and verify their own marts' contracts before delivering.
"""


# -- sharing ------------------------------------------------------------------------------
def share_dags() -> dict[str, DAG]:
    """One DAG per agreement file in ``agreements/`` by its id (``share_<agreement>``)."""
    from warehouse.sharing.agreements import AGREEMENTS_DIR

    return {
        f"share_{path.stem}": make_share_dag(path.stem)
        for path in sorted(AGREEMENTS_DIR.glob("*.yml"))
    }


def make_share_dag(agreement_id: str) -> DAG:
    """One DAG per data sharing agreement, on the agreement's cron schedule: verify the
    Soda contracts of the marts it reads (a failure stops the delivery), then write,
    deliver and log the extract."""
    from warehouse.sharing.agreements import get_agreement

    agreement = get_agreement(agreement_id)
    marts = sorted(
        {m for d in agreement.datasets for m in d.marts_read()}
        | set(REPORT_MARTS if agreement.report else ())
    )

    @dag(
        dag_id=f"share_{agreement.id}",
        schedule=agreement.schedule,
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=default_args(),
        tags=["layer:sharing", f"partner:{agreement.id}", f"level:{agreement.level}"],
        params={
            "period": Param(
                None,
                type=["null", "string"],
                description="Financial year to share, e.g. 2008-09 (default: the run's)",
            )
        },
        doc_md=f"""
### Share with {agreement.recipient}
**Purpose**: {agreement.purpose}

**Legal basis**: {agreement.legal_basis}

Level `{agreement.level}`, format `{agreement.format}`, delivery `{agreement.delivery.method}`,
retention {agreement.retention_days} days. Reads {", ".join(f"`{m}`" for m in marts)}; their
Soda contracts are verified first and a failure stops the delivery. Agreement file:
`agreements/{agreement.id}.yml`. By hand: `warehouse share {agreement.id} --period 2008-09`.
""",
    )
    def share() -> None:
        @task
        def verify_mart_contracts() -> int:
            from warehouse.quality import verify_contracts

            return verify_contracts(get_settings(), marts).checks_passed

        @task
        def write_and_deliver(
            checks: int, params: dict[str, Any] | None = None, logical_date: Any = None
        ) -> dict[str, Any]:
            from warehouse.sharing.extract import share
            from warehouse.sharing.periods import period_holding

            period = (params or {}).get("period") or period_holding(logical_date)
            delivery = share(get_settings(), get_agreement(agreement_id), period)
            log.info(
                "%s %s: %d file(s) after %d checks",
                agreement_id,
                period,
                len(delivery.files),
                checks,
            )
            return {"delivery_id": delivery.delivery_id, "folder": str(delivery.folder)}

        write_and_deliver(verify_mart_contracts())

    return share()


# -- the JSNA pack ----------------------------------------------------------------------------
# the marts the JSNA pack reads (warehouse/report), each with its Soda contract
REPORT_MARTS = (
    "jsna_indicators",
    "jsna_district_profile",
    "jsna_ward_need",
    "demand_trends_quarterly",
    "fct_assessment_needs",
    "fct_sentence_plan_objectives",
    "fct_need_change",
    "fct_unit_costs",
    "fct_reoffending_cohort",
    "fct_supporting_people_outcomes",
    "fct_caseload_monthly",
    "fct_commencements",
    "dim_district",
)


def make_jsna_pack_dag() -> DAG:
    """``jsna_pack``: every district's pack (HTML + PDF) once the transform has published the
    marts (``warehouse.marts``: every Soda contract passed) and the analytics DAG its marts
    (forecast, cost by complexity, evaluation, linkage: sections of the pack)."""
    from warehouse.analytics.steps import STEPS

    schedule = marts_asset()
    for step in STEPS:
        for name in step.marts:
            schedule = schedule & mart_asset(name)

    @dag(
        dag_id="jsna_pack",
        schedule=schedule,
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=default_args(),
        tags=["layer:reporting", "tool:weasyprint"],
        params={
            "period": Param(
                None,
                type=["null", "string"],
                description="Financial year, e.g. 2008-09 (default: the latest complete one)",
            )
        },
        doc_md="""
### The JSNA pack: one HTML page and one PDF per district
Runs when the transform has published the marts (`warehouse.marts`: every Soda contract
passed) and the analytics DAG its marts. Reads the marts only, under the sharing layer's disclosure control; writes
`.warehouse/reports/<period>/jsna_pack_<la_code>.html|pdf`. By hand:
`warehouse report --all --period 2008-09` (or `make report`).
""",
    )
    def jsna_pack() -> None:
        @task
        def write_packs(params: dict[str, Any] | None = None) -> list[str]:
            from warehouse.report import build_packs, latest_period

            settings = get_settings()
            period = (params or {}).get("period") or latest_period(settings)
            packs = build_packs(settings, period)
            for p in packs:
                log.info("%s: %d charts, %s, %s", p.la_code, p.charts, p.html, p.pdf)
            return [str(p.html) for p in packs]

        write_packs()

    return jsna_pack()
