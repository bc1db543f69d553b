"""``make bench-analytics``: the analytics measured against the truth the generator plants.

On the local warehouse holding the default dataset (generated, ingested and built first
when its marts are missing, or with ``--fresh``): runs every analytics step (Python, dbt
build of its mart, Soda contract), then measures

* linkage precision and recall at the chosen threshold
  (``warehouse.analytics.linkage.link_and_score(settings)``);
* whether the planted programme effect (``$WAREHOUSE_HOME/truth/interventions.json``,
  never loaded) lies in the evaluation's 95 % interval, and the naive comparison's miss
  (naive difference minus the true effect, percentage points);
* the median MASE of the forecast backtest against the seasonal naive forecast;
* the cost-by-complexity allocation against the ledger, in pennies.

Writes the "Analytics" section of ``BENCHMARKS.md``; the last line printed is
``linkage_precision=<p> linkage_recall=<r> evaluation_effect_in_ci=<yes|no>
naive_bias_pp=<b> forecast_mase=<m>``.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from warehouse.settings import Settings, get_settings

SECTION = "## Analytics (make bench-analytics)"
EVALUATED = ("PROG", "2006/07")  # the complete cohort year with the most participants


def ensure_default_dataset(settings: Settings, fresh: bool) -> None:
    """Start the local warehouse; generate, ingest and build when the marts are missing."""
    from warehouse.db import connect
    from warehouse.localdb import start_local
    from warehouse.pipeline import generate_landing, ingest_feed, ingest_strays
    from warehouse.transform import run_dbt

    if settings.is_local:
        start_local(settings)
    with connect(settings) as conn:
        built = conn.execute("select to_regclass('marts.fct_reoffending_cohort')").fetchone()[0]
    if built and not fresh:
        return
    from ingestion.feeds import ALL_FEEDS
    from ingestion.runner import IngestionError

    generate_landing(settings)
    for feed in ALL_FEEDS:
        try:
            ingest_feed(settings, feed.name, None)
        except IngestionError:
            pass  # bad data is quarantined or rejected; what loaded is measured
    ingest_strays(settings)
    run_dbt(settings, "build")


def measure_linkage(settings: Settings) -> tuple[str, str]:
    from warehouse.analytics.linkage import link_and_score

    figures = link_and_score(settings)
    return f"{figures['linkage_precision']:.4f}", f"{figures['linkage_recall']:.4f}"


def measure_evaluation(settings: Settings) -> dict[str, Any]:
    from warehouse.analytics.evaluation import evaluate_intervention

    path = settings.home / "truth" / "interventions.json"
    if not path.exists():
        raise SystemExit(f"{path} is missing: the data predates the planted effect (--fresh)")
    truth = json.loads(path.read_text())
    code, cohort = EVALUATED
    true_effect = truth["cohorts"][cohort]["true_effect_binary"]
    ev = evaluate_intervention(settings, code, cohort)
    low, high = ev.binary.difference_ci
    return {
        "cohort": cohort,
        "participants": ev.participants,
        "matched": len(ev.matched.treated),
        "true_effect": true_effect,
        "estimate": ev.binary.difference,
        "ci": (low, high),
        "in_ci": low <= true_effect <= high,
        "naive": ev.naive_binary[1],
        "naive_bias_pp": (ev.naive_binary[1] - true_effect) * 100,
        "smd_after": ev.max_smd[1],
    }


def measure_tables(settings: Settings) -> dict[str, Any]:
    from warehouse.db import connect

    with connect(settings) as conn:
        mases = [
            float(r[0])
            for r in conn.execute(
                "select distinct on (measure, la_code, subtype) mase "
                "from analytics.demand_forecast order by measure, la_code, subtype"
            )
        ]
        ledger, allocated = conn.execute(
            "select (select sum(actual_gbp) from marts.fct_service_costs), "
            "(select sum(total_gbp) from marts.fct_cost_by_complexity)"
        ).fetchone()
    mases.sort()
    mid = len(mases) // 2
    median = (mases[mid] if len(mases) % 2 else (mases[mid - 1] + mases[mid]) / 2) if mases else 0
    return {
        "series": len(mases),
        "median_mase": median,
        "beating_naive": sum(m < 1 for m in mases),
        "ledger_gbp": ledger,
        "allocated_gbp": allocated,
    }


def main(argv: list[str]) -> None:
    from warehouse.analytics.steps import STEPS, run_step
    from warehouse.bench_build import measured_on, replace_section

    settings = get_settings()
    ensure_default_dataset(settings, "--fresh" in argv)
    timings = {}
    for step in STEPS:
        started = time.perf_counter()
        run_step(settings, step)
        timings[step.name] = time.perf_counter() - started
    precision, recall = measure_linkage(settings)
    ev = measure_evaluation(settings)
    tables = measure_tables(settings)
    lines = [
        SECTION,
        "",
        measured_on() + "Default dataset (scale 1), every analytics step with its dbt build "
        "and Soda contract; truth from the generator's `truth/` report.",
        "",
        "| figure | value | target |",
        "|---|---|---|",
        f"| linkage precision / recall | {precision} / {recall} | >= 0.97 / >= 0.95 |",
        f"| PROG completers, cohort {ev['cohort']}: participants (matched) | "
        f"{ev['participants']} ({ev['matched']}) | >= 60 |",
        f"| planted effect vs matched estimate (95 % CI), pp | {ev['true_effect'] * 100:+.2f} vs "
        f"{ev['estimate'] * 100:+.2f} ({ev['ci'][0] * 100:+.2f} to {ev['ci'][1] * 100:+.2f}) | "
        "inside the CI |",
        f"| naive difference, pp (miss) | {ev['naive'] * 100:+.2f} ({ev['naive_bias_pp']:+.2f}) "
        "| miss >= 3 pp |",
        f"| largest abs SMD after matching | {ev['smd_after']:.3f} | < 0.1 |",
        f"| forecast series / beating seasonal naive | {tables['series']} / "
        f"{tables['beating_naive']} | |",
        f"| median MASE vs seasonal naive | {tables['median_mase']:.3f} | < 1.0 |",
        f"| ledger vs allocated, GBP | {tables['ledger_gbp']} vs {tables['allocated_gbp']} | "
        "equal to the penny |",
        "| step seconds | " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()) + " | |",
    ]
    replace_section(SECTION, [*lines, ""])
    print("\n".join(lines[4:]))
    print(
        f"linkage_precision={precision} linkage_recall={recall} "
        f"evaluation_effect_in_ci={'yes' if ev['in_ci'] else 'no'} "
        f"naive_bias_pp={ev['naive_bias_pp']:.2f} forecast_mase={tables['median_mase']:.3f}"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
