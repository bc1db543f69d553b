"""Cost by complexity: the allocation reconciles with the ledger to the penny."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from warehouse.analytics.costing import allocate, allocate_pennies, variable_by_year


@pytest.mark.parametrize("total", [0, 1, 7, 1_000_003, 52_048_795_17])
def test_pennies_add_up_exactly_whatever_the_weights(total):
    weights = np.random.default_rng(total % 97).random(37) ** 3
    split = allocate_pennies(total, weights)
    assert split.sum() == total and (split >= 0).all()
    assert np.allclose(split, total * weights / weights.sum(), atol=1)


def test_all_zero_weights_are_refused():
    with pytest.raises(ValueError, match="all zero"):
        allocate_pennies(100, np.zeros(3))


def offender_years() -> pd.DataFrame:
    rng = np.random.default_rng(2)
    n = 400
    return pd.DataFrame(
        {
            "financial_year": rng.choice(["2006/07", "2007/08"], n),
            "tier": rng.integers(0, 5, n),
            "need_band": rng.choice(["0", "1", "2", "3", "4+", "not assessed"], n),
            "ogrs3_band": rng.choice(["low", "medium", "high", "very high", "no score"], n),
            "supervision_months": rng.integers(1, 13, n),
            "upw_hours": rng.choice([0, 0, 40, 120], n),
            "prog_sessions": rng.choice([0, 0, 0, 26], n),
            "drr_months": rng.choice([0, 0, 0, 6], n),
            "atr_months": 0,  # no alcohol treatment at all: its spend falls back
            "res_months": rng.choice([0, 0, 0, 0, 3], n),
        }
    )


def ledger() -> pd.DataFrame:
    rows = []
    for fy in ("2006/07", "2007/08"):
        for service, pounds in [
            ("SUPV", 1_234_567.89),
            ("UPW", 456_789.01),
            ("PROG", 98_765.43),
            ("DRR", 54_321.99),
            ("ATR", 12_345.67),
            ("AP", 77_777.77),
            ("CONT", 33_333.33),
            ("CORP", 222_222.22),
            ("UNKNOWN", 101.01),
        ]:
            rows.append((fy, service, round(pounds * 100)))
    return pd.DataFrame(rows, columns=["financial_year", "service_code", "actual_pennies"])


def test_every_year_reconciles_with_the_ledger_to_the_penny():
    variable = pd.DataFrame(
        {"financial_year": ["2006/07"], "service_code": ["UPW"], "variable_gbp": [45_000.0]}
    )
    rows = allocate(offender_years(), ledger(), variable)
    totals = (
        (rows["direct_pennies"] + rows["overhead_pennies"]).groupby(rows["financial_year"]).sum()
    )
    expected = ledger().groupby("financial_year")["actual_pennies"].sum()
    assert totals.to_dict() == expected.to_dict()
    # overheads (CORP and spend of no known service) are spread, never a row of their own
    assert not rows["service_code"].isin(["CORP", "UNKNOWN"]).any()
    overhead = rows.groupby("financial_year")["overhead_pennies"].sum()
    assert overhead.to_dict() == {"2006/07": 22_232_323, "2007/08": 22_232_323}
    # a service whose driver is zero all year is spread on supervision months
    assert set(rows.loc[rows["service_code"] == "ATR", "driver"]) == {"supervision_months"}
    # higher tiers cost more per offender-year in supervision (tier-weighted months)
    supv = rows[rows["service_code"] == "SUPV"].groupby("tier")
    per_year = supv["total_gbp"].sum() / supv["offender_years"].sum()
    assert per_year[4] > per_year[3] > per_year[2] > per_year[1]
    # marginal cost only where the ledger has variable spend
    upw = rows[(rows["service_code"] == "UPW") & (rows["financial_year"] == "2006/07")]
    assert (upw["marginal_cost_per_case_gbp"] >= 0).all() and upw[
        "marginal_cost_per_case_gbp"
    ].max() > 0


def test_variable_spend_is_summed_by_financial_year_april_to_march():
    from datetime import date

    by_month = pd.DataFrame(
        {
            "period_month": [date(2008, 3, 1), date(2008, 4, 1), date(2009, 3, 1)],
            "service_code": ["UPW", "UPW", "UPW"],
            "variable_gbp": [1.0, 2.0, 4.0],
        }
    )
    got = variable_by_year(by_month)
    assert got.to_dict("records") == [
        {"financial_year": "2007/08", "service_code": "UPW", "variable_gbp": 1.0},
        {"financial_year": "2008/09", "service_code": "UPW", "variable_gbp": 6.0},
    ]
