"""DAG factories: the DAG files in ``dags/`` only call these.

Every task body is a few lines calling a package function that the CLI and the tests call
too. Heavy imports (pandas, GX, dbt, Soda) happen inside tasks, never at parse time.
Assets are the contract between stages: each ingestion DAG produces its raw table; the
transform DAG is scheduled on them and produces the marts.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, Asset, Param, dag, task

from warehouse.settings import PROJECT_ROOT, get_settings

log = logging.getLogger(__name__)

OWNER = "data-engineering"
START = pendulum.datetime(2026, 1, 1, tz="UTC")
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"


def notify_failure(context: dict[str, Any]) -> None:
    """Failure callback: one clear log line naming the DAG, task and run (no personal data)."""
    ti = context.get("task_instance")
    log.error(
        "FAILED dag=%s task=%s run=%s try=%s: %s",
        getattr(ti, "dag_id", "?"),
        getattr(ti, "task_id", "?"),
        context.get("run_id"),
        getattr(ti, "try_number", "?"),
        context.get("exception"),
    )


def default_args(retries: int = 2) -> dict[str, Any]:
    return {
        "owner": OWNER,
        "retries": retries,
        "retry_delay": timedelta(minutes=2),
        "on_failure_callback": notify_failure,
    }


def raw_asset(feed_name: str) -> Asset:
    return Asset(name=f"warehouse.raw.{feed_name}", uri=f"warehouse://raw/{feed_name}")


def mart_asset(model: str) -> Asset:
    return Asset(name=f"warehouse.marts.{model}", uri=f"warehouse://marts/{model}")


# every mart with a Soda contract is an asset the transform DAG produces
MARTS: tuple[str, ...] = tuple(
    sorted(p.stem for p in (PROJECT_ROOT / "expectations" / "soda" / "contracts").glob("*.yml"))
)


# -- ingestion ----------------------------------------------------------------------------
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
            from ingestion.runner import pending_files

            settings = get_settings()
            period = (params or {}).get("period")
            files = pending_files(settings.landing_dir, feed, period)
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
def _unit_test_task(dag, task_group, node, task_id, task_args, **_: Any):  # type: ignore[no-untyped-def]
    """Cosmos renders no task for a dbt unit test; this one runs it (``dbt test --select
    unit_test:<name>``) once the model it tests is built (Cosmos wires the edge from the
    unit test's ``depends_on``)."""
    from cosmos.operators.local import DbtTestLocalOperator

    args = {k: v for k, v in task_args.items() if k not in ("select", "exclude", "selector")}
    return DbtTestLocalOperator(
        task_id=task_id,
        dag=dag,
        task_group=task_group,
        select=f"unit_test:{node.unique_id.rsplit('.', 1)[-1]}",
        **args,
    )


def make_transform_dag(feed_names: list[str]) -> DAG:
    """dbt (Cosmos, LOCAL mode, tests after each model), then the Soda contracts."""
    from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
    from cosmos.constants import DbtResourceType, ExecutionMode, LoadMode

    settings = get_settings()
    schedule = None
    for name in feed_names:
        schedule = raw_asset(name) if schedule is None else (schedule | raw_asset(name))

    with DAG(
        dag_id="transform",
        schedule=schedule,
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=default_args(retries=1),
        tags=["layer:transform", "tool:dbt", "tool:soda"],
        doc_md="""
### Transform: dbt build, then Soda contracts
First the BI roles and district logins are ensured (`warehouse/access.py`); each mart's
dbt post-hook then re-applies its grants and row-level-security policy. Runs whenever an ingestion DAG updates a raw table. Cosmos renders the dbt project as one
task per seed and model, each followed by its tests; then every mart's Soda contract
(`expectations/soda/contracts/`) is verified. A failed contract fails the run and stops the
sharing DAGs, which are scheduled on the mart assets this DAG produces.
""",
    ) as transform:
        dbt = DbtTaskGroup(
            group_id="dbt",
            project_config=ProjectConfig(
                DBT_PROJECT_DIR,
                install_dbt_deps=False,
                env_vars=settings.tool_env(),
            ),
            profile_config=ProfileConfig(
                profile_name="probation_warehouse",
                target_name="warehouse",
                profiles_yml_filepath=DBT_PROJECT_DIR / "profiles.yml",
            ),
            execution_config=ExecutionConfig(
                execution_mode=ExecutionMode.LOCAL,
            ),
            render_config=RenderConfig(
                load_method=LoadMode.DBT_LS,
                dbt_deps=False,
                emit_datasets=False,
                # a test of two models (relationships) runs after both, in its own task
                should_detach_multiple_parents_tests=True,
                # dbt unit tests (OASys thresholds, reoffending windows, OGRS3, unit costs)
                node_converters={DbtResourceType("unit_test"): _unit_test_task},
            ),
            operator_args={"install_deps": False},
            default_args=default_args(retries=1),
        )

        @task(outlets=[mart_asset(m) for m in MARTS])
        def soda_contracts() -> dict[str, Any]:
            from warehouse.quality import verify_contracts

            return verify_contracts(get_settings()).as_dict()

        @task
        def bi_access() -> int:
            """Roles, district logins and access.protect(), which dbt's post-hook calls."""
            from warehouse.access import ensure_access

            return len(ensure_access(get_settings()))

        bi_access() >> dbt >> soda_contracts()
    return transform


# -- sharing ------------------------------------------------------------------------------
def make_share_dag(agreement_id: str) -> DAG:
    """One DAG per data sharing agreement, on the agreement's cron schedule: verify the
    Soda contracts of the marts it reads (a failure stops the delivery), then write,
    deliver and log the extract."""
    from warehouse.sharing.agreements import get_agreement

    agreement = get_agreement(agreement_id)
    marts = sorted({d.mart for d in agreement.datasets})

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
            from warehouse.sharing.extract import period_of, share

            period = (params or {}).get("period") or period_of(logical_date)
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
