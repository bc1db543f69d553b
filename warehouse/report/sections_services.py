"""Sections on places, money and outcomes: ward hotspots, unit costs, reoffending and partner
data. Each reads the marts only, through the context's disclosure control."""

from __future__ import annotations

import bisect

from warehouse.intervals import wilson
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
from warehouse.report.sections_profile import indicator_series, indicators

WARDS_IN_CHART = 30


def wards_section(ctx: Context) -> Section:
    s = Section("wards", "Ward hotspots: offenders with any need per 1,000 residents")
    wards = _published_wards(ctx)
    above = [w["ward_name"] for w in wards if w["significance_vs_gm"] in {"worse", "higher"}]
    below = [w["ward_name"] for w in wards if w["significance_vs_gm"] in {"better", "lower"}]
    if above:
        s.sentences.append(
            f"{len(above)} of the district's {len(wards)} wards have a rate "
            f"significantly above the {GM_NAME} ward figure: {', '.join(above)}."
        )
    if below:
        s.sentences.append(
            f"{len(below)} wards have a rate significantly below it: {', '.join(below)}."
        )
    if not (above or below):
        s.sentences.append(f"No ward differs significantly from the {GM_NAME} ward figure.")
    top = wards[:WARDS_IN_CHART]
    s.add(
        charts.bars(
            "ward_need",
            f"Wards by offenders with any need per 1,000, {ctx.fy} "
            "(rank order; decile 1 = highest in GM)",
            [f"{w['ward_name']} (d{w['need_decile'] or '-'})" for w in top],
            Series(
                ctx.la_name,
                *[
                    [as_float(w[k]) for w in top]
                    for k in ("offenders_with_need_per_1000", "lower_ci_95", "upper_ci_95")
                ],
            ),
            "Offenders with any need per 1,000 residents (95 % interval)",
            reference=Series(f"{GM_NAME} wards", [as_float(w["gm_value"]) for w in top]),
        ),
        "No ward rate can be shown (small counts).",
    )
    s.tables.append(
        Table(
            f"Wards ranked by need, {ctx.fy}",
            [
                "Rank",
                "Ward",
                "Decile",
                "Offenders with any need",
                "Per 1,000",
                "95 % CI",
                "Compared with GM",
            ],
            [
                [
                    str(w["need_rank"] or "-"),
                    w["ward_name"],
                    str(w["need_decile"] or "-"),
                    fmt_count(ctx.count(w["offenders_with_need"])),
                    fmt_value(w["offenders_with_need_per_1000"], "per_1000"),
                    "*"
                    if w["lower_ci_95"] is None
                    else f"{fmt_value(w['lower_ci_95'], 'per_1000')} to {fmt_value(w['upper_ci_95'], 'per_1000')}",
                    w["significance_vs_gm"] or "not tested",
                ]
                for w in wards
            ],
            counts=(3,),
        )
    )
    return s


def _published_wards(ctx: Context) -> list[dict]:
    """The district's wards with each rate, interval, flag, rank and decile recomputed from
    the published counts (residents: ONS estimates, public): the decile among every Greater
    Manchester ward's published rate (as ``int_ward_needs_rated_and_ranked`` does with the
    exact ones, which order wards inside their rounding), the Greater Manchester figure from
    the published count of all its wards. A hidden count hides its rate, interval, rank and
    decile."""
    every = ctx.rows(
        "jsna_ward_need",
        "select la_code, ward_name, population, offenders_with_need from {mart} "
        "where financial_year = %s order by la_code, ward_name",
        [ctx.fy],
    )
    gm = ctx.estimate(
        sum(w["offenders_with_need"] or 0 for w in every),
        sum(w["population"] or 0 for w in every),
        "per_1000",
    )
    for w in every:
        own = ctx.estimate(w["offenders_with_need"], w["population"], "per_1000")
        keys = ("offenders_with_need_per_1000", "lower_ci_95", "upper_ci_95")
        w.update(zip(keys, own or (None, None, None), strict=True))
        w["gm_value"] = None if gm is None else gm[0]
        w["significance_vs_gm"] = (
            "not tested"
            if own is None or gm is None
            else compare_interval(own[1], own[2], gm[0], "higher_is_worse")
        )
    descending = sorted(
        -w["offenders_with_need_per_1000"]
        for w in every
        if w["offenders_with_need_per_1000"] is not None
    )
    for w in every:  # a tie takes the decile of its first ward
        rate = w["offenders_with_need_per_1000"]
        first = None if rate is None else bisect.bisect_left(descending, -rate)
        w["need_decile"] = None if first is None else 1 + 10 * first // len(descending)
    wards = [w for w in every if w["la_code"] == ctx.la_code]
    shown = sorted(
        (w for w in wards if w["offenders_with_need_per_1000"] is not None),
        key=lambda w: -w["offenders_with_need_per_1000"],
    )
    for rank, w in enumerate(shown, start=1):
        w["need_rank"] = rank
    hidden = [w for w in wards if w["offenders_with_need_per_1000"] is None]
    for w in hidden:
        w["need_rank"] = None
    return [*shown, *hidden]


