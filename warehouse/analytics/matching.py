"""Propensity-score matching and the Justice Data Lab's comparisons, on arrays (no database).

Propensity: logistic regression (scikit-learn) on standardised covariates. Matching: 1:1
nearest neighbour on the logit of the propensity score, without replacement, greedy in
descending order of propensity (the hardest to match first), within a caliper of 0.2
standard deviations of that logit (Austin 2011, *Optimal caliper widths for propensity-score
matching*). Outcomes are compared on the matched pairs: paired differences with a t
interval and a paired t-test; each group's binary rate with a Wilson interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from warehouse.intervals import wilson

CALIPER_SD = 0.2


@dataclass
class Matched:
    treated: np.ndarray  # row indices of matched participants
    controls: np.ndarray  # row indices of their matches, pair by pair
    caliper: float
    unmatched: int


@dataclass
class Comparison:
    treated_mean: float
    treated_ci: tuple[float, float]
    control_mean: float
    control_ci: tuple[float, float]
    difference: float  # treated - comparison
    difference_ci: tuple[float, float]
    p_value: float


def propensity(x: np.ndarray, treated: np.ndarray) -> np.ndarray:
    """P(participant | covariates) from a standardised logistic regression."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0))
    model.fit(x, treated.astype(int))
    return model.predict_proba(x)[:, 1]


def match(score: np.ndarray, treated: np.ndarray, caliper_sd: float = CALIPER_SD) -> Matched:
    """1:1 nearest-neighbour matching on logit(score), without replacement, in a caliper."""
    eps = 1e-9
    logit = np.log(np.clip(score, eps, 1 - eps) / np.clip(1 - score, eps, 1))
    caliper = caliper_sd * float(np.std(logit))
    t_idx = np.flatnonzero(treated)
    c_idx = np.flatnonzero(~treated)
    c_logit = logit[c_idx].copy()
    available = np.ones(len(c_idx), dtype=bool)
    pairs_t, pairs_c = [], []
    for i in t_idx[np.argsort(-logit[t_idx], kind="stable")]:
        distance = np.where(available, np.abs(c_logit - logit[i]), np.inf)
        j = int(np.argmin(distance))
        if distance[j] <= caliper:
            available[j] = False
            pairs_t.append(i)
            pairs_c.append(c_idx[j])
    return Matched(
        np.array(pairs_t, dtype=int),
        np.array(pairs_c, dtype=int),
        caliper,
        len(t_idx) - len(pairs_t),
    )


def smd(x_t: np.ndarray, x_c: np.ndarray) -> np.ndarray:
    """Standardised mean differences per column: (mean_t - mean_c) / pooled sd."""
    pooled = np.sqrt((x_t.var(axis=0, ddof=1) + x_c.var(axis=0, ddof=1)) / 2)
    diff = x_t.mean(axis=0) - x_c.mean(axis=0)
    return np.divide(diff, pooled, out=np.zeros_like(diff), where=pooled > 0)


def mean_ci(y: np.ndarray) -> tuple[float, float]:
    """95 % t interval of a mean."""
    from scipy import stats

    n = len(y)
    half = stats.t.ppf(0.975, n - 1) * float(np.std(y, ddof=1)) / math.sqrt(n)
    return (float(np.mean(y)) - half, float(np.mean(y)) + half)


def compare(y_t: np.ndarray, y_c: np.ndarray, binary: bool) -> Comparison:
    """Matched-pair comparison of an outcome: group means with 95 % intervals (Wilson for
    a rate), the paired difference with a t interval, and the paired t-test's p-value."""
    from scipy import stats

    y_t, y_c = np.asarray(y_t, dtype=float), np.asarray(y_c, dtype=float)
    diff = y_t - y_c
    if binary:
        ci_t, ci_c = wilson(y_t.sum(), len(y_t)), wilson(y_c.sum(), len(y_c))
    else:
        ci_t, ci_c = mean_ci(y_t), mean_ci(y_c)
    p_value = 1.0 if not diff.any() else float(stats.ttest_rel(y_t, y_c).pvalue)
    return Comparison(
        float(y_t.mean()),
        ci_t,
        float(y_c.mean()),
        ci_c,
        float(diff.mean()),
        mean_ci(diff) if diff.any() else (0.0, 0.0),
        p_value,
    )
