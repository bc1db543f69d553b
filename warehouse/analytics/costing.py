"""Cost by complexity: the finance ledger's actual spend of each financial year allocated to
offender-years by tier x number of criminogenic needs x OGRS3 band, by the activity-based
rule in ``docs/cost_by_complexity.md``; writes ``analytics.cost_by_complexity`` (published
by the mart ``fct_cost_by_complexity``).

Money is allocated in pennies by the largest-remainder method, so every financial year's
allocated total equals the ledger's actual spend (``marts.fct_service_costs``) exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ingestion import financial_year as fyear
from warehouse.analytics.store import read_sql, write_table
from warehouse.settings import Settings

# Effort of a supervision month by tier (the offender management model: tier 1 punish,
# 2 + help, 3 + change, 4 + control; contact levels rise with tier). Assumed weights,
# documented in docs/cost_by_complexity.md; 0 = no tier recorded.
TIER_EFFORT = {0: 1.0, 1: 1.0, 2: 1.5, 3: 2.0, 4: 3.0}
# service -> the activity of an offender-year that drives its cost
DRIVERS = {
    "SUPV": "weighted_months",
    "CONT": "supervision_months",
    "UPW": "upw_hours",
    "PROG": "prog_sessions",
    "DRR": "drr_months",
    "ATR": "atr_months",
    "AP": "res_months",
}
FALLBACK_DRIVER = "supervision_months"  # a service whose driver is zero all year
OVERHEAD_SERVICES = ("CORP",)  # allocated on direct cost, as is spend of no known service
VARIABLE_ACCOUNTS = ("CONTRACTS", "OTHER")  # vary with volume in the short run
CELL = ["financial_year", "tier", "need_band", "ogrs3_band"]

OFFENDER_YEARS_SQL = """
with caseload as (
    select offender_id, financial_year, count(*) as supervision_months,
        coalesce((array_agg(tier order by month_start_date desc))[1], 0) as tier
    from marts.fct_caseload_monthly group by 1, 2
),
latest_assessment as (
    select distinct on (offender_id, financial_year) offender_id, financial_year, assessment_id
    from marts.fct_assessment_needs
    order by offender_id, financial_year, assessment_date desc, assessment_id desc
),
needs as (
    select l.offender_id, l.financial_year, count(*) filter (where n.is_need) as needs
    from latest_assessment as l
    inner join marts.fct_assessment_needs as n on n.assessment_id = l.assessment_id
    group by 1, 2
),
ogrs3 as (
    select distinct on (c.offender_id, c.financial_year)
        c.offender_id, c.financial_year, r.ogrs3_band
    from caseload as c
    inner join marts.fct_reoffending_cohort as r
        on r.offender_id = c.offender_id and r.cohort_year <= c.financial_year
    order by c.offender_id, c.financial_year, r.cohort_year desc
),
requirements as (
    select offender_id, financial_year,
        sum(requirement_length) filter (where requirement_type_code = 'UPW') as upw_hours,
        sum(requirement_length) filter (where requirement_type_code = 'PROG') as prog_sessions,
        sum(requirement_length) filter (where requirement_type_code = 'DRR') as drr_months,
        sum(requirement_length) filter (where requirement_type_code = 'ATR') as atr_months,
        sum(requirement_length) filter (where requirement_type_code = 'RES') as res_months
    from marts.fct_requirements group by 1, 2
)
select
    c.financial_year, c.tier,
    case when n.needs is null then 'not assessed' when n.needs >= 4 then '4+'
        else n.needs::text end as need_band,
    coalesce(o.ogrs3_band, 'no score') as ogrs3_band,
    c.supervision_months,
    coalesce(r.upw_hours, 0) as upw_hours, coalesce(r.prog_sessions, 0) as prog_sessions,
    coalesce(r.drr_months, 0) as drr_months, coalesce(r.atr_months, 0) as atr_months,
    coalesce(r.res_months, 0) as res_months
from caseload as c
left join needs as n using (offender_id, financial_year)
left join ogrs3 as o using (offender_id, financial_year)
left join requirements as r using (offender_id, financial_year)
where c.financial_year in (select distinct financial_year from marts.fct_service_costs)
"""

LEDGER_SQL = """
select financial_year, service_code,
    round(sum(actual_gbp) * 100)::bigint as actual_pennies
