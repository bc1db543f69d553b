"""The analytics DAG factory: scheduled on the marts the transform DAG produces; one task
group per step of ``warehouse/analytics/steps.py`` (run, dbt build of its models, Soda)."""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, task

from warehouse.orchestration import START, default_args, mart_asset
from warehouse.settings import get_settings

# the marts the steps read: the DAG runs once the transform DAG has rebuilt them
INPUT_MARTS = (
    "fct_reoffending_cohort",
    "fct_commencements",
    "fct_requirements",
    "fct_caseload_monthly",
    "fct_court_reports",
    "fct_assessment_needs",
    "fct_service_costs",
)

DOC = """
### Analytics: matched evaluation, demand forecast, cost by complexity
Runs when the transform DAG has rebuilt the marts it reads. Each step of
`warehouse/analytics/steps.py` is three tasks: `run` (the Python module: scikit-learn /
statsmodels on the marts, results into the `analytics` schema, figures in XCom), `dbt`
(`dbt build --select` of its staging view and mart, with their tests) and `soda` (the
mart's contract in `expectations/soda/analytics/`). By hand: `warehouse analytics`.
"""


def _step_tasks(name: str, marts: list[str]) -> Any:
    from airflow.sdk import TaskGroup

    with TaskGroup(name) as group:

        @task(task_id="run")
        def run_python() -> dict[str, Any]:
            from warehouse.analytics.steps import get_step

            return get_step(name).run(get_settings())

        @task(task_id="dbt")
        def build(figures: dict[str, Any]) -> int:
            from warehouse.analytics.steps import build_models, get_step

            return build_models(get_settings(), get_step(name))

        @task(task_id="soda", outlets=[mart_asset(m) for m in marts])
        def soda(models: int) -> int:
            from warehouse.analytics.steps import get_step, verify

            return verify(get_settings(), get_step(name))

        soda(build(run_python()))
    return group


def make_analytics_dag() -> DAG:
    from warehouse.analytics.steps import STEPS

    schedule = None
    for mart in INPUT_MARTS:
        schedule = mart_asset(mart) if schedule is None else (schedule & mart_asset(mart))
    with DAG(
        dag_id="analytics",
        schedule=schedule,
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=default_args(retries=1),
        tags=["layer:analytics", "tool:dbt", "tool:soda", "tool:sklearn"],
        doc_md=DOC,
    ) as dag:
        for step in STEPS:
            _step_tasks(step.name, step.marts)
    return dag