def costs_section(ctx: Context) -> Section:
    s = Section("costs", "Unit costs against the area benchmark")
    rows = _published_unit_costs(ctx)
    s.add(
        charts.bars(
            "unit_cost_index",
            f"Cost per unit as % of the area's, {ctx.fy}",
            [f"{r['service_code']} (per {r['unit_measure']})" for r in rows],
            Series(ctx.la_name, [float(r["benchmark_index"]) for r in rows]),  # 100 = the area
            "% of the area cost per unit (100 = the area)",
            reference=Series("Area", [100.0 for _ in rows]),
        ),
        "No unit costs for the year.",
    )
    dear = [r["service_code"] for r in rows if float(r["benchmark_index"]) >= 120]
    cheap = [r["service_code"] for r in rows if float(r["benchmark_index"]) <= 80]
    s.sentences.append(
        f"Services costing at least 20 % more per unit than the area: {', '.join(dear) or 'none'}"
        f"; at least 20 % less: {', '.join(cheap) or 'none'} (unit costs are not sampled, so "
        "no interval is given)."
    )
    s.tables.append(
        Table(
            f"Unit costs, {ctx.fy}",
            ["Service", "Unit", "District £ per unit", "Area £ per unit", "Index"],
            [
                [
                    r["service_code"],
                    r["unit_measure"],
                    fmt_value(r["cost_per_unit_gbp"], "gbp"),
                    fmt_value(r["area_cost_per_unit_gbp"], "gbp"),
                    f"{float(r['benchmark_index']):.1f}",
                ]
                for r in rows
            ],
        )
    )
    return s


def _published_unit_costs(ctx: Context) -> list[dict]:
    """The district's cost per unit and the area's, from the spend (published exactly to
    partners) over the published units: a cost per unit of exact units would give the units
    back (spend / cost per unit). Hidden units hide the cost per unit and the index."""
    rows = ctx.rows(
        "fct_unit_costs",
        "select c.service_code, c.unit_measure, c.units, c.actual_gbp, "
        "area.units as area_units, area.actual_gbp as area_gbp from {mart} as c "
        "inner join (select service_code, unit_measure, sum(units) as units, "
        "sum(actual_gbp) as actual_gbp from {mart} where financial_year = %s "
        "group by 1, 2) as area using (service_code, unit_measure) "
        "where c.la_code = %s and c.financial_year = %s order by c.service_code",
        [ctx.fy, ctx.la_code, ctx.fy],
    )
    out = []
    for r in rows:
        units, area_units = ctx.count(r["units"]), ctx.count(r["area_units"])
        if not units or not area_units or r["actual_gbp"] is None or not r["area_gbp"]:
            continue
        r["cost_per_unit_gbp"] = round(float(r["actual_gbp"]) / units, 2)
        r["area_cost_per_unit_gbp"] = round(float(r["area_gbp"]) / area_units, 2)
        if not r["area_cost_per_unit_gbp"]:
            continue
        r["benchmark_index"] = round(
            100.0 * r["cost_per_unit_gbp"] / r["area_cost_per_unit_gbp"], 1
        )
        out.append(r)
    return out


COHORT_SPLITS = (("tier", "tier"), ("ogrs3_band", "OGRS3 band"))


def _cohort_rates(ctx: Context, year: str) -> dict[str, list[dict]]:
    """The cohort split by tier and by OGRS3 band (with those not known), each group's
    size, reoffenders and the rest protected together with the cohort and both splits (the
    two tables partition one cohort: a hidden group must not come back by differencing);
    rates and intervals from the published counts."""
    split: dict[str, list[dict]] = {}
    for column, _ in COHORT_SPLITS:
        split[column] = ctx.rows(
            "fct_reoffending_cohort",
            f"select coalesce({column}::text, 'Not known') as grp, count(*) as size, "
            "count(*) filter (where is_reoffender) as reoffenders, "
            "avg(ogrs3_1yr_probability) as predicted from {mart} where la_code = %s "
            "and cohort_year = %s and is_follow_up_complete group by 1 "
            "order by (min(1) filter (where " + column + " is null) is not null), 1",
            [ctx.la_code, year],
        )
    groups = [r for rows in split.values() for r in rows]
    size = sum(r["size"] for r in split["tier"])
    reoffenders = sum(r["reoffenders"] for r in split["tier"])
    values = [size, reoffenders, size - reoffenders]
    lines: list[tuple[int, list[int]]] = [(0, [1, 2])]
    for rows in split.values():
        first = len(values)
        for r in rows:
            lines.append((len(values), [len(values) + 1, len(values) + 2]))
            values += [r["size"], r["reoffenders"], r["size"] - r["reoffenders"]]
        for k in range(3):
            lines.append((k, list(range(first + k, len(values), 3))))
    safe = ctx.counts(values, lines)
    for i, r in enumerate(groups):
        # the mean OGRS3 probability (4 decimals each) to the precision printed: finer, its
        # sum is a whole number of 1/10,000ths for one group size only (an attack found them)
        if r["predicted"] is not None:
            r["predicted"] = round(float(r["predicted"]), 3)
        n, k, rest = safe[3 + 3 * i : 6 + 3 * i]
        r["size_shown"], r["reoffenders_shown"] = n, k
        ok = None not in (n, k, rest) and n
        r["rate"] = k / n if ok else None  # type: ignore[operator]
        r["lo"], r["hi"] = wilson(k, n) if ok else (None, None)  # type: ignore[arg-type]
    return split


