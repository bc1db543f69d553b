"""Reference data (dbt seeds) read from Python: the one source for code lists and geography.

The seeds in ``dbt_project/seeds`` are loaded into the warehouse by ``dbt seed`` and read
here by the feed declarations (code lists) and the synthetic generator (geography).
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

SEEDS_DIR = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds"


@cache
def seed_rows(name: str) -> tuple[dict[str, str], ...]:
    """Rows of ``dbt_project/seeds/<name>.csv`` as dicts."""
    path = SEEDS_DIR / f"{name}.csv"
    with path.open(newline="", encoding="utf-8") as f:
        return tuple(csv.DictReader(f))


def codes(name: str, column: str) -> tuple[str, ...]:
    """The code list in one column of a seed."""
    return tuple(row[column] for row in seed_rows(name))
