"""The forecasting procedure on series whose behaviour is known (no database)."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from warehouse.analytics.forecasting import (
    HORIZON,
    ForecastError,
    backtest,
    forecast_series,
    seasonal_naive,
)


def test_seasonal_naive_repeats_last_year():
    y = np.arange(30, dtype=float)
    assert seasonal_naive(y, 14).tolist() == [*range(18, 30), 18, 19]


def test_a_series_too_short_for_a_backtest_is_refused_with_its_length():
    with pytest.raises(ForecastError, match="30 months"):
        backtest(np.full(30, 5.0))


def test_on_a_noisy_level_the_procedure_beats_the_seasonal_naive_forecast():
    # GIVEN a stationary count series (no season): last year's value is pure noise
    y = np.random.default_rng(7).poisson(40, 48).astype(float)
    with threadpool_limits(1):
        fc = forecast_series(y)
    # THEN the backtest error is well below the seasonal naive one
    assert fc.mase < 0.9, fc
    assert fc.model.startswith("ETS(A,N,N)") or fc.model.startswith("ETS(A,Ad,N)"), fc.model


def test_intervals_nest_widen_and_cover_a_held_out_year_of_a_seasonal_series():
    # GIVEN 60 months of a trending seasonal series; the model sees the first 48
    rng = np.random.default_rng(11)
    t = np.arange(60)
    y = 300 + 1.5 * t + 40 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 8, 60)
    with threadpool_limits(1):
        fc = forecast_series(y[:48])
    held_out = y[48:]
    # THEN a seasonal model is chosen, the 95 % interval contains the 80 % one, the
    # intervals widen with the horizon and cover (nearly) every held-out month
    assert "A)" in fc.model or "SARIMAX" in fc.model, fc.model
    assert len(fc.mean) == HORIZON
    assert np.all(fc.lower[95] <= fc.lower[80]) and np.all(fc.upper[80] <= fc.upper[95])
    assert np.all(fc.lower[80] <= fc.mean) and np.all(fc.mean <= fc.upper[80])
    width = fc.upper[95] - fc.lower[95]
    assert width[-1] >= width[0]
    covered = (fc.lower[95] <= held_out) & (held_out <= fc.upper[95])
    assert covered.sum() >= 10, (held_out, fc.lower[95], fc.upper[95])
    assert fc.mase < 1.0, fc
