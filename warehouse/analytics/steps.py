"""The analytics steps, in the order the analytics DAG runs them.

Each step is a package function ``run(settings) -> dict[str, float | str]`` (the figures
it measured) that writes tables outside the BI schemas, then the dbt models built on
those tables (tag ``analytics``, left out of the transform DAG's build), then their Soda
contracts (``expectations/soda/analytics/``). ``run_step`` does the three; the DAG
(``dags/analytics.py``) has one task per step and ``warehouse link`` runs one by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from warehouse.analytics import linkage
from warehouse.settings import Settings

Figures = dict[str, float | str]


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[Settings], Figures]
    models: list[str] = field(default_factory=list)  # dbt models built after ``run``


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
]


def get_step(name: str) -> Step:
    for step in STEPS:
        if step.name == name:
            return step
    raise KeyError(f"no analytics step {name!r} (steps: {', '.join(s.name for s in STEPS)})")


def run_step(settings: Settings, step: Step) -> Figures:
    """The step's ``run``, then ``dbt build`` of its models, then their Soda contracts
    (raises ``DbtFailed`` or ``ContractFailed`` naming what failed)."""
    from warehouse.quality import ANALYTICS_CONTRACTS_DIR, verify_contracts
    from warehouse.transform import run_dbt

    figures = step.run(settings)
    if step.models:
        run_dbt(settings, "build", "--select", *step.models)
        contracts = [m for m in step.models if (ANALYTICS_CONTRACTS_DIR / f"{m}.yml").exists()]
        if contracts:
            report = verify_contracts(settings, contracts, ANALYTICS_CONTRACTS_DIR)
            figures["soda_checks_passed"] = float(report.checks_passed)
    return figures
