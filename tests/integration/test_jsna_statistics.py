"""The JSNA statistics (issue 14, point 4), recomputed outside the warehouse: every
indicator carries its count, denominator, 95 % interval, Greater Manchester value and flags;
a random sample of intervals agrees with statsmodels (Wilson) and scipy (Byar) to 1e-6;
partial years are left out; tied ward rates share a rank and a decile.

Read from the default warehouse (``default_warehouse`` in conftest.py), as the BI tools do.
"""

from __future__ import annotations

import math
import random
from decimal import Decimal

import psycopg
import pytest
import yaml
from scipy.stats import chi2, norm
from statsmodels.stats.proportion import proportion_confint

from tests.integration.conftest import BI_PASSWORD
from warehouse.access import district_role
from warehouse.db import connect
from warehouse.settings import PROJECT_ROOT

pytestmark = pytest.mark.integration

TOLERANCE = 1e-6
SAMPLE = 200
Z = norm.ppf(0.975)
DBT_VARS = yaml.safe_load((PROJECT_ROOT / "dbt_project" / "dbt_project.yml").read_text())["vars"]
SMALL = DBT_VARS["jsna_small_count"]
FLAG = {
    ("higher", "higher_is_worse"): "worse",
    ("higher", "higher_is_better"): "better",
    ("higher", "none"): "higher",
    ("lower", "higher_is_worse"): "better",
    ("lower", "higher_is_better"): "worse",
    ("lower", "none"): "lower",
}


def _rows(settings, sql: str) -> list[dict]:  # type: ignore[no-untyped-def]
    with connect(settings) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return [
            {k: float(v) if isinstance(v, Decimal) else v for k, v in row.items()}
            for row in cur.execute(sql)
        ]


def wilson(k: int, n: int) -> tuple[float, float]:
    return proportion_confint(k, n, alpha=0.05, method="wilson")


def byar(k: int) -> tuple[float, float]:
    """Byar's approximation to the exact Poisson limits of a count (Breslow & Day 1987)."""
    lower = 0.0 if k == 0 else k * (1 - 1 / (9 * k) - Z / (3 * math.sqrt(k))) ** 3
    upper = (k + 1) * (1 - 1 / (9 * (k + 1)) + Z / (3 * math.sqrt(k + 1))) ** 3
    return lower, upper


def exact_poisson(k: int) -> tuple[float, float]:
    """The exact (Garwood) limits from chi-square quantiles."""
    lower = 0.0 if k == 0 else chi2.ppf(0.025, 2 * k) / 2
    return lower, chi2.ppf(0.975, 2 * (k + 1)) / 2


def expected_interval(row: dict) -> tuple[float, float, float]:
    k, n = row["numerator"], row["denominator"]
    if row["unit"] == "proportion":
        return (k / n, *wilson(k, n))
    lower, upper = byar(k)
    return 1000 * k / n, 1000 * lower / n, 1000 * upper / n


def compare(lower: float, upper: float, low_end: float, high_end: float, polarity: str) -> str:
    if lower > high_end:
        return FLAG["higher", polarity]
    if upper < low_end:
        return FLAG["lower", polarity]
    return "similar"


@pytest.fixture(scope="module")
def indicators(default_warehouse) -> list[dict]:
    return _rows(default_warehouse, "select * from marts.jsna_indicators")


@pytest.fixture(scope="module")
def ward_need(default_warehouse) -> list[dict]:
    """The rows of each need area, and of any need (need_area_code ANY): both marts are
    rated and ranked by the same rules."""
    areas = _rows(default_warehouse, "select * from marts.jsna_ward_need_areas")
    wards = _rows(default_warehouse, "select * from marts.jsna_ward_need")
    return areas + [{**w, "need_area_code": "ANY"} for w in wards]


def test_every_share_and_rate_of_the_profile_is_an_indicator_for_every_area_and_year(
    default_warehouse, indicators
):
    profile = _rows(default_warehouse, "select * from marts.jsna_district_profile")
    # every proportion or rate built from counts (not the OGRS3 mean, not cost indices)
    columns = sorted(
        c for c in profile[0] if c.endswith(("_share", "_per_1000")) or c.endswith("binary_rate")
    )
    codes = {r["indicator_code"] for r in indicators}
    assert set(columns) == codes
    areas = {(r["financial_year"], r["indicator_code"]): set() for r in indicators}
    for r in indicators:
        areas[r["financial_year"], r["indicator_code"]].add(r["la_code"])
    districts = {p["la_code"] for p in profile}
    assert len(districts) == 10
    for key, seen in areas.items():
        assert seen == districts | {"E11000001"}, key
    # the value is the profile's published share or rate, unrounded
    published = {(p["la_code"], p["financial_year"]): p for p in profile}
    for r in indicators:
        if r["area_type"] == "district":
            digits = 2 if r["unit"] == "per_1000" else 4
            shown = published[r["la_code"], r["financial_year"]][r["indicator_code"]]
            assert round(r["value"], digits) == pytest.approx(shown, abs=1e-9), r


