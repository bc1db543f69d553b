"""Sections on the district's profile: the spine chart, trends, tier mix, need and plans.
Each reads the marts only, through the context's disclosure control."""

from __future__ import annotations

import re

from warehouse.report import charts
from warehouse.report.charts import Series
from warehouse.report.model import (
    GM_CODE,
    GM_NAME,
    Context,
    Section,
    Table,
    as_float,
    compare_interval,
    fmt_count,
    fmt_value,
    sentences_for,
)

NEEDS = ["ACCOM", "ETE", "FINANCE", "RELAT", "LIFESTYLE", "DRUGS", "ALCOHOL", "EMOTIONAL",
         "THINKING", "ATTITUDES"]  # fmt: skip
NEED_NAMES = {
    "ACCOM": "Accommodation",
    "ETE": "Education, training, employment",
    "FINANCE": "Financial management",
    "RELAT": "Relationships",
    "LIFESTYLE": "Lifestyle and associates",
    "DRUGS": "Drug misuse",
    "ALCOHOL": "Alcohol misuse",
    "EMOTIONAL": "Emotional wellbeing",
    "THINKING": "Thinking and behaviour",
    "ATTITUDES": "Attitudes",
}
KEY_NEEDS = ["DRUGS", "ALCOHOL", "ACCOM", "ETE"]


def _percent(share: float | None) -> float | None:
    return None if share is None else 100.0 * share


def short_label(name: str) -> str:
    name = re.sub(r"^Offenders assessed with an? ", "", name)
    name = re.sub(r", share$", "", name).replace(" (last tier in the year)", "")
    return name[0].upper() + name[1:]


def indicators(ctx: Context, area: str | None = None, fy: str | None = None) -> list[dict]:
    """jsna_indicators of the area (default: the district) in a year (default: the pack's),
    each value, interval and comparison with Greater Manchester recomputed from the published
    counts (``publish_indicator``)."""
    rows = ctx.rows(
        "jsna_indicators",
        "select d.*, gm.numerator as gm_numerator, gm.denominator as gm_denominator "
        "from {mart} as d left join {mart} as gm on gm.la_code = %s "
        "and gm.financial_year = d.financial_year and gm.indicator_code = d.indicator_code "
        "where d.la_code = %s and d.financial_year = %s order by d.indicator_order",
        [GM_CODE, area or ctx.la_code, fy or ctx.fy],
    )
    own, gm = published_tiers(ctx, rows), published_tiers(ctx, rows, "gm_")
    for r in rows:
        publish_indicator(ctx, r, own, gm)
        r["label"] = short_label(r["indicator_name"])
    return rows


TIER_SHARES = [f"tier_{t}_share" for t in range(1, 5)]


def published_tiers(ctx: Context, rows: list[dict], prefix: str = "") -> dict:
    """indicator code -> published (tier's caseload, caseload), or ``None`` when hidden, for
    the four tier shares among ``rows`` (one area and year; ``prefix`` "gm_": Greater
    Manchester's columns). The caseload, its tiers and the few with no tier recorded are
    protected as one line (``Context.parts_of``), in the indicators and the tier chart
    alike: each share protected on its own would let a reader holding the caseload and the
    four tiers work the small rest out."""
    tiers = {r["indicator_code"]: r for r in rows if r["indicator_code"] in TIER_SHARES}
    known = [c for c in tiers if tiers[c][f"{prefix}numerator"] is not None]
    if not known:  # no tier recorded yet (the years before tiers)
        return {}
    caseload = tiers[known[0]][f"{prefix}denominator"]
    if len(known) < len(TIER_SHARES) or not caseload:  # a tier missing: none shown
        return {c: None for c in TIER_SHARES}
    safe = ctx.parts_of(caseload, [tiers[c][f"{prefix}numerator"] for c in TIER_SHARES])
    return {
        c: None if safe[k + 1] is None or not safe[0] else (safe[k + 1], safe[0])
        for k, c in enumerate(TIER_SHARES)
    }


