"""The analytics steps, in order: each runs its Python module (``run(settings) -> dict``
of figures measured), then ``dbt build`` of its models, then their Soda contracts
(``expectations/soda/analytics/``). The CLI, the analytics DAG and the benchmark use this
one list."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from warehouse.analytics import costing, evaluation, forecast
from warehouse.settings import Settings


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[Settings], dict[str, Any]]
    models: list[str] = field(default_factory=list)  # dbt models it feeds (staging + mart)

    @property
    def marts(self) -> list[str]:
        return [m for m in self.models if not m.startswith("stg_")]


STEPS = [
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
    raise KeyError(f"no analytics step {name!r}; steps: {', '.join(s.name for s in STEPS)}")


def build_models(settings: Settings, step: Step) -> int:
    """``dbt build`` of the step's models (their tests included); returns models built."""
    from warehouse.transform import run_dbt

    report = run_dbt(settings, "build", "--select", *step.models)
    return report.count("model", "success")


def verify(settings: Settings, step: Step) -> int:
    """The Soda contracts of the step's marts; returns the checks passed."""
    from warehouse.quality import ANALYTICS_CONTRACTS_DIR, verify_contracts

    return verify_contracts(settings, step.marts, ANALYTICS_CONTRACTS_DIR).checks_passed


def run_step(settings: Settings, step: Step) -> dict[str, Any]:
    """Run, build, verify: what one task of the analytics DAG does, in one call."""
    figures = step.run(settings)
    build_models(settings, step)
    verify(settings, step)
    return figures
