"""Sections on the analytics marts: cost by complexity, the matched evaluation of
interventions, the demand forecast and partner records linked to the caseload. Cost and
evaluation are Greater Manchester-wide models (a note says so); the forecast and the linked
counts are the district's. Counts go through the context's disclosure control; a rate or a
cost is shown only when the count under it is not a small one."""

from __future__ import annotations

import re
from datetime import date

from warehouse.intervals import byar
from warehouse.report import charts
from warehouse.report.charts import Series
from warehouse.report.model import (
    GM_NAME,
    NOT_AVAILABLE,
    Context,
    Section,
    Table,
    as_float,
    fmt_count,
    fmt_value,
)

NEED_BANDS = ["0", "1", "2", "3", "4+", "not assessed"]
FORECAST_MEASURES = (
    ("caseload", "Caseload (offenders supervised in the month)", "fct_caseload_monthly"),
    ("commencements", "Commencements (orders and licences starting)", "fct_commencements"),
)
HISTORY_MONTHS = 24
HISTORY_SQL = {  # the district's months from a start to the forecast's last month of history
    "caseload": "select month_start_date as month, count(distinct offender_id) as n "
    "from {mart} where la_code = %s and month_start_date between %s and %s "
    "group by 1 order by 1",
    "commencements": "select start_month as month, count(*) as n from {mart} "
    "where la_code = %s and start_month between %s and %s group by 1 order by 1",
}


def _missing(ctx: Context, s: Section, mart: str) -> bool:
    if ctx.exists(mart):
        return False
    s.notes.append(f"{s.title}: {NOT_AVAILABLE} (the analytics mart {mart} is not built).")
    return True


# -- cost by complexity ------------------------------------------------------------------------
def _cost_cells(ctx: Context, *by: str, where: str = "true") -> list[dict]:
    """Offender-years and spend by ``by`` (of tier, need_band, ogrs3_band) in the report's
    year; a cell's offender-years are the same on each of its service rows (taken once)."""
    columns = ", ".join(by)
    return ctx.rows(
        "fct_cost_by_complexity",
        "with cells as (select tier, need_band, ogrs3_band, max(offender_years) as years, "
        "sum(total_gbp) as gbp from {mart} where financial_year = %s group by 1, 2, 3) "
        f"select {columns}, sum(years) as years, sum(gbp) as gbp from cells "
        f"where {where} group by {columns} order by {columns}",
        [ctx.fy],
    )


def _per_year(ctx: Context, cell: dict) -> float | None:
    """Spend over the offender-years as published (rounded; hidden when small)."""
    years = ctx.count(round(as_float(cell["years"]) or 0.0))
    return float(cell["gbp"]) / years if years else None


def cost_complexity_section(ctx: Context) -> Section:
    s = Section("cost_complexity", "Cost by complexity: cost per offender-year")
    if _missing(ctx, s, "fct_cost_by_complexity"):
        return s
    s.notes.append(
        f"{GM_NAME} as a whole, {ctx.fy}: the year's ledger spend allocated to offender-years "
        "by each service's activity, overheads on direct cost (docs/cost_by_complexity.md)."
    )
    cells = _cost_cells(ctx, "tier", "need_band", where="tier > 0")
    tiers = sorted({c["tier"] for c in cells})
    value = {(c["tier"], c["need_band"]): _per_year(ctx, c) for c in cells}
    s.add(
        charts.grouped(
            "cost_tier_need",
            f"Cost per offender-year by tier and number of criminogenic needs, {ctx.fy}",
            [f"{b} needs" if b != "not assessed" else b for b in NEED_BANDS],
            [Series(f"Tier {t}", [value.get((t, b)) for b in NEED_BANDS]) for t in tiers],
            "£ per offender-year",
        ),
        "Cost by tier and need: no cell large enough in the year.",
    )
    bands = _cost_cells(ctx, "ogrs3_band")
    s.add(
        charts.bars(
            "cost_ogrs3",
            f"Cost per offender-year by OGRS3 band, {ctx.fy}",
            [str(b["ogrs3_band"]) for b in bands],
            Series(GM_NAME, [_per_year(ctx, b) for b in bands]),
            "£ per offender-year",
        ),
        "Cost by OGRS3 band: no band large enough in the year.",
    )
    s.tables.append(
        Table(
            f"Cost per offender-year by tier, {ctx.fy} ({GM_NAME})",
            ["Tier", "Offender-years", "Cost per offender-year"],
            [
                [str(r["tier"]), fmt_count(ctx.count(round(r["years"]))), _gbp(_per_year(ctx, r))]
                for r in _cost_cells(ctx, "tier")
            ],
            counts=(1,),
        )
    )
    _marginal(ctx, s)
    return s


def _gbp(v: float | None) -> str:
    return fmt_value(v, "gbp")