def publish_indicator(
    ctx: Context, r: dict, together: dict | None = None, gm_together: dict | None = None
) -> None:
    """Replace the mart's value, interval, Greater Manchester value and flag (computed from
    exact counts) with the same computed from the published counts; a hidden count hides
    its value, interval and flag. ``together``/``gm_together``: counts published together
    (``published_tiers``), used instead of protecting the row's count on its own. Sets
    ``count``: the count the value was computed from, as the indicator table prints it."""
    r["count"], own = _published(ctx, r, together)
    _, gm = _published(ctx, r, gm_together, "gm_")
    r["value"], r["lower_ci_95"], r["upper_ci_95"] = own or (None, None, None)
    r["gm_value"] = None if gm is None else gm[0]
    r["gm_lower_ci_95"], r["gm_upper_ci_95"] = (None, None) if gm is None else gm[1:]
    r["significance_vs_gm"] = (
        None
        if own is None or gm is None or r["la_code"] == GM_CODE
        else compare_interval(own[1], own[2], gm[0], r["polarity"])
    )
    for k in ("previous_value", "previous_lower_ci_95", "previous_upper_ci_95"):
        r[k] = None  # the pack shows a year's series instead (indicator_series)
    r["trend_vs_previous"] = None


def indicator_series(ctx: Context, code: str, area: str, label: str) -> tuple[list[str], Series]:
    """One indicator of an area over the years, from the published counts."""
    rows = ctx.rows(
        "jsna_indicators",
        "select * from {mart} where la_code = %s and indicator_code = %s "
        "and financial_year <= %s order by financial_year",
        [area, code, ctx.fy],
    )
    estimates = [ctx.estimate(r["numerator"], r["denominator"], r["unit"]) for r in rows]
    scale = 100.0 if rows and rows[0]["unit"] == "proportion" else 1.0
    scaled = [[None if e is None else e[i] * scale for e in estimates] for i in range(3)]
    return [r["financial_year"] for r in rows], Series(label, *scaled)


def spine_section(ctx: Context) -> Section:
    s = Section("spine", f"Headline indicators: {ctx.la_name} against {GM_NAME}")
    rows = indicators(ctx)
    s.sentences = sentences_for(rows, "headline")
    s.add(
        charts.spine("spine", f"JSNA indicators, {ctx.fy}: {ctx.la_name} vs {GM_NAME}", rows),
        "No indicator can be shown for the year (no complete year, or only small counts).",
    )
    s.tables.append(
        Table(
            f"Indicators, {ctx.fy} (counts rounded to {ctx.controls.rounding}; "
            f"1 to {ctx.controls.threshold - 1} shown as *)",
            ["Indicator", "Count", "Value", "95 % CI", GM_NAME, "Compared with GM"],
            [
                [
                    r["label"],
                    fmt_count(r["count"]),
                    fmt_value(r["value"], r["unit"]),
                    "*"
                    if r["value"] is None
                    else f"{fmt_value(r['lower_ci_95'], r['unit'])} to "
                    f"{fmt_value(r['upper_ci_95'], r['unit'])}",
                    fmt_value(r["gm_value"], r["unit"]),
                    r["significance_vs_gm"] or "not tested",
                ]
                for r in rows
            ],
            counts=(1,),
        )
    )
    return s


def trends_section(ctx: Context) -> Section:
    s = Section("trends", "Population, crime and caseload trends")
    s.sentences = sentences_for(
        [
            r
            for r in indicators(ctx)
            if r["indicator_code"] in {"recorded_crimes_per_1000", "caseload_per_1000"}
        ],
        "crime or caseload",
    )
    prof = ctx.rows(
        "jsna_district_profile",
        "select financial_year, population from {mart} where la_code = %s "
        "and financial_year <= %s order by 1",
        [ctx.la_code, ctx.fy],
    )
    years = [r["financial_year"] for r in prof]
    s.add(
        charts.trend(
            "population",
            f"Population (ONS mid-year estimate), {ctx.la_name}",
            years,
            [Series(ctx.la_name, [as_float(r["population"]) for r in prof])],
            "Residents",
        ),
        "No population figures.",
    )
    for code, title in (
        ("recorded_crimes_per_1000", "Recorded crime"),
        ("caseload_per_1000", "Probation caseload"),
    ):
        periods, district = indicator_series(ctx, code, ctx.la_code, ctx.la_name)
        _, gm = indicator_series(ctx, code, GM_CODE, GM_NAME)
        s.add(
            charts.trend(
                code,
                f"{title} per 1,000 population, with 95 % intervals",
                periods,
                [district, gm],
                "per 1,000 population",
            ),
            f"No complete year of {title.lower()}.",
        )
    quarters = ctx.rows(
        "demand_trends_quarterly",
        "select quarter_start_date, commencements, court_reports from {mart} "
        "where la_code = %s and financial_year <= %s and financial_year in "
        "(select financial_year from marts.jsna_indicators) order by 1",
        [ctx.la_code, ctx.fy],
    )
    labels = [f"{q['quarter_start_date']:%Y-%m}" for q in quarters]
    s.add(
        charts.trend(
            "demand_quarterly",
            "Commencements and court reports each quarter (rounded; small counts hidden)",
            labels,
            [
                Series("Commencements", [ctx.count(q["commencements"]) for q in quarters]),
                Series("Court reports", [ctx.count(q["court_reports"]) for q in quarters]),
            ],
            "Count per quarter",
        ),
        "No quarterly demand figures.",
    )
    return s


