"""The analytics steps, in the order the analytics DAG runs them.

Each step is a package function ``run(settings) -> dict[str, float | str]`` (the figures
it measured) that writes tables outside the BI schemas (``linkage``, ``analytics``), then
the dbt models built on those tables (tag ``analytics``, left out of the transform DAG's
build), then their Soda contracts (``expectations/soda/analytics/``). ``run_step`` does the
three; the DAG (``dags/analytics.py``) has one task per step, the CLI (``warehouse link``,
``warehouse analytics``) and ``make bench-analytics`` use this one list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from warehouse.analytics import costing, evaluation, forecast, linkage
from warehouse.settings import Settings

Figures = dict[str, float | str]


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[Settings], Figures]
    models: list[str] = field(default_factory=list)  # dbt models built after ``run``

    @property
    def marts(self) -> list[str]:
        return [m for m in self.models if not m.startswith("stg_")]


STEPS = [
    Step(
        "link",
        linkage.run,
        models=[
            "stg_linkage__partner_record_links",
            "fct_partner_record_links",
            "jsna_partner_linkage",
        ],
    ),
    Step(
        "evaluate",
        evaluation.run,
        models=["stg_analytics__intervention_evaluations", "fct_intervention_evaluations"],
    ),
    Step(
        "forecast", forecast.run, models=["stg_analytics__demand_forecasts", "fct_demand_forecast"]
    ),
    Step(
        "cost_by_complexity",
        costing.run,
        models=["stg_analytics__cost_by_complexity", "fct_cost_by_complexity"],
    ),
]


def get_step(name: str) -> Step:
    for step in STEPS:
        if step.name == name:
            return step
    raise KeyError(f"no analytics step {name!r} (steps: {', '.join(s.name for s in STEPS)})")


def build_models(settings: Settings, step: Step) -> int:
    """``dbt build`` of the step's models (their tests included); returns models built."""
    from warehouse.transform import run_dbt

    report = run_dbt(settings, "build", "--select", *step.models)
    return report.count("model", "success")


def verify(settings: Settings, step: Step) -> int:
    """The Soda contracts of the step's marts that have one; returns the checks passed."""
    from warehouse.quality import ANALYTICS_CONTRACTS_DIR, verify_contracts

    contracts = [m for m in step.marts if (ANALYTICS_CONTRACTS_DIR / f"{m}.yml").exists()]
    if not contracts:
        return 0
    return verify_contracts(settings, contracts, ANALYTICS_CONTRACTS_DIR).checks_passed


def run_step(settings: Settings, step: Step) -> Figures:
    """The step's ``run``, then ``dbt build`` of its models, then their Soda contracts
    (raises ``DbtFailed`` or ``ContractFailed`` naming what failed)."""
    from warehouse import progress

    progress.advance("analytics", 0, total=len(STEPS), step=step.name)
    figures = step.run(settings)
    if step.models:
        build_models(settings, step)
        figures["soda_checks_passed"] = float(verify(settings, step))
    progress.advance("analytics", 1, total=len(STEPS), step=step.name)
    return figures
