"""Metrics defined once: every MetricFlow metric of the semantic layer, queried through
MetricFlow against the built default warehouse, equals the mart figure (JSNA district
profile, demand trends, unit costs, reoffending summary) or the calibration query it
corresponds to."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from warehouse.db import connect
from warehouse.metrics import DBT_DIR, Metrics
from warehouse.transform import run_dbt

pytestmark = pytest.mark.integration

NEED_AREAS = ("ACCOM", "ETE", "RELAT", "LIFESTYLE", "DRUGS", "ALCOHOL", "THINKING", "ATTITUDES")


@pytest.fixture(scope="module")
def metrics(default_warehouse) -> Metrics:  # type: ignore[no-untyped-def]
    # MetricFlow reads dbt_project/target/semantic_manifest.json (as `mf query` does)
    run_dbt(default_warehouse, "parse", "--target-path", str(DBT_DIR / "target"))
    return Metrics(default_warehouse)


@pytest.fixture(scope="module")
def mart(default_warehouse):  # type: ignore[no-untyped-def]
    """Rows of a query over the marts, as dicts."""
    conn = connect(default_warehouse)

    def rows(query: str, *params: object) -> list[dict]:
        cur = conn.execute(query, params)
        names = [c.name for c in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    yield rows
    conn.close()


def _part(value: object) -> object:
    # MetricFlow returns a date dimension as a timestamp; the marts hold dates
    return value.date() if isinstance(value, datetime) else value


def _keyed(rows: list[dict], keys: tuple[str, ...], value: str) -> dict[tuple, object]:
    return {tuple(_part(r[k]) for k in keys): r[value] for r in rows}


def _close(got: object, want: object, places: int | None, tolerance: str) -> bool:
    """Equal, to the mart's precision: a mart value rounded to `places` decimals is matched
    within half a unit of its last place; otherwise within `tolerance` (relative)."""
    if got is None or want is None:
        return got is None and want is None
    g, w = Decimal(str(got)), Decimal(str(want))
    if places is not None:
        return abs(g - w) <= Decimal(5) / Decimal(10) ** (places + 1) + Decimal("1e-9")
    return abs(g - w) <= Decimal(tolerance) * max(Decimal(1), abs(w))


def _assert_equal(
    got: dict, want: dict, what: str, places: int | None = None, tolerance: str = "1e-6"
) -> None:
    assert want, f"{what}: the mart has no rows to compare"
    missing = sorted(set(want) - set(got))[:5]
    assert not missing, f"{what}: no metric value for {missing}"
    wrong = [(k, got[k], v) for k, v in want.items() if not _close(got[k], v, places, tolerance)]
    assert not wrong, f"{what}: {len(wrong)} of {len(want)} differ, e.g. {wrong[:3]}"


def test_caseload_equals_the_jsna_profile_and_the_calibration_totals(metrics, mart):
    by = ("caseload_month__la_code", "caseload_month__financial_year")
    got = _keyed(metrics.query(["caseload"], by), by, "caseload")
    want = _keyed(
        mart("select la_code, financial_year, caseload from marts.jsna_district_profile"),
        ("la_code", "financial_year"),
        "caseload",
    )
    _assert_equal(got, {k: v for k, v in want.items() if v}, "caseload by district x year")
    by_year = _keyed(
        metrics.query(["caseload"], ["caseload_month__financial_year"]),
        ("caseload_month__financial_year",),
        "caseload",
    )
    calibration = mart(  # warehouse/calibration.py: one row per offender x year, summed over tiers
        """select financial_year, count(*) as offenders from (
            select distinct on (offender_id, financial_year) offender_id, financial_year
            from marts.fct_caseload_monthly order by offender_id, financial_year
        ) as years group by financial_year"""
    )
    _assert_equal(by_year, _keyed(calibration, ("financial_year",), "offenders"), "caseload total")


def test_commencements_and_requirements_equal_the_demand_trends(metrics, mart):
    names = ["commencements", "community_commencements", "licence_commencements", "requirements"]
    by = ("commencement__la_code", "commencement__financial_year")
    got = metrics.query(names[:3], by)
    req_by = ("requirement__la_code", "requirement__financial_year")
    got_req = _keyed(metrics.query(["requirements"], req_by), req_by, "requirements")
    trends = mart("select * from marts.demand_trends_yearly")
    keys = ("la_code", "financial_year")
    for name in names[:3]:
        want = {k: v for k, v in _keyed(trends, keys, name).items() if v}
        _assert_equal(_keyed(got, by, name), want, name)
    want_req = {k: v for k, v in _keyed(trends, keys, "requirements").items() if v}
    _assert_equal(got_req, want_req, "requirements")


def test_requirement_metrics_equal_the_calibration_queries(metrics, mart):
    by = ("requirement__financial_year", "requirement__sentence_group")
    got = _keyed(metrics.query(["requirements"], by), by, "requirements")
    want = mart(
        """select financial_year, sentence_group, count(*) as n from marts.fct_requirements
        group by 1, 2"""
    )
    _assert_equal(got, _keyed(want, ("financial_year", "sentence_group"), "n"), "requirements")
    by_q = ("requirement__sentence_start_quarter", "requirement__requirement_type_code")
    got_q = metrics.query(
        ["sentences_with_requirement"],
        by_q,
        ["{{ Dimension('requirement__sentence_group') }} = 'community'"],
    )
    want_q = mart(
        """select sentence_start_quarter, requirement_type_code, count(distinct disposal_id) as n
        from marts.fct_requirements where sentence_group = 'community' group by 1, 2"""
    )
    _assert_equal(
        _keyed(got_q, by_q, "sentences_with_requirement"),
        _keyed(want_q, ("sentence_start_quarter", "requirement_type_code"), "n"),
        "sentences with each requirement per quarter",
    )


def test_need_prevalence_equals_the_jsna_need_shares(metrics, mart):
    by = (
        "assessment_need__la_code",
        "assessment_need__financial_year",
        "assessment_need__need_area_code",
    )
    got = metrics.query(["need_prevalence", "offenders_with_need"], by)
    profile = mart("select * from marts.jsna_district_profile where offenders_assessed > 0")
    for area in NEED_AREAS:
        col = area.lower()
        shares = {
            (r["la_code"], r["financial_year"], area): r[f"{col}_need_share"] for r in profile
        }
        counts = {
            (r["la_code"], r["financial_year"], area): r[f"{col}_need_offenders"] for r in profile
        }
        _assert_equal(_keyed(got, by, "need_prevalence"), shares, f"{area} need share", 4)
        _assert_equal(_keyed(got, by, "offenders_with_need"), counts, f"{area} need offenders")


def test_sentence_plan_gap_equals_the_jsna_profile_and_the_calibration(metrics, mart):
    by = ("objective__la_code", "objective__financial_year")
    names = ["sentence_plan_gap", "sentence_plan_objectives", "sentence_plan_gaps"]
    got = metrics.query(names, by)
    profile = mart("select * from marts.jsna_district_profile where sentence_plan_objectives > 0")
    keys = ("la_code", "financial_year")
    _assert_equal(
        _keyed(got, by, names[0]), _keyed(profile, keys, "sentence_plan_gap_share"), "gap", 4
    )
    for name in names[1:]:
        _assert_equal(_keyed(got, by, name), _keyed(profile, keys, name), name)
    area_by = ("objective__need_area_code",)
    got_area = metrics.query(
        ["sentence_plan_gap"], area_by, ["{{ Dimension('objective__is_need_identified') }} is true"]
    )
    want_area = mart(  # warehouse/calibration.py, _plan_gaps
        """select need_area_code, avg((not is_intervention_planned)::int) as gap
        from marts.fct_sentence_plan_objectives where is_need_identified group by 1"""
    )
    _assert_equal(
        _keyed(got_area, area_by, "sentence_plan_gap"),
        _keyed(want_area, ("need_area_code",), "gap"),
        "plan gap by need area",
    )


def test_unit_cost_equals_the_yearly_unit_cost_rows(metrics, mart):
    by = (
        "unit_cost__service_code",
        "unit_cost__unit_measure",
        "unit_cost__la_code",
        "unit_cost__financial_year",
    )
    got = _keyed(metrics.query(["unit_cost"], by), by, "unit_cost")
    want = mart(
        """select service_code, unit_measure, la_code, financial_year, cost_per_unit_gbp
        from marts.fct_unit_costs where cost_per_unit_gbp is not null"""
    )
    keys = ("service_code", "unit_measure", "la_code", "financial_year")
    _assert_equal(got, _keyed(want, keys, "cost_per_unit_gbp"), "unit cost", 2)  # pence


def test_reoffending_metrics_equal_the_reoffending_summary(metrics, mart):
    names = ["reoffending_rate", "predicted_reoffending_rate", "actual_vs_predicted"]
    # the whole area: the districts' counts summed, the area rates beside every district row
    area = mart(
        """select cohort_year, sum(cohort_size) as cohort_size, sum(reoffenders) as reoffenders,
            min(area_binary_rate) as binary_rate,
            min(area_predicted_binary_rate) as predicted_binary_rate,
            min(area_binary_rate) / min(area_predicted_binary_rate) as ratio
        from marts.fct_reoffending_summary group by cohort_year"""
    )
    by = ("cohort_member__cohort_year",)
    got = metrics.query([*names, "reoffending_cohort_size", "reoffenders"], by)
    _assert_equal(
        _keyed(got, by, names[0]), _keyed(area, ("cohort_year",), "binary_rate"), "rate", 4
    )
    _assert_equal(
        _keyed(got, by, names[1]),
        _keyed(area, ("cohort_year",), "predicted_binary_rate"),
        "predicted rate",
        4,
    )
    # the summary's rates are rounded to 4 places: their ratio agrees to about 1e-3
    want_ratio = _keyed(area, ("cohort_year",), "ratio")
    _assert_equal(_keyed(got, by, names[2]), want_ratio, "actual / predicted", tolerance="1e-3")
    for name, col in (("reoffending_cohort_size", "cohort_size"), ("reoffenders", "reoffenders")):
        _assert_equal(_keyed(got, by, name), _keyed(area, ("cohort_year",), col), name)
    district_by = ("cohort_member__la_code", "cohort_member__cohort_year")
    got_d = _keyed(metrics.query([names[0]], district_by), district_by, names[0])
    district = mart("select la_code, cohort_year, binary_rate from marts.fct_reoffending_summary")
    want_d = _keyed(district, ("la_code", "cohort_year"), "binary_rate")
    _assert_equal(got_d, want_d, "rate by district", 4)
