"""The generator's draws equal numpy's ``Generator.choice`` draw for draw (same random numbers
consumed, same results), so replacing ``choice`` left every generated file byte-identical."""

from __future__ import annotations

import numpy as np
import pytest

from ingestion.synthetic.draws import Weighted, pick
from ingestion.synthetic.names import SURNAMES

WEIGHTS = [
    (0.6, 0.3, 0.1),
    (0.4, 0.3, 0.15, 0.15),
    (0, 0.4, 0.5, 0.1),  # a zero weight first: never drawn
    (0.35, 0.55, 0.1, 0),  # and last
    tuple(np.random.default_rng(5).dirichlet(np.ones(215))),  # like the wards
]


@pytest.mark.parametrize("weights", WEIGHTS, ids=lambda w: f"{len(w)} options")
def test_a_weighted_draw_is_numpys_choice_with_p(weights):
    options = [f"option {i}" for i in range(len(weights))]
    ours, numpys = np.random.default_rng(11), np.random.default_rng(11)
    weighted = Weighted(options, weights)
    drawn = []
    for _ in range(20_000):
        drawn.append(weighted.draw(ours))
        assert drawn[-1] == str(numpys.choice(options, p=weights))
        # other draws in between come out the same too: the same numbers were consumed
        assert ours.integers(0, 1000) == numpys.integers(0, 1000)
    assert {o for o, w in zip(options, weights, strict=True) if w == 0} & set(drawn) == set()


@pytest.mark.parametrize("options", [(-10, -1, 1, 10), "ABCDEFGHJKLMNPQRTUVWXYZ", SURNAMES])
def test_a_pick_is_numpys_choice(options):
    ours, numpys = np.random.default_rng(3), np.random.default_rng(3)
    for _ in range(20_000):
        assert pick(ours, options) == numpys.choice(list(options)).item()
        assert ours.random() == numpys.random()


@pytest.mark.parametrize(
    "weights", [(0.5, 0.6), (-0.1, 1.1), (1.0,)], ids=["sum over 1", "negative", "too few"]
)
def test_weights_numpy_would_refuse_are_refused(weights):
    with pytest.raises(ValueError):
        Weighted(("a", "b"), weights)