def test_every_indicator_row_has_count_denominator_interval_gm_value_and_flags(indicators):
    required = ["numerator", "denominator", "value", "lower_ci_95", "upper_ci_95", "gm_value"]
    required += ["gm_lower_ci_95", "gm_upper_ci_95"]
    for r in indicators:
        assert all(r[c] is not None for c in required), r
        assert r["denominator"] > 0 and 0 <= r["numerator"]
        assert r["lower_ci_95"] <= r["value"] <= r["upper_ci_95"], r
        assert r["is_small_number"] == (r["numerator"] < SMALL)
        if r["area_type"] == "greater_manchester":
            assert r["significance_vs_gm"] is None and r["value"] == r["gm_value"]
        elif r["is_small_number"]:  # documented: no CI-based flag on a small number
            assert r["significance_vs_gm"] == "not tested", r
        else:
            assert r["significance_vs_gm"] in {"better", "similar", "worse", "higher", "lower"}
        has_previous = r["financial_year"] != min(x["financial_year"] for x in indicators)
        if r["indicator_code"] == "reoffending_binary_rate":
            has_previous = r["previous_value"] is not None  # complete cohorts only
        assert (r["previous_value"] is not None) == has_previous, r
        assert (r["trend_vs_previous"] is not None) == has_previous, r


def test_a_sample_of_intervals_agrees_with_statsmodels_and_scipy_to_1e_6(
    indicators, ward_need, capsys
):
    rng = random.Random(14)
    sample = rng.sample(indicators, min(SAMPLE, len(indicators)))
    wards = rng.sample(ward_need, SAMPLE)
    worst = 0.0
    for r in sample:
        expected = expected_interval(r)
        actual = (r["value"], r["lower_ci_95"], r["upper_ci_95"])
        for e, a in zip(expected, actual, strict=True):
            assert a == pytest.approx(e, abs=TOLERANCE), r
            worst = max(worst, abs(a - e))
    for w in wards:
        lower, upper = byar(w["offenders_with_need"])
        for e, a in ((1000 * lower / w["population"], w["lower_ci_95"]),):
            assert a == pytest.approx(e, abs=TOLERANCE), w
            worst = max(worst, abs(a - e))
        a, e = w["upper_ci_95"], 1000 * upper / w["population"]
        assert a == pytest.approx(e, abs=TOLERANCE), w
        worst = max(worst, abs(a - e))
    # how far Byar is from the exact Poisson limits at the counts the rates are made of
    counts = [r["numerator"] for r in indicators if r["unit"] == "per_1000"]
    gap = max(
        abs(b - x) / x
        for k in counts
        for b, x in zip(byar(k), exact_poisson(k), strict=True)
        if x > 0
    )
    with capsys.disabled():
        print(
            f"\n{len(sample)} indicator and {len(wards)} ward intervals recomputed:"
            f" max abs difference {worst:.2e}; Byar vs exact Poisson at the rate counts"
            f" ({min(counts)}..{max(counts)}): max relative difference {gap:.1e}"
        )
    assert worst < TOLERANCE


def test_significance_and_trend_flags_follow_the_interval_rule(indicators):
    by_key = {(r["la_code"], r["financial_year"], r["indicator_code"]): r for r in indicators}
    seen = set()
    for r in indicators:
        gm = by_key["E11000001", r["financial_year"], r["indicator_code"]]
        assert (r["gm_value"], r["gm_lower_ci_95"], r["gm_upper_ci_95"]) == (
            gm["value"],
            gm["lower_ci_95"],
            gm["upper_ci_95"],
        )
        if r["area_type"] == "district" and not r["is_small_number"]:
            flag = compare(
                r["lower_ci_95"], r["upper_ci_95"], gm["value"], gm["value"], r["polarity"]
            )
            assert r["significance_vs_gm"] == flag, r
            seen.add(flag)
        start = int(r["financial_year"][:4]) - 1
        previous = by_key.get(
            (r["la_code"], f"{start}/{(start + 1) % 100:02d}", r["indicator_code"])
        )
        if previous is None:
            assert r["previous_value"] is None and r["trend_vs_previous"] is None
            continue
        assert r["previous_value"] == previous["value"]
        if r["is_small_number"] or previous["is_small_number"]:
            assert r["trend_vs_previous"] == "not tested"
        else:
            trend = compare(
                r["lower_ci_95"],
                r["upper_ci_95"],
                previous["lower_ci_95"],
                previous["upper_ci_95"],
                r["polarity"],
            )
            assert r["trend_vs_previous"] == trend, r
    # the rule was exercised both ways, and in both vocabularies
    assert {"better", "worse", "higher", "lower", "similar"} <= seen


