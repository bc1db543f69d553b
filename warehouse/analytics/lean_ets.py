"""statsmodels' ``ETSModel`` fitted at a fraction of its cost, to the same results.

``ETSModel.fit`` hands L-BFGS-B its log-likelihood and lets scipy approximate the gradient
by forward differences (``approx_grad``): each of the ~17 extra evaluations a gradient
takes then passes through scipy's and statsmodels' wrappers, ~25 µs each, around a
4 µs smoothing pass. Here the fit gets the likelihood and that same gradient in one call
(statsmodels' ``loglike_and_score``): the same smoothing function, the same arithmetic in
the same order, the same steps as scipy's ``approx_derivative`` with L-BFGS-B's absolute
step and its bounds (``forward_steps``), and the same cap on evaluations (scipy counts
each finite difference as one). So the optimiser visits the same points and stops at the
same one: parameters, AICc, forecasts and intervals equal statsmodels' own to the bit
(``tests/unit/test_analytics_forecasting.py``), ~2x faster a fit. What differs is the
bookkeeping: ``mle_retvals["fcalls"]`` counts likelihood-and-gradient calls, not each
finite difference, and ``mle_settings`` holds the gradient function (so the results do
not pickle; nothing here pickles them).

Only additive errors take this path (every candidate of ``warehouse.analytics.forecasting``);
a multiplicative model fits as statsmodels fits it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from statsmodels.tsa.exponential_smoothing.base import StateSpaceMLEModel
from statsmodels.tsa.exponential_smoothing.ets import ETSModel, ETSResults, ETSResultsWrapper

MAXFUN = 15000  # fmin_l_bfgs_b's default cap on evaluations
EPSILON = 1e-8  # fmin_l_bfgs_b's default absolute finite-difference step
RELATIVE_STEP = float(np.finfo(np.float64).eps ** 0.5)  # approx_derivative's fallback


def forward_steps(x0: np.ndarray, lb: np.ndarray, ub: np.ndarray) -> np.ndarray:
    """The forward-difference steps scipy's ``approx_derivative`` takes at ``x0`` with an
    absolute step of EPSILON ('2-point', one-sided): a relative step where EPSILON would
    vanish, turned backwards where a bound is closer than the step, shortened to the bound
    where neither direction has room."""
    h = np.full(x0.shape, EPSILON)
    sign = (x0 >= 0).astype(float) * 2 - 1
    h = np.where((x0 + h) - x0 == 0, RELATIVE_STEP * sign * np.maximum(1.0, np.abs(x0)), h)
    lower, upper = x0 - lb, ub - x0
    x = x0 + h
    violated = (x < lb) | (x > ub)
    fitting = np.abs(h) <= np.maximum(lower, upper)
    h[violated & fitting] *= -1
    forward = (upper >= lower) & ~fitting
    h[forward] = upper[forward]
    backward = (upper < lower) & ~fitting
    h[backward] = -lower[backward]
    return h


class _LeanLikelihoodFit(StateSpaceMLEModel):
    """Sits between ``ETSModel`` and its base: ``ETSModel.fit`` prepares the internal
    parameters and bounds, calls ``super().fit(..., approx_grad=True)`` and lands here."""

    def fit(self, start_params: Any = None, method: str = "lbfgs", **kwargs: Any) -> Any:
        plain = not kwargs.get("approx_grad") or "epsilon" in kwargs  # a step of one's own
        if plain or self.error != "add" or method != "lbfgs":
            return super().fit(start_params, method=method, **kwargs)
        del kwargs["approx_grad"]
        bounds = kwargs["bounds"]
        lb = np.array([-np.inf if lo is None else lo for lo, _ in bounds], dtype=float)
        ub = np.array([np.inf if hi is None else hi for _, hi in bounds], dtype=float)
        objective = self._objective()

        def loglike_and_score(params: np.ndarray, *args: Any) -> tuple[float, np.ndarray]:
            # statsmodels negates both back: the optimiser sees the objective and its
            # forward differences exactly as approx_derivative computes them
            f0 = objective(params, *args)
            steps = forward_steps(params, lb, ub)
            gradient = np.empty(len(params))
            x = params.copy()
            for i in range(len(params)):
                x[i] = params[i] + steps[i]
                gradient[i] = (objective(x, *args) - f0) / ((params[i] + steps[i]) - params[i])
                x[i] = params[i]
            return -f0, -gradient

        kwargs["loglike_and_score"] = loglike_and_score
        # scipy counts a finite-difference gradient as len(params) evaluations
        kwargs["maxfun"] = kwargs.get("maxfun", MAXFUN) // (len(start_params) + 1)
        return super().fit(start_params, method=method, **kwargs)

    def _objective(self) -> Any:
        """What statsmodels minimises, ``-loglike / nobs``, computed as ``_loglike_internal``
        computes it for additive errors (its mean of squares is a sum divided by n)."""
        data, smooth = self.endog, self._smoothing_func
        nobs, n = self.nobs, self.endog.shape[0]
        squares = np.empty_like(data)

        def objective(params: np.ndarray, yhat: np.ndarray, xhat: np.ndarray, *flags: Any) -> float:
            smooth(params, data, yhat, xhat, *flags)
            np.subtract(data, yhat, out=squares)
            np.multiply(squares, squares, out=squares)
            loglike = -nobs / 2 * (np.log(2 * np.pi * (np.add.reduce(squares) / n)) + 1)
            return float(-loglike / n)

        return objective


class LeanETSResults(ETSResults):
    """Results without the parameters' covariance: statsmodels computes it eagerly, by a
    complex-step Hessian (~7 % of a fit), for standard errors nothing here reports; the
    AICc, forecasts and prediction intervals do not use it."""

    @property
    def cov_params_approx(self):  # type: ignore[no-untyped-def]
        return np.full((len(self.params), len(self.params)), np.nan)


class LeanETSModel(ETSModel, _LeanLikelihoodFit):
    @property
    def _res_classes(self):  # type: ignore[no-untyped-def]
        return {"fit": (LeanETSResults, ETSResultsWrapper)}