def reoffending_section(ctx: Context) -> Section:
    s = Section("reoffending", "Proven reoffending, complete cohorts: actual vs OGRS3-predicted")
    (year,) = ctx.conn.execute(
        "select max(cohort_year) from marts.fct_reoffending_cohort where la_code = %s "
        "and is_follow_up_complete and cohort_year <= %s",
        [ctx.la_code, ctx.last_complete_cohort],
    ).fetchone()
    ctx.used_marts.add("fct_reoffending_cohort")
    if year is None:
        s.notes.append("No cohort with a complete follow-up up to the year.")
        return s
    s.sentences = sentences_for(
        [r for r in indicators(ctx) if r["indicator_code"] == "reoffending_binary_rate"],
        "reoffending",
    )
    split = _cohort_rates(ctx, year)
    for column, title in COHORT_SPLITS:
        rows = split[column]
        for r in rows:
            if (
                r["rate"] is not None
                and r["predicted"] is not None
                and not (r["lo"] <= float(r["predicted"]) <= r["hi"])
            ):
                word = "above" if r["rate"] > float(r["predicted"]) else "below"
                s.sentences.append(
                    f"Cohort {year}, {title} {r['grp']}: actual reoffending "
                    f"{100 * r['rate']:.1f} % (95 % CI {100 * r['lo']:.1f} to "
                    f"{100 * r['hi']:.1f} %) is significantly {word} the "
                    f"OGRS3-predicted {100 * float(r['predicted']):.1f} %."
                )
        labels = [f"{title.split()[0].capitalize()} {r['grp']}" for r in rows]
        s.add(
            charts.grouped(
                f"reoffending_{column}",
                f"Reoffending within a year by {title}, cohort {year}",
                labels,
                [
                    Series(
                        "Actual (95 % interval)",
                        *[
                            [None if r[k] is None else 100 * r[k] for r in rows]
                            for k in ("rate", "lo", "hi")
                        ],
                    ),
                    Series(
                        "OGRS3-predicted",
                        [
                            100 * float(r["predicted"])
                            if r["rate"] is not None and r["predicted"] is not None
                            else None
                            for r in rows
                        ],
                    ),
                ],
                "% of the cohort reoffending",
            ),
            f"Reoffending by {title}: groups too small.",
        )
        s.tables.append(
            Table(
                f"Reoffending by {title}, cohort {year}",
                [title.capitalize(), "Cohort", "Reoffenders", "Actual", "Predicted"],
                [
                    [
                        r["grp"],
                        fmt_count(r["size_shown"]),
                        fmt_count(r["reoffenders_shown"]),
                        fmt_value(r["rate"], "proportion"),
                        fmt_value(r["predicted"] if r["rate"] is not None else None, "proportion"),
                    ]
                    for r in rows
                ],
                counts=(1, 2),
            )
        )
    return s


def partners_section(ctx: Context) -> Section:
    s = Section("partners", "Partner data: drug treatment (DAT) and Supporting People")
    s.sentences = sentences_for(
        [
            r
            for r in indicators(ctx)
            if r["indicator_code"]
            in {"dat_treatment_episodes_per_1000", "supporting_people_episodes_per_1000"}
        ],
        "partner",
    )
    periods, dat = indicator_series(
        ctx, "dat_treatment_episodes_per_1000", ctx.la_code, f"DAT, {ctx.la_name}"
    )
    _, sp = indicator_series(
        ctx, "supporting_people_episodes_per_1000", ctx.la_code, f"Supporting People, {ctx.la_name}"
    )
    _, dat_gm = indicator_series(ctx, "dat_treatment_episodes_per_1000", GM_CODE, f"DAT, {GM_NAME}")
    s.add(
        charts.trend(
            "partner_rates",
            "Partner episodes per 1,000 population, with 95 % intervals",
            periods,
            [dat, sp, dat_gm],
            "Episodes per 1,000 population",
        ),
        "No partner episodes.",
    )
    outcomes = ctx.rows(
        "fct_supporting_people_outcomes",
        "select outcome_domain, sum(needs_identified) as needs, "
        "sum(outcomes_achieved) as achieved from {mart} where la_code = %s "
        "and financial_year = %s group by 1 order by 1",
        [ctx.la_code, ctx.fy],
    )
    s.add(
        charts.bars(
            "sp_outcomes",
            f"Supporting People: needs met by outcome domain, {ctx.fy}",
            [o["outcome_domain"] for o in outcomes],
            Series(
                ctx.la_name,
                [
                    None if (share := ctx.share(o["achieved"], o["needs"])) is None else 100 * share
                    for o in outcomes
                ],
            ),
            "% of identified needs with the outcome achieved",
        ),
        "No Supporting People outcomes in the year.",
    )
    return s