def test_ward_rates_carry_the_greater_manchester_rate_and_flags_by_the_same_rule(ward_need):
    totals: dict[tuple[str, str], list[int]] = {}
    for w in ward_need:
        key = (w["financial_year"], w["need_area_code"])
        totals.setdefault(key, [0, 0])
        totals[key][0] += w["offenders_with_need"]
        totals[key][1] += w["population"]
    by_key = {(w["ward_code"], w["financial_year"], w["need_area_code"]): w for w in ward_need}
    seen = set()
    for w in ward_need:
        k, n = totals[w["financial_year"], w["need_area_code"]]
        lower, upper = byar(k)
        expected = (1000 * k / n, 1000 * lower / n, 1000 * upper / n)
        actual = (w["gm_value"], w["gm_lower_ci_95"], w["gm_upper_ci_95"])
        assert actual == pytest.approx(expected, abs=TOLERANCE), w
        if w["is_small_number"]:
            assert w["significance_vs_gm"] == "not tested"
        else:
            flag = compare(
                w["lower_ci_95"], w["upper_ci_95"], w["gm_value"], w["gm_value"], "higher_is_worse"
            )
            assert w["significance_vs_gm"] == flag, w
            seen.add(flag)
        start = int(w["financial_year"][:4]) - 1
        previous = by_key.get(
            (w["ward_code"], f"{start}/{(start + 1) % 100:02d}", w["need_area_code"])
        )
        if previous is None:
            assert w["previous_value"] is None and w["trend_vs_previous"] is None
        elif w["is_small_number"] or previous["is_small_number"]:
            assert w["trend_vs_previous"] == "not tested"
        else:
            trend = compare(
                w["lower_ci_95"],
                w["upper_ci_95"],
                previous["lower_ci_95"],
                previous["upper_ci_95"],
                "higher_is_worse",
            )
            assert w["trend_vs_previous"] == trend, w
    assert {"better", "similar", "worse"} <= seen


def test_ward_counts_are_the_distinct_offenders_with_the_need_recounted(
    default_warehouse, ward_need
):
    # GIVEN each offender's needs at their latest assessment in each year (one row per
    # offender, year and section; an offender with several needs has several rows)
    rows = _rows(
        default_warehouse,
        "select ward_code, financial_year, need_area_code, offender_id, is_need"
        " from intermediate.int_needs_at_latest_assessment_in_year",
    )
    # WHEN the offenders with a need are recounted here, per ward, year and need area, and
    # per ward and year for any need (an offender with three needs counts once)
    offenders: dict[tuple[str, str, str], set[int]] = {}
    for r in rows:
        for area in (r["need_area_code"], "ANY"):
            key = (r["ward_code"], r["financial_year"], area)
            offenders.setdefault(key, set())
            if r["is_need"]:
                offenders[key].add(r["offender_id"])
    # THEN every published ward count is that recount (0 where the ward had none)
    several = 0
    for w in ward_need:
        key = (w["ward_code"], w["financial_year"], w["need_area_code"])
        assert w["offenders_with_need"] == len(offenders.get(key, ())), key
        several += w["need_area_code"] == "ANY" and w["offenders_with_need"] > 0
    assert several > 0


def test_partial_years_are_left_out(default_warehouse, indicators, ward_need):
    # GIVEN assessments dated after the data end (1-20 April 2009, financial year 2009/10)
    source_years = {
        r["financial_year"]
        for r in _rows(
            default_warehouse,
            "select distinct financial_year from intermediate.int_needs_at_latest_assessment_in_year",
        )
    }
    assert "2009/10" in source_years
    # THEN only the years the data cover from 1 April to 31 March are published
    complete = {"2006/07", "2007/08", "2008/09"}
    assert {r["financial_year"] for r in ward_need} == complete
    assert {r["financial_year"] for r in indicators} == complete


def test_tied_ward_rates_share_rank_and_decile(ward_need):
    groups: dict[tuple[str, str], list[dict]] = {}
    for w in ward_need:
        groups.setdefault((w["financial_year"], w["need_area_code"]), []).append(w)
    tied = 0
    for rows in groups.values():
        rates = [w["offenders_with_need_per_1000"] for w in rows]
        places: dict[float, set[tuple[int, int]]] = {}
        for w in rows:
            rate = w["offenders_with_need_per_1000"]
            # rank: 1 + wards with a higher rate; decile: where that rank falls
            rank = 1 + sum(other > rate for other in rates)
            assert w["need_rank"] == rank, w
            assert w["need_decile"] == 1 + (10 * (rank - 1)) // len(rows), w
            places.setdefault(rate, set()).add((w["need_rank"], w["need_decile"]))
        assert all(len(p) == 1 for p in places.values())
        tied += len(rates) - len(places)
    assert tied > 0, "no tied rates: the test would prove nothing"


def test_a_district_login_sees_the_greater_manchester_value_on_its_own_rows(default_warehouse):
    info = default_warehouse.conninfo()
    with psycopg.connect(
        host=info.host,
        port=info.port,
        dbname=info.dbname,
        user=district_role("Bolton"),
        password=BI_PASSWORD,
    ) as conn:
        rows = conn.execute(
            "select la_code, count(*), count(gm_value), count(significance_vs_gm)"
            " from marts.jsna_indicators group by la_code"
        ).fetchall()
    # row-level security shows Bolton its own rows, each carrying the area figure, and the
    # Greater Manchester rows themselves (the comparator; no other district's)
    by_code = {code: (n, with_gm, with_flag) for code, n, with_gm, with_flag in rows}
    assert set(by_code) == {"E08000001", "E11000001"}
    n, with_gm, with_flag = by_code["E08000001"]
    assert n == with_gm == with_flag > 0