def _marginal(ctx: Context, s: Section) -> None:
    rows = marginal_costs(ctx)
    s.add(
        charts.bars(
            "cost_marginal",
            f"Marginal cost of one more case by service (mix of the year's cases), {ctx.fy}",
            [r["service_code"] for r in rows],
            Series(GM_NAME, [r["marginal"] for r in rows]),
            "£ per additional case",
        ),
        "No marginal cost in the year.",
    )


def marginal_costs(ctx: Context) -> list[dict]:
    """Each service's marginal cost per case, weighted by the cells' offender-years as
    published (rounded; small cells weigh nothing): exact weights would carry the small
    cells' offender-years into the bars."""
    cells = ctx.rows(
        "fct_cost_by_complexity",
        "select service_code, marginal_cost_per_case_gbp as marginal, offender_years as years"
        " from {mart} where financial_year = %s and marginal_cost_per_case_gbp is not null",
        [ctx.fy],
    )
    sums: dict[str, list[float]] = {}
    for c in cells:
        weight = ctx.count(round(as_float(c["years"]) or 0.0)) or 0
        total = sums.setdefault(c["service_code"], [0.0, 0.0])
        total[0] += float(c["marginal"]) * weight
        total[1] += weight
    return sorted(
        ({"service_code": k, "marginal": v[0] / v[1]} for k, v in sums.items() if v[1]),
        key=lambda r: -r["marginal"],
    )


# -- matched evaluation --------------------------------------------------------------------------
def _evaluations(ctx: Context) -> list[dict]:
    """Each intervention's latest evaluated cohort whose follow-up ended by the report's
    year (``Context.last_complete_cohort``), binary outcome."""
    return ctx.rows(
        "fct_intervention_evaluations",
        "select distinct on (intervention_code) * from {mart} "
        "where outcome = 'binary' and cohort_year <= %s "
        "order by intervention_code, cohort_year desc",
        [ctx.last_complete_cohort],
    )


def _pct(v: object) -> float | None:
    """A rate of the evaluation in whole percentage points, as the Justice Data Lab
    publishes it: the rates, intervals and differences come from exact counts (a matched
    comparison is not a count of people), and to a finer precision the participants' rate
    gives their exact number back (n = 1,893 was the only size giving 21.87 %)."""
    return None if v is None else float(round(100 * float(v)))  # type: ignore[arg-type]


def _p_value(p: object) -> str:
    """A p-value to two decimals (below 0.01: ``< 0.01``), for the same reason."""
    x = float(p)  # type: ignore[arg-type]
    return "< 0.01" if x < 0.01 else f"{x:.2f}"


def evaluation_section(ctx: Context) -> Section:
    s = Section("evaluation", "What works: matched evaluation of interventions")
    if _missing(ctx, s, "fct_intervention_evaluations"):
        return s
    rows = _evaluations(ctx)
    s.notes.append(
        f"{GM_NAME} as a whole, Justice Data Lab method: completers matched on a propensity "
        "score (demographics, criminal history, OGRS3, tier, needs) to similar offenders "
        "whose sentence did not carry the intervention; one-year proven reoffending."
    )
    if not rows:
        s.notes.append(f"No intervention had 60 or more participants in a cohort up to {ctx.fy}.")
        return s
    s.sentences.extend(_published_sentence(ctx, r) for r in rows if r["what_you_can_say"])
    labels = [f"{r['intervention_code']} ({r['cohort_year']})" for r in rows]
    s.add(
        charts.grouped(
            "evaluation_rates",
            "Reoffending within a year: participants vs their matched comparison (95 % intervals)",
            labels,
            [
                Series(
                    "Participants",
                    *[[_pct(r[f"participant{k}"]) for r in rows] for k in _BOUNDS],
                ),
                Series(
                    "Matched comparison",
                    *[[_pct(r[f"comparison{k}"]) for r in rows] for k in _BOUNDS],
                ),
                Series(
                    "All non-participants (unmatched)",
                    [_pct(r["naive_comparison_value"]) for r in rows],
                ),
            ],
            "% reoffending within a year",
        ),
        "No evaluation to chart.",
    )
    s.tables.append(_evaluation_table(ctx, rows))
    return s


_BOUNDS = ("_value", "_ci_low", "_ci_high")


def _published_sentence(ctx: Context, r: dict) -> str:
    """The Justice Data Lab sentence with its count of matched participants as the table
    publishes it (rounded), not the exact count the mart wrote into the text."""
    shown = fmt_count(ctx.count(r["matched_participants"]))
    text = re.sub(
        r"\b\d[\d,]* matched participants", f"{shown} matched participants", r["what_you_can_say"]
    )
    p = _p_value(r["p_value"])
    return re.sub(r"p = [0-9.e-]+", f"p {p}" if p.startswith("<") else f"p = {p}", text)


