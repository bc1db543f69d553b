"""Sections read from marts other branches are building (demand forecast, cost by complexity,
matched evaluation, partner linkage). When the mart is in the warehouse its district rows
are shown (counts under disclosure control); otherwise the section says plainly that it is
not yet available. Each section is finished on merge, when the marts' columns are known."""

from __future__ import annotations

from decimal import Decimal

from warehouse.report import charts
from warehouse.report.charts import Series
from warehouse.report.model import NOT_AVAILABLE, Context, Section, Table, fmt_count
from warehouse.sharing.agreement_rules import RECORD_KEYS

MAX_ROWS = 40
CHART_BARS = 12  # a chart fits on one A4 page with its heading (40 bars did not)
COUNT_TYPES = {"integer", "bigint", "smallint"}


def _columns(ctx: Context, mart: str) -> list[tuple[str, str]]:
    return ctx.conn.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'marts' and table_name = %s order by ordinal_position",
        [mart],
    ).fetchall()


def _district_rows(ctx: Context, mart: str, cols: list[tuple[str, str]]) -> list[dict]:
    names = {c for c, _ in cols}
    where, params = [], []
    if "la_code" in names:
        where.append("la_code = %s")
        params.append(ctx.la_code)
    if "financial_year" in names:
        where.append("financial_year <= %s")
        params.append(ctx.fy)
    query = "select * from {mart}" + (" where " + " and ".join(where) if where else "")
    return ctx.rows(mart, query + f" limit {MAX_ROWS}", params)


def _text(ctx: Context, value: object, data_type: str) -> str:
    if data_type in COUNT_TYPES and isinstance(value, int):
        return fmt_count(ctx.count(value))  # every whole number treated as a count
    if isinstance(value, (float, Decimal)):
        return f"{float(value):,.3g}"
    return "" if value is None else str(value)


def pending_section(ctx: Context, key: str, title: str, mart: str) -> Section:
    s = Section(key, title)
    if not ctx.exists(mart):
        s.notes.append(f"{title}: {NOT_AVAILABLE} (the mart {mart} is not built yet).")
        return s
    cols = _columns(ctx, mart)
    if any(RECORD_KEYS.match(c) for c, _ in cols):  # a row per person: only a count leaves
        (n,) = ctx.rows(
            mart,
            "select count(*) as n from {mart}"
            + (" where la_code = %s" if any(c == "la_code" for c, _ in cols) else ""),
            [ctx.la_code] if any(c == "la_code" for c, _ in cols) else [],
        )[0].values()
        s.sentences.append(f"{mart}: {fmt_count(ctx.count(n))} records for the district.")
        return s
    rows = _district_rows(ctx, mart, cols)
    shown = [(c, t) for c, t in cols if not c.endswith("_id") and c != "la_code"]
    s.tables.append(
        Table(
            f"{mart}: the district's rows (first {MAX_ROWS})",
            [c for c, _ in shown],
            [[_text(ctx, r[c], t) for c, t in shown] for r in rows],
            counts=tuple(i for i, (_, t) in enumerate(shown) if t in COUNT_TYPES),
        )
    )
    numeric = [c for c, t in shown if t in {"numeric", "double precision"}]
    label = next((c for c, t in shown if t in {"text", "date"}), None)
    if numeric and label:
        s.add(
            charts.bars(
                f"{key}_chart",
                f"{mart}: {numeric[0]}",
                [str(r[label]) for r in rows[:CHART_BARS]],
                Series(
                    ctx.la_name,
                    [
                        None if r[numeric[0]] is None else float(r[numeric[0]])
                        for r in rows[:CHART_BARS]
                    ],
                ),
                numeric[0],
            ),
            f"{mart}: nothing to chart.",
        )
    return s


def forecast_section(ctx: Context) -> Section:
    return pending_section(
        ctx, "forecast", "Demand forecast with its intervals", "fct_demand_forecast"
    )


def cost_complexity_section(ctx: Context) -> Section:
    return pending_section(ctx, "cost_complexity", "Cost by complexity", "fct_cost_by_complexity")


def evaluation_section(ctx: Context) -> Section:
    return pending_section(
        ctx, "evaluation", "Matched evaluation of interventions", "fct_intervention_evaluations"
    )


def linkage_section(ctx: Context) -> Section:
    return pending_section(
        ctx, "linkage", "Partner records linked to the caseload", "jsna_partner_linkage"
    )