def _published(ctx: Context, r: dict, together: dict | None, prefix: str = ""):
    """(count, estimate) of an indicator row (``prefix`` "gm_": Greater Manchester's): the
    count as published and the value and interval computed from it. A proportion's part
    is published with its whole and the rest (``Context.part``), or with the counts it was
    protected together with; the count printed is that one, never the same count
    controlled again on its own (a part hidden beside a small rest would be printed after
    all, and the rest with it)."""
    code, unit = r["indicator_code"], r["unit"]
    k, n = r.get(f"{prefix}numerator"), r.get(f"{prefix}denominator")
    if together and code in together:
        pair = together[code]
    elif k is None:
        return None, None
    elif unit == "proportion" and n:
        pair = ctx.part(k, n)
    else:  # a rate per 1,000 of the population (public), or a proportion of nobody
        return ctx.count(k), ctx.estimate(k, n, unit)
    return (None if pair is None else pair[0]), ctx.proportion(pair)


def tier_mix(ctx: Context) -> tuple[list[str], list[Series]]:
    """Each tier's share (%) of the caseload, each year up to the pack's, from the counts
    published as the indicators publish them (``published_tiers``)."""
    rows = ctx.rows(
        "jsna_indicators",
        "select * from {mart} where la_code = %s and financial_year <= %s "
        "and indicator_code = any(%s) order by financial_year",
        [ctx.la_code, ctx.fy, TIER_SHARES],
    )
    by_year: dict[str, list[dict]] = {}
    for r in rows:
        by_year.setdefault(r["financial_year"], []).append(r)
    years, parts = [], [[] for _ in TIER_SHARES]
    for year, year_rows in by_year.items():
        published = published_tiers(ctx, year_rows)
        if not published:  # tiers known from then on
            continue
        years.append(year)
        for t, code in enumerate(TIER_SHARES):
            share = ctx.proportion(published[code])
            parts[t].append(None if share is None else 100.0 * share[0])
    return years, [Series(f"Tier {t + 1}", parts[t]) for t in range(4)]


def tiers_section(ctx: Context) -> Section:
    s = Section("tiers", "Tier mix of the caseload")
    s.sentences = sentences_for(
        [r for r in indicators(ctx) if r["indicator_code"].startswith("tier_")], "tier mix"
    )
    years, series = tier_mix(ctx)
    s.add(
        charts.stacked(
            "tier_mix",
            "Caseload by tier (last tier in the year), share of the caseload "
            "(the rest: no tier recorded)",
            years,
            series,
            "% of the caseload",
        ),
        "No caseload by tier.",
    )
    return s


def need_section(ctx: Context) -> Section:
    s = Section("need", "Need prevalence")
    rows = [
        r
        for r in indicators(ctx)
        if r["indicator_code"].removesuffix("_need_share").upper() in NEEDS
    ]
    s.sentences = sentences_for(rows, "need")
    s.add(
        charts.bars(
            "need_prevalence",
            f"Offenders assessed with each need, {ctx.fy}",
            [r["label"] for r in rows],
            Series(
                ctx.la_name,
                *[
                    [None if r[k] is None else 100 * float(r[k]) for r in rows]
                    for k in ("value", "lower_ci_95", "upper_ci_95")
                ],
            ),
            "% of offenders assessed (95 % interval)",
            reference=Series(
                GM_NAME,
                [100 * float(r["gm_value"]) if r["gm_value"] is not None else None for r in rows],
            ),
        ),
        "No need shares can be shown for the year.",
    )
    for column, title in (
        ("gender_code", "gender"),
        ("age_band", "age band"),
        ("ethnicity_group", "ethnicity"),
    ):
        groups, series = need_by(ctx, column)
        s.add(
            charts.grouped(
                f"need_by_{column}",
                f"Key needs by {title}, {ctx.fy}",
                groups,
                series,
                "% of offenders assessed in the group",
            ),
            f"Need by {title}: every group too small to show.",
        )
    return s


