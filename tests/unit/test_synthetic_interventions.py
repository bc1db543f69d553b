"""The planted programme effect: selection on risk, a known effect, truth kept outside."""

from __future__ import annotations

import json
from datetime import date

import numpy as np

from ingestion.synthetic.interventions import EFFECT, ProgrammePlant


def test_higher_risk_people_complete_less_often_and_only_completers_are_treated():
    plant = ProgrammePlant(seed=1)
    start, shown = date(2006, 6, 1), (date(2007, 6, 1), "COMPLETED")
    low = [plant.completion(i, start, 12, shown, 0.15)[1] for i in range(4000)]
    high = [plant.completion(10_000 + i, start, 12, shown, 0.75)[1] for i in range(4000)]
    share_low = np.mean([r == "COMPLETED" for r in low])
    share_high = np.mean([r == "COMPLETED" for r in high])
    assert share_low > share_high + 0.2, (share_low, share_high)
    assert len(plant.completed) == sum(r == "COMPLETED" for r in low + high)
    not_completed = next(i for i in range(4000) if i not in plant.completed)
    assert not plant.prevents(not_completed, start, 0.1, 0.5)


def test_a_completer_loses_exactly_the_planted_effect_and_the_truth_lands_beside_landing(tmp_path):
    plant = ProgrammePlant(seed=2)
    plant.completed.add(7)
    # u between p1 and p0: the reoffence is prevented; below p1 it still happens
    assert plant.prevents(7, date(2006, 6, 1), 0.5 - EFFECT / 2, 0.5)
    assert not plant.prevents(7, date(2006, 7, 1), 0.5 - EFFECT * 2, 0.5)
    path = plant.write_truth(tmp_path / "landing")
    assert path.parent == tmp_path / "truth"
    truth = json.loads(path.read_text())
    assert truth["cohorts"]["2006/07"] == {
        "participants": 2,
        "true_effect_binary": -EFFECT,
    }
