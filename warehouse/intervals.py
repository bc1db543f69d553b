"""The 95 % intervals computed in Python, written once: Wilson's for a proportion and Byar's
for a Poisson count (the marts compute the same in SQL: dbt_project/macros/
confidence_intervals.sql). Used by the analytics steps and the JSNA pack."""

from __future__ import annotations

import math

Z95 = 1.959963984540054  # the 97.5th percentile of the standard normal


def wilson(k: float, n: int) -> tuple[float, float]:
    """95 % Wilson score interval of the proportion k / n (nan, nan without cases)."""
    if n == 0:
        return (math.nan, math.nan)
    p = k / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def byar(k: int) -> tuple[float, float]:
    """95 % interval of a Poisson count (Byar's approximation; the ``byar_ci`` macro)."""
    lo = k * (1 - 1 / (9 * k) - Z95 / (3 * math.sqrt(k))) ** 3 if k > 0 else 0.0
    hi = (k + 1) * (1 - 1 / (9 * (k + 1)) + Z95 / (3 * math.sqrt(k + 1))) ** 3
    return lo, hi
