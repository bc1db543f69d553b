"""Record linkage rules that need no database: the threshold the model chooses, the grey
zone, and that no identifier the linkage compares reaches a mart's contract."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from warehouse.analytics.linkage import (
    COLUMNS,
    _best_candidates,
    _partner_offender_pairs,
    band,
    choose_threshold,
    grey_zone,
)

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


def _predictions(rows: list[tuple]) -> pd.DataFrame:
    """Splink's prediction columns as ``_partner_offender_pairs`` reads them."""
    columns = [
        "source_dataset_l",
        "unique_id_l",
        "source_dataset_r",
        "unique_id_r",
        "match_probability",
        "match_weight",
        "mw_sex",
        "mw_dob",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.astype({"match_probability": float, "match_weight": float, "mw_sex": float})


def test_each_pair_names_its_partner_record_and_offender_and_every_comparisons_weight():
    # GIVEN pairs with the partner on either side, a weight rounding to -0.0 and a NaN
    df = _predictions(
        [
            ("partner_dat", "D1", "offenders", "17", 0.9, 3.2, -0.04, 4.25),
            ("offenders", "5", "partner_dat", "D2", 0.1, -3.2, float("nan"), -12.0),
        ]
    )
    # WHEN they become (partner record, offender) pairs
    pairs = _partner_offender_pairs(df)
    # THEN each side is found and the weights read in the comparisons' name order
    assert list(pairs.partner_record_id) == ["D1", "D2"]
    assert list(pairs.offender_id) == [17, 5]
    assert list(pairs.agreement) == ["dob=+4.2 sex=-0.0", "dob=-12.0 sex=+nan"]


def test_no_candidate_pair_gives_no_pairs_not_an_error():
    # GIVEN predictions with no row (no pair reached the floor probability)
    df = _predictions([])
    # WHEN they become pairs THEN there are none, and no best candidate either
    pairs = _partner_offender_pairs(df)
    assert len(pairs) == 0
    assert len(_best_candidates(pairs)) == 0


def _people(rng: np.random.Generator, n: int) -> pd.DataFrame:
    letters = np.array(list("ABCDEFGHJKLMNPRSTW"))
    dob = pd.to_datetime("1960-01-01") + pd.to_timedelta(rng.integers(0, 15000, n), unit="D")
    district = rng.choice(["M1", "M2", "M3", "OL1", "OL2", "BL1"], n)
    return pd.DataFrame(
        {
            "unique_id": [f"p{i}" for i in range(n)],
            "first_name": None,
            "surname": None,
            "initials": [
                a + b for a, b in zip(rng.choice(letters, n), rng.choice(letters, n), strict=True)
            ],
            "dob": dob.strftime("%Y-%m-%d"),
            "dob_year": dob.strftime("%Y"),
            "sex": rng.choice(["M", "F"], n, p=[0.8, 0.2]),
            "postcode": None,
            "postcode_district": district,
            "la_code": np.where(np.char.startswith(district.astype(str), "M"), "E1", "E2"),
        }
    ).astype(object)


def test_em_over_agreement_patterns_is_em_over_pairs_for_a_model_without_term_frequencies(
    monkeypatch,
):
    # GIVEN the DAT model (no comparison adjusts by term frequency; Supporting People's
    # names do) and offenders with partner records copied from some of them, a few spoilt
    from warehouse.analytics import linkage_model
    from warehouse.analytics.linkage_model import DAT, SUPPORTING_PEOPLE, SourceModel

    assert not DAT.uses_term_frequencies and SUPPORTING_PEOPLE.uses_term_frequencies
    rng = np.random.default_rng(7)
    offenders = _people(rng, 3000)
    offenders["unique_id"] = [str(i) for i in range(3000)]
    partner = pd.concat([offenders.sample(600, random_state=1), _people(rng, 300)])
    partner["unique_id"] = [f"d{i}" for i in range(len(partner))]
    spoilt = partner.index[:60]
    partner.loc[spoilt, "postcode_district"] = "SK1"
    monkeypatch.setattr(linkage_model, "U_MAX_PAIRS", 2e5)

    def pairs(by_pattern: bool) -> pd.DataFrame:
        monkeypatch.setattr(
            SourceModel, "uses_term_frequencies", property(lambda self: not by_pattern)
        )
        linker = linkage_model.train(DAT, partner.reset_index(drop=True), offenders)
        df = linker.inference.predict(threshold_match_probability=1e-4).as_pandas_dataframe()
        return df.sort_values(["unique_id_l", "unique_id_r"]).reset_index(drop=True)

    # WHEN it is trained with EM over the agreement patterns' counts and over every pair
    by_pattern, by_pair = pairs(True), pairs(False)
    # THEN every scored pair and its probability are the same (to summation order)
    assert len(by_pair) > 500
    assert by_pattern[["unique_id_l", "unique_id_r"]].equals(
        by_pair[["unique_id_l", "unique_id_r"]]
    )
    assert np.allclose(by_pattern.match_probability, by_pair.match_probability, rtol=1e-8)
