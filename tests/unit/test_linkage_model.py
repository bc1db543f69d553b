"""Record linkage rules that need no database: the threshold the model chooses, the grey
zone, and that no identifier the linkage compares reaches a mart's contract."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from warehouse.analytics.linkage import COLUMNS, band, choose_threshold, grey_zone

MARTS = Path(__file__).parents[2] / "dbt_project" / "models" / "marts"


def _expected_f1(p: np.ndarray, t: float) -> float:
    tp = p[p >= t].sum()
    return 2 * tp / ((p >= t).sum() + p.sum())


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_threshold_maximises_the_f1_the_model_expects(seed):
    # GIVEN best-candidate probabilities: near-certain links, a grey middle, non-matches
    rng = np.random.default_rng(seed)
    p = np.concatenate(
        [rng.uniform(0.95, 1, 300), rng.uniform(0.2, 0.8, 60), rng.uniform(0, 0.05, 600)]
    )
    # WHEN the threshold is chosen THEN no cut point is expected to do better
    t = choose_threshold(p)
    assert t in p
    best = max(_expected_f1(p, c) for c in p)
    assert _expected_f1(p, t) == pytest.approx(best)
    assert 0.05 < t < 0.95


def test_the_grey_zone_spans_odds_ten_times_either_side_of_the_threshold():
    lower, upper = grey_zone(0.5)
    assert lower == pytest.approx(1 / 11) and upper == pytest.approx(10 / 11)
    assert band(0.95, 0.5) == "high" and band(0.6, 0.5) == "review"


def _mart_columns() -> dict[str, set[str]]:
    columns = {}
    for path in MARTS.rglob("_*__models.yml"):
        for model in yaml.safe_load(path.read_text())["models"]:
            columns[model["name"]] = {c["name"] for c in model.get("columns", [])}
    return columns


def test_no_identifier_the_linkage_compares_is_a_column_of_any_mart():
    compared = set(COLUMNS) - {"unique_id", "la_code"}  # names, initials, dob, postcode...
    identifiers = compared | {"date_of_birth", "crn", "pnc_number"}
    columns = _mart_columns()
    assert {"fct_partner_record_links", "jsna_partner_linkage"} <= set(columns)
    leaks = {m: sorted(c & identifiers) for m, c in columns.items() if c & identifiers}
    assert not leaks, f"identifiers in marts: {leaks}"
