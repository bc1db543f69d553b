"""The analytics steps on a copy of the default warehouse: each writes its table, its mart
builds with an enforced contract and passes its Soda contract, and the figures hold."""

from __future__ import annotations

import pytest

from warehouse.analytics.evaluation import EvaluationRefused, evaluate_intervention
from warehouse.analytics.steps import build_models, get_step, verify
from warehouse.db import connect

pytestmark = pytest.mark.integration


def _one(settings, sql: str):
    with connect(settings) as conn:
        return conn.execute(sql).fetchall()


def test_the_transform_build_leaves_the_analytics_marts_to_the_analytics_steps(warehouse_copy):
    from warehouse.analytics.steps import STEPS
    from warehouse.transform import run_dbt

    # dbt with no --select (as the transform DAG's build runs) takes the default selector
    report = run_dbt(warehouse_copy, "compile")
    compiled = {uid.split(".")[-1] for uid in report.nodes if uid.startswith("model.")}
    assert "jsna_indicators" in compiled  # the selector's whole project, less the analytics
    analytics = {m for step in STEPS for m in step.models}
    assert compiled & analytics == set()


def test_cost_by_complexity_reconciles_with_the_ledger_to_the_penny(warehouse_copy):
    step = get_step("cost_by_complexity")
    figures = step.run(warehouse_copy)
    build_models(warehouse_copy, step)
    # a re-run (an Airflow retry) with dbt's staging view already reading the table
    assert step.run(warehouse_copy) == figures
    build_models(warehouse_copy, step)
    assert verify(warehouse_copy, step) > 0
    assert figures["allocated_pennies"] == figures["ledger_pennies"]
    mismatches = _one(
        warehouse_copy,
        """
        select l.financial_year, l.actual, c.allocated
        from (select financial_year, sum(actual_gbp) as actual
              from marts.fct_service_costs group by 1) as l
        full join (select financial_year, sum(total_gbp) as allocated
                   from marts.fct_cost_by_complexity group by 1) as c using (financial_year)
        where l.actual is distinct from c.allocated
        """,
    )
    assert mismatches == []
    # tier 4 costs more per offender-year than tier 1 in every year
    by_tier = _one(
        warehouse_copy,
        """
        select financial_year, tier, sum(total_gbp) / sum(offender_years)
        from (select distinct on (financial_year, tier, need_band, ogrs3_band)
                  financial_year, tier, need_band, ogrs3_band, offender_years
              from marts.fct_cost_by_complexity) as cells
        join (select financial_year, tier, need_band, ogrs3_band, sum(total_gbp) as total_gbp
              from marts.fct_cost_by_complexity group by 1, 2, 3, 4) as costs
            using (financial_year, tier, need_band, ogrs3_band)
        where tier in (1, 4) group by 1, 2 order by 1, 2
        """,
    )
    per_year = {}
    for fy, tier, cost in by_tier:
        per_year.setdefault(fy, {})[tier] = cost
    assert per_year and all(t[4] > t[1] for t in per_year.values()), per_year


def test_the_forecast_gives_nested_intervals_and_a_backtest_per_series(default_warehouse):
    # the session's warehouse ran the forecast step as the analytics DAG does (its table, its
    # mart's dbt build and Soda contract: run_step raises on any failure); forecasting the
    # 95 series again here would add minutes and test nothing more
    step = get_step("forecast")
    assert verify(default_warehouse, step) > 0
    ((series, median_mase),) = _one(
        default_warehouse,
        """
        select count(*), percentile_cont(0.5) within group (order by mase)
        from (select distinct measure, la_code, requirement_type_code, mase
              from marts.fct_demand_forecast) as per_series
        """,
    )
    assert series >= 40, series  # 10 districts x (3 measures + requirement types)
    bad = _one(
        default_warehouse,
        """
        select measure, la_code, requirement_type_code, count(*)
        from marts.fct_demand_forecast
        group by 1, 2, 3
        having count(*) <> 12
            or bool_or(not (lower_95 <= lower_80 and lower_80 <= forecast
                            and forecast <= upper_80 and upper_80 <= upper_95))
            or count(distinct mase) <> 1
        """,
    )
    assert bad == []
    assert median_mase < 1.0, median_mase


def test_the_evaluation_matches_and_refuses_small_groups(warehouse_copy):
    ev = evaluate_intervention(warehouse_copy, "PROG", "2006")
    step = get_step("evaluate")
    build_models(warehouse_copy, step)
    assert verify(warehouse_copy, step) > 0
    assert ev.participants >= 60 and len(ev.matched.treated) >= 60
    assert ev.max_smd[1] < 0.1
    rows = _one(
        warehouse_copy,
        "select outcome, participants, difference_ci_low <= difference, what_you_can_say "
        "from marts.fct_intervention_evaluations where cohort_year = '2006/07' order by 1",
    )
    assert [r[0] for r in rows] == ["binary", "frequency"]
    assert rows[0][2] and rows[0][3]
    with pytest.raises(EvaluationRefused, match="at least 60"):
        evaluate_intervention(warehouse_copy, "MHTR", "2006/07")