def _evaluation_table(ctx: Context, rows: list[dict]) -> Table:
    def diff(r: dict) -> str:
        return (
            f"{_pct(r['difference']):+.0f} pp ({_pct(r['difference_ci_low']):+.0f} to "
            f"{_pct(r['difference_ci_high']):+.0f})"
        )

    return Table(
        f"Matched evaluations up to {ctx.fy} ({GM_NAME}; binary outcome)",
        [
            "Intervention",
            "Cohort",
            "Participants",
            "Matched",
            "Participants' rate",
            "Comparison rate",
            "Difference (95 % CI)",
            "p-value",
            "Balance (max SMD before / after)",
        ],
        [
            [
                r["intervention_code"],
                r["cohort_year"],
                fmt_count(ctx.count(r["participants"])),
                fmt_count(ctx.count(r["matched_participants"])),
                f"{_pct(r['participant_value']):.0f} %",
                f"{_pct(r['comparison_value']):.0f} %",
                diff(r),
                _p_value(r["p_value"]),
                f"{float(r['max_abs_smd_before']):.2f} / {float(r['max_abs_smd_after']):.2f}",
            ]
            for r in rows
        ],
        counts=(2, 3),
    )


# -- demand forecast -----------------------------------------------------------------------------
def _forecast_rows(ctx: Context, measure: str) -> list[dict]:
    return ctx.rows(
        "fct_demand_forecast",
        "select month_start_date as month, forecast, lower_80, upper_80, lower_95, upper_95, "
        "model, mase, history_end_date from {mart} where la_code = %s and measure = %s "
        "and requirement_type_code = 'ALL' order by month_start_date",
        [ctx.la_code, measure],
    )


def _rounded(ctx: Context, v: object) -> float | None:
    """A forecast value published like a count (rounded; hidden when small)."""
    n = ctx.count(None if v is None else round(float(v)))  # type: ignore[arg-type]
    return None if n is None else float(n)


