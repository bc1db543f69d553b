"""Whole numbers split in proportion, and the districts' populations they are split by."""

from __future__ import annotations

import numpy as np

from ingestion.reference import seed_rows


def split(total: int, weights: np.ndarray) -> np.ndarray:
    """``total`` split into integers in proportion to ``weights`` (largest remainder)."""
    share = weights / weights.sum() * total
    base = np.floor(share).astype(np.int64)
    rest = int(total - base.sum())
    if rest:
        base[np.argsort(-(share - base))[:rest]] += 1
    return base


def districts() -> tuple[list[str], np.ndarray]:
    """The local authority codes and their 2007 populations, in seed order."""
    rows = seed_rows("ref_local_authorities")
    return [r["la_code"] for r in rows], np.array([float(r["population_2007"]) for r in rows])
