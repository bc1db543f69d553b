"""Matched evaluation on a simulated cohort with a known effect and selection on risk."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from warehouse.analytics.evaluation import (
    MIN_PARTICIPANTS,
    EvaluationRefused,
    cohort_year,
    evaluate_frame,
    what_you_can_say,
)
from warehouse.intervals import wilson

EFFECT = -0.08


def simulated_cohort(n: int, seed: int = 3) -> pd.DataFrame:
    """COHORT_SQL's columns; lower-risk people take part more, taking part lowers the
    one-year reoffending probability by 8 points."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 60, n)
    sanctions = rng.poisson(3, n) + 1
    risk_logit = 0.9 - 0.04 * (age - 30) + 0.15 * (sanctions - 3) + rng.normal(0, 0.6, n)
    p0 = 1 / (1 + np.exp(-risk_logit))
    takes_part = rng.random(n) < 1 / (1 + np.exp(-(-1.0 - 1.5 * (risk_logit - 0.5))))
    p = np.where(takes_part, p0 + EFFECT, p0)
    reoffends = rng.random(n) < p
    return pd.DataFrame(
        {
            "offender_id": np.arange(n),
            "gender_code": np.where(rng.random(n) < 0.15, "F", "M"),
            "age_at_index": age,
            "sanction_count": sanctions,
            "copas_rate": np.log(sanctions / (10 + age - 16)),
            "ogrs3_1yr_probability": p0,
            "tier": rng.integers(1, 5, n),
            "disposal_type_code": np.where(rng.random(n) < 0.4, "SSO", "CO"),
            "offence_category_code": rng.choice(["VIOL", "THEF", "BURD"], n),
            "is_white_british": rng.random(n) < 0.85,
            "is_reoffender": reoffends,
            "reoffence_count": np.where(reoffends, 1 + rng.poisson(1.2, n), 0),
            "is_assessed": True,
            "needs": rng.choice(["", "ETE", "ETE,THINKING", "ALCOHOL"], n),
            "has_requirement": takes_part | (rng.random(n) < 0.05),
            "is_completed": takes_part,
        }
    )


def test_matching_recovers_the_planted_effect_that_the_naive_comparison_misses():
    # GIVEN 8,000 cohort members, participation falling with risk, a true effect of -8 pp
    frame = simulated_cohort(8000)
    # WHEN they are matched and compared
    ev = evaluate_frame(frame, "PROG", "2006/07")
    # THEN the true effect is inside the 95 % interval, the naive difference misses it,
    # and matching balanced every covariate
    low, high = ev.binary.difference_ci
    assert low <= EFFECT <= high, (low, high)
    assert ev.naive_binary[1] - EFFECT <= -0.03, ev.naive_binary
    before, after = ev.max_smd
    assert before > 0.3 and after < 0.1, (before, after)
    assert ev.binary.p_value < 0.05
    assert "fewer committed a proven reoffence" in what_you_can_say(ev)
    assert ev.frequency.difference < 0


def test_fewer_than_sixty_participants_are_refused():
    frame = simulated_cohort(3000)
    treated = frame.index[frame["has_requirement"] & frame["is_completed"]]
    frame = frame.drop(treated[MIN_PARTICIPANTS - 1 :])
    with pytest.raises(EvaluationRefused, match=f"{MIN_PARTICIPANTS - 1} participant"):
        evaluate_frame(frame, "PROG", "2006/07")


def test_no_effect_gives_the_cannot_say_line():
    frame = simulated_cohort(3000, seed=5)
    frame["is_reoffender"] = np.random.default_rng(1).random(len(frame)) < 0.3
    ev = evaluate_frame(frame, "PROG", "2006/07")
    if ev.binary.p_value >= 0.05:
        assert what_you_can_say(ev).startswith("This analysis cannot say")
    else:  # a 1-in-20 false positive on this seed would still name its direction
        assert "committed a proven reoffence" in what_you_can_say(ev)


def test_wilson_interval_at_the_edges():
    assert wilson(0, 10)[0] == pytest.approx(0.0, abs=1e-12)
    assert wilson(10, 10)[1] == pytest.approx(1.0, abs=1e-12)
    low, high = wilson(30, 100)
    assert low == pytest.approx(0.2189, abs=1e-4) and high == pytest.approx(0.3958, abs=1e-4)


@pytest.mark.parametrize(
    ("given", "expected"), [("2006", "2006/07"), ("2006/07", "2006/07"), ("2009-10", "2009/10")]
)
def test_cohort_years_are_read_in_any_common_spelling(given, expected):
    assert cohort_year(given) == expected


def test_a_cohort_that_is_not_a_year_is_refused():
    with pytest.raises(EvaluationRefused, match="financial year"):
        cohort_year("last year")