def _fan(ctx: Context, s: Section, measure: str, title: str, mart: str) -> list[dict]:
    ahead = _forecast_rows(ctx, measure)
    if not ahead:
        s.notes.append(f"{title}: no forecast for the district.")
        return ahead
    end = ahead[0]["history_end_date"]
    months_back = end.year * 12 + end.month - HISTORY_MONTHS  # 0-based month count
    start = end.replace(year=months_back // 12, month=months_back % 12 + 1)
    past = ctx.rows(mart, HISTORY_SQL[measure], [ctx.la_code, start, end])
    months = [p["month"] for p in past] + [a["month"] for a in ahead]
    history = [_rounded(ctx, p["n"]) for p in past] + [None] * len(ahead)
    pad = [None] * len(past)

    def column(key: str) -> list[float | None]:
        return pad + [_rounded(ctx, a[key]) for a in ahead]

    s.add(
        charts.fan(
            f"forecast_{measure}",
            f"{title}: last {len(past)} months and 12 months ahead",
            [m.strftime("%b %Y") for m in months],
            Series("Recorded", history, column("lower_95"), column("upper_95")),
            Series("Forecast", column("forecast"), column("lower_80"), column("upper_80")),
            "Per month",
        ),
        f"{title}: too few to chart.",
    )
    return ahead


def forecast_section(ctx: Context) -> Section:
    s = Section("forecast", "Demand forecast: the next 12 months with 80 % and 95 % intervals")
    if _missing(ctx, s, "fct_demand_forecast"):
        return s
    (made,) = ctx.conn.execute(
        "select max(history_end_date) from marts.fct_demand_forecast where la_code = %s",
        [ctx.la_code],
    ).fetchone()
    year_end = date(int(ctx.fy[:4]) + 1, 3, 31)
    if made is not None and made > year_end:
        s.notes.append(
            f"The forecast uses months up to {made:%B %Y}, after {ctx.fy}: "
            "a pack for an earlier year does not show it."
        )
        return s
    for measure, title, mart in FORECAST_MEASURES:
        ahead = _fan(ctx, s, measure, title, mart)
        if not ahead:
            continue
        first = ahead[0]
        s.notes.append(
            f"{title}: model {first['model']} (chosen by AICc); in a rolling-origin backtest "
            f"its error was {float(first['mase']):.2f} times the seasonal naive forecast's "
            f"({'better' if float(first['mase']) < 1 else 'no better'} than repeating last "
            "year)."
        )
        if measure == "caseload":
            s.tables.append(_forecast_table(ctx, title, ahead))
    return s


def _forecast_table(ctx: Context, title: str, ahead: list[dict]) -> Table:
    def cell(v: object) -> str:
        return fmt_count(None if (x := _rounded(ctx, v)) is None else int(x))

    return Table(
        f"{title}, forecast for {ctx.la_name}",
        ["Month", "Forecast", "80 % low", "80 % high", "95 % low", "95 % high"],
        [
            [a["month"].strftime("%b %Y")]
            + [cell(a[k]) for k in ("forecast", "lower_80", "upper_80", "lower_95", "upper_95")]
            for a in ahead
        ],
        counts=(1, 2, 3, 4, 5),
    )


# -- partner records linked to the caseload ------------------------------------------------------
LINKED = (
    ("dat_episodes_linked", "Drug-treatment episodes (DAT) linked to the caseload"),
    ("sp_clients_linked", "Supporting People clients linked to the caseload"),
)


def _linked_rate(ctx: Context, k: int, caseload: int) -> tuple[float, float, float] | None:
    """Linked records per 1,000 caseload from the published counts (Byar interval)."""
    k_shown, caseload_shown = ctx.count(k), ctx.count(caseload)
    if k_shown is None or not caseload_shown:
        return None
    lo, hi = byar(k_shown)
    per = 1000 / caseload_shown
    return k_shown * per, lo * per, hi * per


def _linkage_sentence(ctx: Context, label: str, district: tuple, gm: float) -> str | None:
    rate, lo, hi = district
    if lo <= gm <= hi:
        return None
    word = "higher" if lo > gm else "lower"
    return (
        f"{label}, {ctx.fy}: {rate:.1f} per 1,000 caseload (95 % CI {lo:.1f} to {hi:.1f}) is "
        f"significantly {word} than {GM_NAME} ({gm:.1f})."
    )


def linkage_section(ctx: Context) -> Section:
    s = Section("linkage", "Partner records linked to the caseload (DAT, Supporting People)")
    if _missing(ctx, s, "jsna_partner_linkage"):
        return s
    rows = ctx.rows(
        "jsna_partner_linkage",
        "select financial_year, sum(caseload) filter (where la_code = %s) as caseload, "
        "sum(caseload) as gm_caseload, "
        + ", ".join(
            f"sum({c}) filter (where la_code = %s) as {c}, sum({c}) as gm_{c}"
            for c in ("dat_episodes", "dat_episodes_linked", "sp_clients", "sp_clients_linked")
        )
        + " from {mart} where financial_year <= %s group by 1 order by 1",
        [ctx.la_code] * 5 + [ctx.fy],
    )
    rows = [r for r in rows if r["caseload"]]
    if not rows:
        s.notes.append("No partner records for the district.")
        return s
    for column, label in LINKED:
        rates = [_linked_rate(ctx, r[column], r["caseload"]) for r in rows]
        gm = [
            None if (x := _linked_rate(ctx, r[f"gm_{column}"], r["gm_caseload"])) is None else x[0]
            for r in rows
        ]
        if rates[-1] is not None and gm[-1] is not None and rows[-1]["financial_year"] == ctx.fy:
            if sentence := _linkage_sentence(ctx, label, rates[-1], gm[-1]):
                s.sentences.append(sentence)
        s.add(
            charts.trend(
                f"linkage_{column}",
                f"{label}: per 1,000 caseload, with 95 % intervals",
                [r["financial_year"] for r in rows],
                [
                    Series(ctx.la_name, *[[x[i] if x else None for x in rates] for i in range(3)]),
                    Series(GM_NAME, gm),
                ],
                "Per 1,000 caseload",
            ),
            f"{label}: too few linked records to chart.",
        )
    if not s.sentences:
        s.sentences.append(
            f"Neither linked rate differs significantly from {GM_NAME} in {ctx.fy} (95 % level)."
        )
    s.tables.append(_linkage_table(ctx, rows))
    return s


def _linkage_table(ctx: Context, rows: list[dict]) -> Table:
    def line(r: dict) -> list[str]:
        # a total splits into linked and not linked: protected together
        dat = ctx.counts(
            [
                r["dat_episodes"],
                r["dat_episodes_linked"],
                r["dat_episodes"] - r["dat_episodes_linked"],
            ],
            [(0, [1, 2])],
        )
        sp = ctx.counts(
            [r["sp_clients"], r["sp_clients_linked"], r["sp_clients"] - r["sp_clients_linked"]],
            [(0, [1, 2])],
        )
        return [r["financial_year"], fmt_count(ctx.count(r["caseload"]))] + [
            fmt_count(v) for v in (dat[0], dat[1], sp[0], sp[1])
        ]

    return Table(
        f"Partner records and those linked to an offender on the caseload, {ctx.la_name}",
        ["Year", "Caseload", "DAT episodes", "DAT linked", "SP clients", "SP linked"],
        [line(r) for r in rows],
        counts=(1, 2, 3, 4, 5),
    )
