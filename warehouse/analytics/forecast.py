"""Demand forecast: caseload, commencements, requirements by type and court reports per
district, 12 months ahead with 80 % and 95 % prediction intervals, and each series'
rolling-origin backtest against the seasonal naive forecast
(``warehouse.analytics.forecasting``). Writes ``analytics.demand_forecast``, which the
mart ``fct_demand_forecast`` publishes.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import date
from typing import Any

from warehouse.analytics.store import read_sql, write_table
from warehouse.settings import Settings

log = logging.getLogger(__name__)

# The simulation starts in April 2004 with nobody under supervision: the caseload builds
# up over the first 18 months (the longest order). Series start once it is steady.
HISTORY_START = date(2005, 10, 1)
# requirement types below this mean per district and month are too sparse to forecast
# (a handful a year: the forecast of a rare requirement is its area total's job)
MIN_MEAN_PER_MONTH = 5.0

SERIES_SQL = {
    "caseload": """
        select la_code, 'ALL' as subtype, month_start_date as month, count(distinct offender_id)
        from marts.fct_caseload_monthly group by 1, 2, 3""",
    "commencements": """
        select la_code, 'ALL', start_month, count(*)
        from marts.fct_commencements group by 1, 2, 3""",
    "requirements": """
        select la_code, requirement_type_code, date_trunc('month', sentence_start_date)::date,
            count(*)
        from marts.fct_requirements group by 1, 2, 3""",
    "court_reports": """
        select la_code, 'ALL', date_trunc('month', completed_date)::date, count(*)
        from marts.fct_court_reports where completed_date is not null group by 1, 2, 3""",
}

COLUMNS = {
    "measure": "text",
    "la_code": "text",
    "subtype": "text",
    "month_start_date": "date",
    "horizon_months": "integer",
    "forecast": "numeric(12, 2)",
    "lower_80": "numeric(12, 2)",
    "upper_80": "numeric(12, 2)",
    "lower_95": "numeric(12, 2)",
    "upper_95": "numeric(12, 2)",
    "model": "text",
    "aicc": "numeric(14, 3)",
    "history_start_date": "date",
    "history_end_date": "date",
    "backtest_mae": "numeric(12, 3)",
    "seasonal_naive_mae": "numeric(12, 3)",
    "mase": "numeric(10, 4)",
    "hyndman_mase": "numeric(10, 4)",
}


def monthly_series(settings: Settings) -> dict[tuple[str, str, str], Any]:
    """(measure, district, subtype) -> monthly counts from HISTORY_START to the last month
    any series has (missing months are 0), for the districts and subtypes dense enough."""
    import pandas as pd

    frames = []
    for measure, sql in SERIES_SQL.items():
        frame = read_sql(settings, sql)
        frame.columns = ["la_code", "subtype", "month", "n"]
        frame["measure"] = measure
        frames.append(frame)
    rows = pd.concat(frames)
    rows = rows[(rows["month"] >= HISTORY_START) & rows["la_code"].str.match(r"^E\d{8}$")]
    if rows.empty:
        return {}
    # the caseload runs on past the last delivery (orders still running): every series
    # ends at the last month all measures have (the data's end)
    last = min(group["month"].max() for _, group in rows.groupby("measure"))
    rows = rows[rows["month"] <= last]
    months = pd.date_range(HISTORY_START, last, freq="MS").date
    series = {}
    for key, group in rows.groupby(["measure", "la_code", "subtype"]):
        values = group.set_index("month")["n"].reindex(months, fill_value=0).astype(float)
        if values.mean() >= MIN_MEAN_PER_MONTH:
            series[key] = values
    return series


def _rows_for(key: tuple[str, str, str], values: Any, fc: Any) -> list[dict[str, Any]]:
    import pandas as pd

    measure, la_code, subtype = key
    first = pd.Timestamp(values.index[-1]) + pd.DateOffset(months=1)
    out = []
    for h in range(len(fc.mean)):
        out.append(
            {
                "measure": measure,
                "la_code": la_code,
                "subtype": subtype,
                "month_start_date": (first + pd.DateOffset(months=h)).date(),
                "horizon_months": h + 1,
                "forecast": round(float(fc.mean[h]), 2),
                "lower_80": round(float(fc.lower[80][h]), 2),
                "upper_80": round(float(fc.upper[80][h]), 2),
                "lower_95": round(float(fc.lower[95][h]), 2),
                "upper_95": round(float(fc.upper[95][h]), 2),
                "model": fc.model,
                "aicc": round(fc.aicc, 3),
                "history_start_date": values.index[0],
                "history_end_date": values.index[-1],
                "backtest_mae": round(fc.backtest_mae, 3),
                "seasonal_naive_mae": round(fc.seasonal_naive_mae, 3),
                "mase": round(fc.mase, 4),
                "hyndman_mase": round(fc.hyndman_mase, 4),
            }
        )
    return out


def _one_blas_thread() -> None:
    """A worker's set-up: one BLAS thread. The fits are tiny, and threads made each SARIMAX
    fit ~25x slower on a busy 2-core machine (30 s -> 1.2 s measured). threadpoolctl limits
    only the libraries already loaded, so the models' own (numpy's, scipy's) load first."""
    import statsmodels.tsa.api  # noqa: F401 - loads numpy's and scipy's BLAS
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def _forecast_or_reason(values: Any) -> Any:
    from warehouse.analytics.forecasting import ForecastError, forecast_series

    try:
        return forecast_series(values)
    except ForecastError as exc:
        return str(exc)


def _forecast_all(series: list[Any]) -> Iterator[Any]:
    """Each series' forecast (or the reason it has none), in order: the series are
    independent, so they are spread over one worker process per core (spawned: a clean
    interpreter, safe inside an Airflow task); the results are the same as one by one."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    workers = min(len(series), os.cpu_count() or 1)
    if workers <= 1:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            yield from map(_forecast_or_reason, series)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_one_blas_thread) as pool:
        yield from pool.map(_forecast_or_reason, series, chunksize=2)


def run(settings: Settings) -> dict[str, Any]:
    """Forecast every series; write ``analytics.demand_forecast``; return the figures."""
    import numpy as np
    import pandas as pd

    from warehouse import progress

    series = monthly_series(settings)
    rows: list[dict[str, Any]] = []
    mases: dict[str, float] = {}
    skipped: list[str] = []
    for key, fc in zip(series, _forecast_all([v.to_numpy() for v in series.values()]), strict=True):
        progress.advance("forecast", total=len(series))
        if isinstance(fc, str):
            skipped.append(f"{'/'.join(key)}: {fc}")
            continue
        rows += _rows_for(key, series[key], fc)
        mases["/".join(key)] = fc.mase
    write_table(settings, "demand_forecast", pd.DataFrame(rows, columns=list(COLUMNS)), COLUMNS)
    values = list(mases.values())
    return {
        "series": len(mases),
        "series_skipped": len(skipped),
        "forecast_rows": len(rows),
        "median_mase": float(np.median(values)) if values else None,
        "share_series_beating_seasonal_naive": (
            float(np.mean([m < 1 for m in values])) if values else None
        ),
    }
