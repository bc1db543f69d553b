"""statsmodels' ``SARIMAX`` for the forecast's seasonal AR candidate, its parameters set
into the state space at a fraction of the cost, to the same results.

A fit evaluates the likelihood ~270 times, and each evaluation first calls ``update``,
which writes the parameters into the state-space matrices. For an AR(1)(1)_12 model with
a constant and a linear trend that is two small polynomials multiplied and a trend line,
but statsmodels' general ``update`` multiplies them with ``np.polymul`` (which wraps both
in ``poly1d`` objects and trims their zeros) and assigns through the representation's
validating setters: ~40 % of the model's Python per evaluation. ``LeanSARIMAX.update``
does the same arithmetic with ``np.convolve`` (what ``np.polymul`` computes for
polynomials whose leading coefficient is not zero: theirs are 1) and writes the values
into the same arrays in place. The optimiser therefore sees the same likelihoods:
parameters, AICc, forecasts and intervals equal statsmodels' own to the bit
(``tests/unit/test_analytics_forecasting.py``).

Anything else (complex-step derivatives, other orders, exogenous data, MA terms, an
unconcentrated scale) goes through statsmodels' ``update``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from statsmodels.tsa.statespace.sarimax import SARIMAX


class LeanSARIMAX(SARIMAX):
    def update(
        self,
        params: Any,
        transformed: bool = True,
        includes_fixed: bool = False,
        complex_step: bool = False,
    ) -> Any:
        params = self.handle_params(params, transformed=transformed, includes_fixed=includes_fixed)
        if complex_step or params.dtype != np.float64 or not self._lean_shape():
            return super().update(params, transformed=True, includes_fixed=True)
        k_trend = self._k_trend
        self._polynomial_ar[self._polynomial_ar_idx] = -params[k_trend : k_trend + 1]
        seasonal = self._polynomial_seasonal_ar
        seasonal[self._polynomial_seasonal_ar_idx] = -params[k_trend + 1 : k_trend + 2]
        reduced = -np.convolve(self._polynomial_ar, seasonal)
        ssm = self.ssm
        ssm._state_intercept[self._k_states_diff, :] = np.dot(self._trend_data, params[:k_trend])
        ssm[self.transition_ar_params_idx] = reduced[1:]
        return params

    def _lean_shape(self) -> bool:
        """This model is the one ``update`` above is written for, and its arrays are where
        statsmodels keeps them (real, the trend's intercept varying over time)."""
        ssm = self.ssm
        return (
            self.k_ar_params == 1
            and self.k_seasonal_ar_params == 1
            and self.k_ma == 0
            and self.k_seasonal_ma == 0
            and not self.mle_regression
            and not self.state_regression
            and not self.measurement_error
            and not self.hamilton_representation
            and self.concentrate_scale
            and self._k_trend > 0
            and self._polynomial_ar.dtype == np.float64
            and self._polynomial_seasonal_ar.dtype == np.float64
            and self._polynomial_ar[0] == 1
            and self._polynomial_seasonal_ar[0] == 1
            and ssm._state_intercept.dtype == np.float64
            and ssm._state_intercept.shape[1] == self.nobs
            and ssm._transition.dtype == np.float64
        )
