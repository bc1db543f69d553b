"""The forecasting procedure on series whose behaviour is known (no database)."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from warehouse.analytics.forecasting import (
    CANDIDATES,
    HORIZON,
    ForecastError,
    _fit_one,
    backtest,
    choose_and_forecast,
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


def test_intervals_nest_widen_and_cover_held_out_years_of_seasonal_series():
    # GIVEN four trending seasonal series of 60 months; the models see the first 48
    inside, months = 0, 0
    for seed in (11, 12, 13, 14):
        rng = np.random.default_rng(seed)
        t = np.arange(60)
        y = 300 + 1.5 * t + 40 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 8, 60)
        with threadpool_limits(1):
            fc = choose_and_forecast(y[:48], HORIZON, levels=(80, 95))
        # THEN a seasonal model is chosen, the 95 % interval contains the 80 % one and the
        # intervals do not narrow with the horizon
        assert "A)" in fc.name or "SARIMAX" in fc.name, fc.name
        (lo80, hi80), (lo95, hi95) = fc.intervals[80], fc.intervals[95]
        assert np.all(lo95 <= lo80) and np.all(lo80 <= fc.mean) and np.all(fc.mean <= hi80)
        assert np.all(hi80 <= hi95)
        assert (hi95 - lo95)[-1] >= (hi95 - lo95)[0] - 1e-9
        inside += int(((lo95 <= y[48:]) & (y[48:] <= hi95)).sum())
        months += HORIZON
    # AND the 95 % intervals cover about 95 % of the 48 held-out months (>= 43: a
    # calibrated interval falls below that with probability ~3 %)
    assert inside >= 43, f"{inside} of {months} held-out months inside the 95 % interval"


def test_series_forecast_in_worker_processes_equal_one_by_one(monkeypatch):
    from warehouse.analytics import forecast

    rng = np.random.default_rng(5)
    t = np.arange(36)  # the shortest history a backtest takes: one origin
    series = [100 + 10 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 4, 36) for _ in range(2)]
    series.append(np.ones(20))  # too short for a backtest: its reason comes back in place
    monkeypatch.setattr(forecast.os, "cpu_count", lambda: 2)
    pooled = list(forecast._forecast_all(series))
    monkeypatch.setattr(forecast.os, "cpu_count", lambda: 1)
    serial = list(forecast._forecast_all(series))
    assert isinstance(pooled[-1], str) and pooled[-1] == serial[-1]
    for a, b in zip(pooled[:-1], serial[:-1], strict=True):
        assert a.model == b.model and np.allclose(a.mean, b.mean) and a.mase == b.mase


@pytest.mark.parametrize("name, spec", CANDIDATES, ids=[name for name, _ in CANDIDATES])
def test_each_candidate_gives_statsmodels_own_figures_without_the_covariance_it_skips(name, spec):
    # GIVEN a trending seasonal series of 42 months (the default dataset's length)
    import pandas as pd
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    t = np.arange(42)
    y = 200 + 0.8 * t + 15 * np.sin(2 * np.pi * t / 12)
    y += np.random.default_rng(3).normal(0, 4, 42)
    dated = pd.Series(y, index=pd.date_range("2000-01-01", periods=42, freq="MS"))
    # WHEN the candidate is fitted as the procedure fits it: with intervals (the final
    # fit) and without (a backtest origin)
    with threadpool_limits(1):
        final = _fit_one(name, spec, y, HORIZON, (80, 95))
        origin = _fit_one(name, spec, y, HORIZON, ())
        # and by statsmodels' own classes with their defaults (the covariance computed)
        if name.startswith("ETS"):
            periods = 12 if spec.get("seasonal") else None
            plain = ETSModel(dated, seasonal_periods=periods, **spec).fit(disp=False, maxiter=200)
            frame = plain.get_prediction(start=42, end=42 + HORIZON - 1).summary_frame(alpha=0.05)
            mean, upper = np.asarray(frame["mean"]), np.asarray(frame["pi_upper"])
        else:
            model = SARIMAX(dated, order=(1, 0, 0), seasonal_order=(1, 0, 0, 12), trend="ct")
            plain = model.fit(disp=False, maxiter=200)
            fc = plain.get_forecast(HORIZON)
            mean, upper = np.asarray(fc.predicted_mean), np.asarray(fc.conf_int(alpha=0.05))[:, 1]
    assert final is not None and origin is not None
    # THEN the AICc, the forecast and the 95 % bound (before widening by sqrt(n / (n - k)),
    # k counting the error variance) are statsmodels' own: to the bit for ETS; for the
    # SARIMAX, whose variance the procedure concentrates out of the likelihood, the same
    # maximum found by a different search (to the optimiser's tolerance: the forecast within
    # 1e-4, the interval's half-width within 0.5 %, where a k one short would be 1.3 % off)
    exact = name.startswith("ETS")
    assert final.aicc == origin.aicc and np.array_equal(origin.mean, final.mean)
    widen = np.sqrt(42 / (42 - len(plain.params)))
    half_width = final.intervals[95][1] - final.mean
    if exact:
        assert final.aicc == float(plain.aicc) and np.array_equal(final.mean, mean)
        assert np.allclose(final.intervals[95][1], mean + (upper - mean) * widen, rtol=1e-12)
    else:
        assert np.isclose(final.aicc, plain.aicc, rtol=1e-5)
        assert np.allclose(final.mean, mean, rtol=1e-4)
        assert np.allclose(half_width, (upper - mean) * widen, rtol=5e-3)
    assert origin.intervals == {}


def _shapes() -> dict[str, np.ndarray]:
    """Series that drive the smoothing parameters onto their bounds (noise, counts: alpha
    at its floor; a random walk, a level shift: at its ceiling) and one that runs out of
    iterations (the damped trend on a trending seasonal series)."""
    rng = np.random.default_rng(11)
    t = np.arange(40)
    return {
        "noise": 50 + rng.normal(0, 5, 40),
        "random_walk": 100 + np.cumsum(rng.normal(0, 3, 40)),
        "level_shift": np.where(t < 20, 30.0, 60.0) + rng.normal(0, 1, 40),
        "seasonal_trend": 200 + 0.8 * t + 15 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 4, 40),
        "counts": rng.poisson(6, 40).astype(float),
    }


@pytest.mark.parametrize("shape", list(_shapes()))
def test_the_lean_ets_fit_stops_where_statsmodels_stops_bounds_and_iteration_cap_included(shape):
    # GIVEN a series and every ETS candidate
    import warnings

    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    from warehouse.analytics.lean_ets import LeanETSModel

    y = _shapes()[shape]
    hit_bounds = capped = 0
    for name, spec in CANDIDATES:
        if not name.startswith("ETS"):
            continue
        periods = 12 if spec.get("seasonal") else None
        # WHEN statsmodels' ETSModel and the lean one fit it
        with warnings.catch_warnings(), threadpool_limits(1):
            warnings.simplefilter("ignore")
            plain = ETSModel(y, seasonal_periods=periods, **spec).fit(disp=False, maxiter=200)
            lean = LeanETSModel(y, seasonal_periods=periods, **spec).fit(disp=False, maxiter=200)
        # THEN the optimiser took the same path to the same point, to the bit
        assert np.array_equal(lean.params, plain.params), name
        assert lean.aicc == plain.aicc and np.array_equal(lean.forecast(12), plain.forecast(12))
        for key in ("iterations", "converged", "warnflag"):
            assert lean.mle_retvals[key] == plain.mle_retvals[key], (name, key)
        alpha = float(plain.params[0])
        hit_bounds += alpha in (1e-4, 0.9999)
        capped += plain.mle_retvals["iterations"] == 200
    # and the series reached what it is here for (a bound, or the iteration cap)
    assert hit_bounds or capped


@pytest.mark.parametrize("shape", list(_shapes()))
def test_the_lean_sarimax_fit_is_statsmodels_own_to_the_bit(shape):
    # GIVEN a series, whole and cut at a backtest origin (a fit may fail on either: then
    # both must fail alike)
    import warnings

    from statsmodels.tsa.statespace.sarimax import SARIMAX

    from warehouse.analytics.lean_sarimax import LeanSARIMAX

    def fit(cls, y):  # type: ignore[no-untyped-def]
        model = cls(
            y, order=(1, 0, 0), seasonal_order=(1, 0, 0, 12), trend="ct", concentrate_scale=True
        )
        try:
            return model.fit(disp=False, maxiter=200, cov_type="none")
        except (ValueError, np.linalg.LinAlgError) as exc:
            return type(exc).__name__

    real_update, general = SARIMAX.update, []

    def counted(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        general.append(type(self).__name__)
        return real_update(self, *args, **kwargs)

    for y in (_shapes()[shape], _shapes()[shape][:28]):
        # WHEN statsmodels' SARIMAX and the lean one fit it
        with warnings.catch_warnings(), threadpool_limits(1):
            warnings.simplefilter("ignore")
            plain = fit(SARIMAX, y)
            SARIMAX.update = counted  # type: ignore[method-assign]
            try:
                lean = fit(LeanSARIMAX, y)
            finally:
                SARIMAX.update = real_update  # type: ignore[method-assign]
        # (every likelihood of the lean fit set its parameters the lean way)
        assert general == []
        if isinstance(plain, str):
            assert lean == plain
            continue
        # THEN the optimiser took the same path to the same point: parameters, AICc,
        # forecast and interval to the bit
        assert np.array_equal(lean.params, plain.params)
        assert lean.aicc == plain.aicc
        assert lean.mle_retvals["iterations"] == plain.mle_retvals["iterations"]
        ours, theirs = lean.get_forecast(12), plain.get_forecast(12)
        assert np.array_equal(ours.predicted_mean, theirs.predicted_mean)
        assert np.array_equal(ours.conf_int(alpha=0.05), theirs.conf_int(alpha=0.05))
