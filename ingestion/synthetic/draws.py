"""Draws equal to ``numpy.random.Generator.choice``: the same random numbers consumed and
the same result, so the generated files stay byte-identical, without its per-call cost.
``choice`` turns its options and weights into arrays and checks them on every call (~5 us);
a default dataset makes about a million such draws.

``pick(rng, options)`` is ``rng.choice(options)`` (one ``integers(0, n)``);
``Weighted(options, p).draw(rng)`` is ``rng.choice(options, p=p)`` (one ``random()``
against the cumulative weights, normalised as numpy normalises them, searched to the right).
``tests/unit/test_generator_draws.py`` checks both against numpy, draw for draw.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import Generic, TypeVar

import numpy as np

T = TypeVar("T")


def pick(rng: np.random.Generator, options: Sequence[T]) -> T:
    """One of ``options``, each as likely: ``rng.choice(options)``."""
    return options[int(rng.integers(0, len(options)))]


class Weighted(Generic[T]):
    """``rng.choice(options, p=weights)`` with the weights' cumulative sums worked out once."""

    def __init__(self, options: Sequence[T], weights: Sequence[float] | np.ndarray) -> None:
        p = np.asarray(weights, dtype=np.float64)
        if len(p) != len(options) or not len(p):
            raise ValueError(f"{len(options)} options and {len(p)} weights")
        if (p < 0).any() or abs(p.sum() - 1.0) > np.sqrt(np.finfo(np.float64).eps):
            raise ValueError("weights must be non-negative and sum to 1")
        cdf = p.cumsum()
        cdf /= cdf[-1]
        self.options = list(options)
        self.cdf = cdf.tolist()

    def draw(self, rng: np.random.Generator) -> T:
        return self.options[bisect_right(self.cdf, rng.random())]
