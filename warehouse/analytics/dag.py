"""The analytics DAG's factory: one task per step of ``warehouse.analytics.steps``."""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import DAG, task

from warehouse.orchestration import START, default_args, mart_asset, marts_asset
from warehouse.settings import get_settings

log = logging.getLogger(__name__)


def make_analytics_dag() -> DAG:
    """Scheduled on the transform DAG's asset ``warehouse.marts`` (the marts built and
    their Soda contracts passed); each step's task runs the step, builds its models and
    verifies their Soda contracts, and produces its marts as assets."""
    from warehouse.analytics.steps import STEPS

    with DAG(
        dag_id="analytics",
        schedule=[marts_asset()],
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=default_args(retries=1),
        tags=[
            "layer:analytics",
            "tool:splink",
            "tool:sklearn",
            "tool:statsmodels",
            "tool:dbt",
            "tool:soda",
        ],
        doc_md=ANALYTICS_DOC,
    ) as analytics:
        previous = None
        for step in STEPS:
            current = _step_task(step.name, [mart_asset(m) for m in step.models])
            if previous is not None:
                previous >> current
            previous = current
    return analytics


def _step_task(name: str, outlets: list[Any]) -> Any:
    @task(task_id=name, outlets=outlets, doc_md=f"analytics step `{name}`: run, dbt build, Soda")
    def step() -> dict[str, float | str]:
        from warehouse.analytics.steps import get_step, run_step

        figures = run_step(get_settings(), get_step(name))
        log.info("%s: %s", name, figures)
        return figures

    return step().operator


ANALYTICS_DOC = """
### Analytics: the steps beyond the marts
Runs after every transform run whose Soda contracts passed (the asset `warehouse.marts`). One task per step of
`warehouse/analytics/steps.py`, in order (`link`: partner record linkage with Splink;
`evaluate`: matched impact evaluation; `forecast`: demand forecast; `cost_by_complexity`):
the step's package function (writing the `linkage` or `analytics` schema, which no BI
role reads), then
`dbt build --select` of the step's models (tag `analytics`, which the transform DAG's build
leaves out), then their Soda contracts (`expectations/soda/analytics/`). The task returns
the figures the step measured. By hand: `warehouse link`, `warehouse analytics [--step]`.
"""