from marts.fct_service_costs group by 1, 2
"""
VARIABLE_SQL = """
select period_month, service_code, sum(actual_gbp) as variable_gbp
from staging.stg_finance__ledger_lines where account = any(%s) group by 1, 2
"""

COLUMNS = {
    "financial_year": "text",
    "tier": "integer",
    "need_band": "text",
    "ogrs3_band": "text",
    "service_code": "text",
    "offender_years": "numeric(12, 3)",
    "driver": "text",
    "driver_units": "numeric(14, 2)",
    "direct_gbp": "numeric(14, 2)",
    "overhead_gbp": "numeric(14, 2)",
    "total_gbp": "numeric(14, 2)",
    "cost_per_offender_year_gbp": "numeric(14, 2)",
    "marginal_cost_per_case_gbp": "numeric(14, 2)",
}


def allocate_pennies(total: int, weights: np.ndarray) -> np.ndarray:
    """``total`` pennies split in proportion to ``weights`` (largest remainder): whole
    pennies that add up to ``total`` exactly. Zero weights everywhere: all to none, so the
    caller must choose another driver."""
    weights = np.asarray(weights, dtype=float)
    if weights.sum() <= 0:
        raise ValueError("cannot allocate on weights that are all zero")
    exact = total * weights / weights.sum()
    base = np.floor(exact).astype(np.int64)
    short = int(total - base.sum())
    order = np.argsort(-(exact - base), kind="stable")
    base[order[:short]] += 1
    return base


def cells(offender_years: Any) -> Any:
    """Offender-years summed by cell, with the tier-weighted supervision months."""
    frame = offender_years.copy()
    frame["weighted_months"] = frame["supervision_months"] * frame["tier"].map(TIER_EFFORT)
    drivers = sorted(set(DRIVERS.values()) | {FALLBACK_DRIVER})
    return frame.groupby(CELL, as_index=False)[drivers].sum()


def _direct(cell_frame: Any, ledger: Any) -> Any:
    """One row per cell x service with its direct cost (pennies) and driver."""
    import pandas as pd

    parts = []
    for (fy, service), pennies in ledger.set_index(["financial_year", "service_code"])[
        "actual_pennies"
    ].items():
        if service in OVERHEAD_SERVICES or service not in DRIVERS:
            continue
        year = cell_frame[cell_frame["financial_year"] == fy]
        driver = DRIVERS[service] if year[DRIVERS[service]].sum() > 0 else FALLBACK_DRIVER
        part = year[CELL].copy()
        part["service_code"], part["driver"] = service, driver
        part["driver_units"] = year[driver].to_numpy()
        part["direct_pennies"] = allocate_pennies(int(pennies), year[driver].to_numpy())
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def allocate(offender_years: Any, ledger: Any, variable: Any) -> Any:
    """The cost-by-complexity table: direct cost by driver, overheads (CORP and spend of
    no known service) on direct cost, per financial year; variable spend per driver unit
    gives the marginal cost of one more case of the cell's complexity."""
    cell_frame = cells(offender_years)
    rows = _direct(cell_frame, ledger)
    rows["overhead_pennies"] = 0
    for fy, pennies in ledger.groupby("financial_year")["actual_pennies"].sum().items():
        overhead = int(pennies) - int(
            rows.loc[rows["financial_year"] == fy, "direct_pennies"].sum()
        )
        mask = rows["financial_year"] == fy
        rows.loc[mask, "overhead_pennies"] = allocate_pennies(
            overhead, rows.loc[mask, "direct_pennies"].to_numpy()
        )
    years = cell_frame.set_index(CELL)["supervision_months"] / 12
    rows["offender_years"] = years.reindex(rows.set_index(CELL).index).to_numpy()
    rows["direct_gbp"] = rows["direct_pennies"] / 100
    rows["overhead_gbp"] = rows["overhead_pennies"] / 100
    rows["total_gbp"] = (rows["direct_pennies"] + rows["overhead_pennies"]) / 100
    rows["cost_per_offender_year_gbp"] = (rows["total_gbp"] / rows["offender_years"]).round(2)
    units = rows.groupby(["financial_year", "service_code"])["driver_units"].transform("sum")
    rate = (
        rows.merge(variable, how="left", on=["financial_year", "service_code"])["variable_gbp"]
        .fillna(0)
        .to_numpy()
        / units.replace(0, np.nan).to_numpy()
    )
    rows["marginal_cost_per_case_gbp"] = np.round(
        rate * rows["driver_units"].to_numpy() / rows["offender_years"].to_numpy(), 2
    )
    return rows


def variable_by_year(by_month: Any) -> Any:
    """Variable spend by month and service -> by financial year and service."""
    by_month = by_month.assign(
        financial_year=[fyear.of_date(day) for day in by_month["period_month"]]
    )
    return by_month.groupby(["financial_year", "service_code"], as_index=False)[
        "variable_gbp"
    ].sum()


def run(settings: Settings) -> dict[str, Any]:
    """Allocate every financial year's spend; write ``analytics.cost_by_complexity``."""
    from warehouse.analytics.store import SCHEMA

    offender_years = read_sql(settings, OFFENDER_YEARS_SQL)
    ledger = read_sql(settings, LEDGER_SQL)
    variable = variable_by_year(read_sql(settings, VARIABLE_SQL, (list(VARIABLE_ACCOUNTS),)))
    rows = allocate(offender_years, ledger, variable)
    write_table(settings, "cost_by_complexity", rows, COLUMNS)
    allocated = int(rows["direct_pennies"].sum() + rows["overhead_pennies"].sum())
    return {
        "table": f"{SCHEMA}.cost_by_complexity",
        "rows": len(rows),
        "financial_years": sorted(rows["financial_year"].unique().tolist()),
        "ledger_pennies": int(ledger["actual_pennies"].sum()),
        "allocated_pennies": allocated,
    }
