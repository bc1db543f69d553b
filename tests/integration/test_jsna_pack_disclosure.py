"""The JSNA pack attacked as its recipients would: a partnership reads every figure of its
district's pack (tables, sentences, and the charts, whose marks carry their values to the
pixel). Every rate, share, interval and cost it shows must be arithmetic on counts it
publishes (rounded, small ones hidden): a share computed from exact counts gives them back
(its 0.1 %, or a bar's height, pins the numerator and denominator), and with them the
small cells that differencing reaches. Checked for every district, on the figures the
sections hand to the renderer; the cohort splits are also attacked by integer programming."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.attacker import Model
from warehouse.report import district_controls
from warehouse.report.methods import methods_section
from warehouse.report.model import Context
from warehouse.report.sections_analytics import (
    _evaluations,
    evaluation_section,
    forecast_section,
    marginal_costs,
)
from warehouse.report.sections_profile import (
    indicator_series,
    indicators,
    need_by,
    spine_section,
    tier_mix,
)
from warehouse.report.sections_services import (
    COHORT_SPLITS,
    _cohort_rates,
    _published_unit_costs,
    _published_wards,
)
from warehouse.sharing.agreements import all_agreements
from warehouse.sharing.periods import financial_year

pytestmark = pytest.mark.integration

PERIOD = "2008-09"


def contexts(conn, period: str = PERIOD) -> Iterator[Context]:  # type: ignore[no-untyped-def]
    districts = conn.execute(
        "select la_code, la_name from marts.dim_district where la_code in "
        "(select la_code from marts.jsna_district_profile) order by 1"
    ).fetchall()
    assert len(districts) == 10
    for la_code, la_name in districts:
        controls, source = district_controls(la_code)
        yield Context(conn, la_code, la_name, period, financial_year(period), controls, source)


@pytest.fixture(scope="module")
def conn(default_warehouse):  # type: ignore[no-untyped-def]
    from warehouse.db import connect

    with connect(default_warehouse) as c:
        yield c


def published(ctx: Context, value: float | None) -> bool:
    """A count as the pack publishes it: 0 or a multiple of the rounding base at or above
    the threshold."""
    return value is not None and value == int(value) and int(value) % ctx.controls.rounding == 0


def test_the_pack_uses_the_strictest_control_of_any_agreement_receiving_its_figures(conn):
    # GIVEN every aggregate agreement whose datasets take a district's rows (its CSP's, and
    # the regional commissioner's area-wide tables of the same cohorts)
    for ctx in contexts(conn):
        receiving = [
            a.disclosure
            for a in all_agreements()
            if a.level == "aggregate"
            and a.disclosure is not None
            and any(d.filter.get("la_code") in (None, ctx.la_code) for d in a.datasets)
        ]
        # THEN the pack is controlled as strictly as the strictest of them
        assert ctx.controls.threshold == max(c.threshold for c in receiving) > 8
        assert ctx.controls.rounding == max(c.rounding for c in receiving)


def test_every_indicator_value_and_interval_comes_from_its_published_counts(conn):
    shown = 0
    for ctx in contexts(conn):
        for r in indicators(ctx):
            if r["value"] is None:
                assert r["lower_ci_95"] is None and r["significance_vs_gm"] is None
                continue
            shown += 1
            k = ctx.count(r["numerator"])
            assert published(ctx, k), r["indicator_code"]
            if r["unit"] == "proportion":
                n = r["value"] and k / r["value"]
                # the denominator it implies is itself a published count
                assert n is not None and published(ctx, round(n, 6)), (ctx.la_code, r)
            else:  # per 1,000 of the ONS population (public)
                assert r["value"] == pytest.approx(1000 * k / r["denominator"], rel=1e-12)
            assert r["lower_ci_95"] <= r["value"] <= r["upper_ci_95"]
    assert shown > 100


def test_the_trend_series_are_published_counts_and_stop_at_the_packs_year(conn):
    for ctx in contexts(conn, "2006-07"):
        years, series = indicator_series(ctx, "caseload_per_1000", ctx.la_code, ctx.la_name)
        assert years and max(years) <= ctx.fy
        population = dict(
            ctx.conn.execute(
                "select financial_year, denominator from marts.jsna_indicators "
                "where la_code = %s and indicator_code = 'caseload_per_1000'",
                [ctx.la_code],
            ).fetchall()
        )
        for year, v in zip(years, series.values, strict=True):
            assert v is not None
            assert published(ctx, round(v * population[year] / 1000, 6)), (ctx.la_code, year)


def test_a_pack_for_an_earlier_year_shows_no_forecast_made_after_it(conn):
    for ctx in contexts(conn, "2006-07"):
        s = forecast_section(ctx)
        assert not s.charts and not s.tables
        assert any("does not show it" in n for n in s.notes)


def test_reoffending_rates_are_published_counts_and_the_splits_resist_differencing(conn):
    attacked = 0
    for ctx in contexts(conn):
        # the cohort shown is one whose outcome was known by the end of the pack's year
        year = ctx.last_complete_cohort
        assert (ctx.fy, year) == ("2008/09", "2006/07")  # as the CSPs' district_profile
        split = _cohort_rates(ctx, year)
        # every rate shown is the published reoffenders over the published cohort
        for rows in split.values():
            for r in rows:
                # the mean predicted probability to the printed 0.1 %: finer, the sum of
                # 4-decimal scores pins the group's size
                assert r["predicted"] is None or r["predicted"] == round(r["predicted"], 3)
                if r["rate"] is not None:
                    assert published(ctx, r["size_shown"])
                    assert published(ctx, r["reoffenders_shown"])
                    assert r["rate"] == r["reoffenders_shown"] / r["size_shown"]
        # the attacker: both splits partition the cohort the spine counts (its reoffenders,
        # and the cohort its published rate implies)
        spine = [
            r
            for r in indicators(ctx, fy=year)
            if r["indicator_code"] == "reoffending_binary_rate" and r["value"] is not None
        ]
        model = Model()
        for r in spine:  # the year's cohort, when the spine shows it
            k = ctx.count(r["numerator"])
            model.observe(("reoffenders",), str(k), ctx.controls)
            model.observe(("cohort",), str(round(k / r["value"])), ctx.controls)
        for column, _ in COHORT_SPLITS:
            for r in split[column]:
                size, reoff = (column, r["grp"], "size"), (column, r["grp"], "reoffenders")
                model.observe(
                    size, "*" if r["size_shown"] is None else str(r["size_shown"]), ctx.controls
                )
                model.observe(
                    reoff,
                    "*" if r["reoffenders_shown"] is None else str(r["reoffenders_shown"]),
                    ctx.controls,
                )
                model.at_most(reoff, size)
            model.equal(("cohort",), [(column, r["grp"], "size") for r in split[column]])
            model.equal(
                ("reoffenders",), [(column, r["grp"], "reoffenders") for r in split[column]]
            )
        narrowed, recovered = model.exposed()
        assert not narrowed and not recovered, (ctx.la_code, narrowed, recovered)
        attacked += 1
    assert attacked == 10


def test_the_tier_mix_hides_how_many_on_the_caseload_have_no_tier(conn):
    # the packs of every year the tiers are known: each a chart of the years up to its own,
    # and its own year's caseload and tiers again in the indicator table
    attacked = small = 0
    for ctx in (c for period in ("2006-07", "2007-08", PERIOD) for c in contexts(conn, period)):
        years, series = tier_mix(ctx)
        assert years and max(years) == ctx.fy
        # the pack's year: the indicator table's tier shares are the chart's, and the table
        # prints the caseload and each tier in its Count column
        rows = indicators(ctx)
        own = {r["indicator_code"]: r["value"] for r in rows}
        for t, s in enumerate(series):
            v = own[f"tier_{t + 1}_share"]
            assert s.values[-1] == (None if v is None else pytest.approx(100 * v, rel=1e-12))
        (table,) = spine_section(ctx).tables
        printed = {
            r["indicator_code"]: line[1].replace(",", "")
            for r, line in zip(rows, table.rows, strict=True)
        }
        for k, year in enumerate(years):
            caseload, *tiers = conn.execute(
                "select caseload, tier_1_caseload, tier_2_caseload, tier_3_caseload, "
                "tier_4_caseload from marts.jsna_district_profile "
                "where la_code = %s and financial_year = %s",
                [ctx.la_code, year],
            ).fetchone()
            # the attacker: the caseload as the pack publishes it (indicators, trends), the
            # tiers its shares imply, and that the rest of the caseload has no tier
            shown = ctx.count(caseload)
            model = Model()
            model.observe(("caseload",), str(shown), ctx.controls)
            for t, s in enumerate(series):
                part = None if s.values[k] is None else round(s.values[k] * shown / 100, 6)
                assert part is None or published(ctx, part), (ctx.la_code, year, t)
                model.observe(("tier", t), "*" if part is None else str(int(part)), ctx.controls)
            if year == ctx.fy:  # the same counts in the table (a second reading of each)
                model.observe(("caseload",), printed["caseload_per_1000"], ctx.controls)
                for t in range(4):
                    model.observe(("tier", t), printed[f"tier_{t + 1}_share"], ctx.controls)
            model.equal(("caseload",), [*(("tier", t) for t in range(4)), ("no tier",)])
            model.unpublished(("no tier",), ctx.controls)
            rest = caseload - sum(tiers)
            small += 0 < rest < ctx.controls.threshold
            narrowed, recovered = model.exposed({("no tier",): rest})
            assert not narrowed and not recovered, (ctx.la_code, year, narrowed, recovered)
            attacked += 1
    assert attacked == 60 and small > 20


def test_ward_rates_ranks_and_deciles_come_from_published_counts(conn):
    every: list[tuple[float, int]] = []
    for ctx in contexts(conn):
        wards = _published_wards(ctx)
        assert wards
        ranked = [w for w in wards if w["need_rank"] is not None]
        for w in wards:
            if w["offenders_with_need_per_1000"] is None:
                assert w["need_rank"] is None and w["need_decile"] is None
                continue
            k = w["offenders_with_need_per_1000"] * w["population"] / 1000
            assert published(ctx, round(k, 6)), (ctx.la_code, w["ward_name"])
        rates = [w["offenders_with_need_per_1000"] for w in ranked]
        assert rates == sorted(rates, reverse=True)
        assert [w["need_rank"] for w in ranked] == list(range(1, len(ranked) + 1))
        every += [(w["offenders_with_need_per_1000"], w["need_decile"]) for w in ranked]
    # deciles follow the published rates across Greater Manchester: a higher published rate
    # in a lower-need decile would order two wards inside their rounding (the exact rates)
    every.sort()
    assert every and all(
        (a[0] < b[0] and a[1] >= b[1]) or (a[0] == b[0] and a[1] == b[1])
        for a, b in zip(every, every[1:], strict=False)
    ), [(a, b) for a, b in zip(every, every[1:], strict=False) if a[1] < b[1]][:3]


def test_cost_per_unit_does_not_give_the_exact_units_back(conn):
    # the regional commissioner receives each district's spend exactly: spend divided by
    # the pack's cost per unit must give the published units, not the exact ones
    for ctx in contexts(conn):
        rows = _published_unit_costs(ctx)
        assert rows
        for r in rows:
            units = ctx.count(r["units"])
            assert published(ctx, units)
            assert r["cost_per_unit_gbp"] == round(float(r["actual_gbp"]) / units, 2)


def test_shares_by_group_are_published_counts(conn):
    for ctx in contexts(conn):
        groups, series = need_by(ctx, "age_band")
        sizes = dict(
            ctx.conn.execute(
                "select coalesce(age_band::text, 'Not recorded'), count(distinct offender_id) "
                "from marts.fct_assessment_needs where la_code = %s and financial_year = %s "
                "group by 1",
                [ctx.la_code, ctx.fy],
            ).fetchall()
        )
        for s in series:
            for group, v in zip(groups, s.values, strict=True):
                if v is None:
                    continue
                n = ctx.count(sizes[group])
                assert published(ctx, round(v * n / 100, 6)), (ctx.la_code, group, s.label)


def test_the_evaluation_sentence_carries_the_published_count(conn):
    ctx = next(contexts(conn))
    rows = _evaluations(ctx)
    s = evaluation_section(ctx)
    assert rows and len(s.sentences) >= len([r for r in rows if r["what_you_can_say"]])
    for sentence in s.sentences:
        for n in re.findall(r"([\d,]+|\*) matched participants", sentence):
            assert n == "*" or published(ctx, int(n.replace(",", ""))), sentence
        assert re.search(r"p (= 0\.\d\d|< 0\.01)\)", sentence), sentence
    # the rates, intervals and differences in whole percentage points (as the Justice Data
    # Lab publishes them): to 0.01 % the participants' rate gives their exact number back
    assert all(r["cohort_year"] <= ctx.last_complete_cohort for r in rows)
    (table,) = s.tables
    for row in table.rows:
        rates, difference, p_value = row[4:6], row[6], row[7]
        assert all(re.fullmatch(r"\d+ %", r) for r in rates), row
        assert re.fullmatch(r"[+-]\d+ pp \([+-]\d+ to [+-]\d+\)", difference), row
        assert re.fullmatch(r"0\.\d\d|< 0\.01", p_value), row


def test_the_marginal_cost_bars_carry_no_exact_offender_years(conn):
    # the bars weight each cell's marginal cost by its offender-years: exact weights (years
    # to many decimals, small cells included) would carry them into the bars' heights
    ctx = next(contexts(conn))
    before = marginal_costs(ctx)
    exact = (
        "select service_code, sum(marginal_cost_per_case_gbp * offender_years)"
        " / sum(offender_years) from marts.fct_cost_by_complexity"
        " where financial_year = %s and marginal_cost_per_case_gbp is not null group by 1"
    )
    try:
        exact_before = dict(conn.execute(exact, [ctx.fy]).fetchall())
        # WHEN every cell's exact offender-years change without changing what is published
        conn.execute(
            "update marts.fct_cost_by_complexity set offender_years = round(offender_years)"
            " where financial_year = %s",
            [ctx.fy],
        )
        exact_after = dict(conn.execute(exact, [ctx.fy]).fetchall())
        after = marginal_costs(ctx)
    finally:
        conn.rollback()
    assert exact_after != exact_before  # the exact weighting would have moved
    # THEN the bars do not move
    assert before and after == before


def test_the_methods_page_shows_no_load_time_and_nothing_after_the_packs_year(conn):
    ctx = next(contexts(conn, "2007-08"))
    (loads,) = [t for t in methods_section(ctx).tables if t.caption.startswith("Data loads")]
    assert loads.rows
    for feed, files, periods in loads.rows:
        first, last = periods.split(" to ")
        assert first <= last <= "2008-03", (feed, periods)
        assert int(files) > 0
    assert not re.search(r"[0-9]{2}:[0-9]{2}", repr(loads.rows))