def need_by(ctx: Context, column: str) -> tuple[list[str], list[Series]]:
    """Shares of the assessed offenders with each key need, by a demographic column, from the
    published counts; a share whose count, group or rest is small is not shown."""
    rows = ctx.rows(
        "fct_assessment_needs",
        f"select coalesce(case {column}::text when 'F' then 'Female' when 'M' then 'Male' "
        f"else {column}::text end, 'Not recorded') as grp, need_area_code, "
        "count(distinct offender_id) filter (where is_need) as with_need, "
        "count(distinct offender_id) as assessed from {mart} "
        "where la_code = %s and financial_year = %s group by 1, 2 order by 1, 2",
        [ctx.la_code, ctx.fy],
    )
    assessed: dict[str, int] = {}
    for r in rows:
        assessed[r["grp"]] = max(assessed.get(r["grp"], 0), r["assessed"])
    groups = sorted(assessed)
    cell = {(r["grp"], r["need_area_code"]): r["with_need"] for r in rows}
    series = []
    for need in KEY_NEEDS:
        values = []
        for g in groups:
            share = ctx.share(cell.get((g, need), 0), assessed[g])
            values.append(None if share is None else 100.0 * share)
        series.append(Series(NEED_NAMES[need], values))
    return groups, series


def plans_section(ctx: Context) -> Section:
    s = Section("plans", "Sentence-plan gaps and need change")
    s.sentences = sentences_for(
        [r for r in indicators(ctx) if r["indicator_code"] == "sentence_plan_gap_share"],
        "sentence-plan",
    )
    gaps = ctx.rows(
        "fct_sentence_plan_objectives",
        "select need_area_code, count(*) filter (where is_need_identified) as needs, "
        "count(*) filter (where is_need_identified and not is_intervention_planned) as gaps "
        "from {mart} where la_code = %s and financial_year = %s group by 1 order by 1",
        [ctx.la_code, ctx.fy],
    )
    gaps = [g for g in gaps if g["need_area_code"] in NEEDS]
    s.add(
        charts.bars(
            "plan_gaps",
            f"Identified needs with no intervention planned, {ctx.fy}",
            [NEED_NAMES[g["need_area_code"]] for g in gaps],
            Series(
                ctx.la_name,
                [_percent(ctx.share(g["gaps"], g["needs"])) for g in gaps],
            ),
            "% of objectives for an identified need",
        ),
        "No sentence-plan objectives in the year.",
    )
    change = ctx.rows(
        "fct_need_change",
        "select need_area_code, count(*) filter (where is_need_first) as had_need, "
        "count(*) filter (where is_need_resolved) as resolved from {mart} "
        "where la_code = %s and latest_financial_year = %s and assessment_count > 1 "
        "group by 1 order by 1",
        [ctx.la_code, ctx.fy],
    )
    change = [c for c in change if c["need_area_code"] in NEEDS]
    s.add(
        charts.bars(
            "need_change",
            f"Needs resolved by the latest reassessment, {ctx.fy}",
            [NEED_NAMES[c["need_area_code"]] for c in change],
            Series(
                ctx.la_name,
                [_percent(ctx.share(c["resolved"], c["had_need"])) for c in change],
                None,
                None,
            ),
            "% of needs at first assessment no longer a need",
        ),
        "No reassessed offenders in the year.",
    )
    s.tables.append(
        Table(
            f"Sentence-plan gaps by need, {ctx.fy}",
            ["Need", "Objectives for an identified need", "No intervention planned"],
            [
                [
                    NEED_NAMES[g["need_area_code"]],
                    fmt_count(ctx.count(g["needs"])),
                    fmt_count(ctx.count(g["gaps"])),
                ]
                for g in gaps
            ],
            counts=(1, 2),
        )
    )
    return s
