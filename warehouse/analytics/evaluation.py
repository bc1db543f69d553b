"""Matched impact evaluation, Justice Data Lab style: ``warehouse evaluate --intervention
PROG --cohort 2006``.

Participants: members of the MoJ proven reoffending cohort of one year (follow-up and
waiting period complete, OGRS3 scored) whose index sentence is a community order or SSO
carrying the requirement and was completed. Comparison pool: members whose index community
sentence did not carry it (those who started it and did not finish are neither). Each
participant is matched to one similar non-participant on the propensity score (logistic
regression on demographics, criminal history, OGRS3, tier, needs at the index assessment,
current offence: ``warehouse.analytics.matching``); the one-year binary and frequency
outcomes are compared on the matched pairs. Fewer than ``MIN_PARTICIPANTS`` is refused,
as the Justice Data Lab refuses it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ingestion import financial_year as fyear
from warehouse.analytics import matching
from warehouse.analytics.store import read_sql, replace_rows
from warehouse.settings import Settings

MIN_PARTICIPANTS = 60
INTERVENTIONS = {  # requirement type -> how the plain-language line names it
    "PROG": "an accredited programme",
    "UPW": "unpaid work",
    "DRR": "a drug rehabilitation requirement",
    "ATR": "an alcohol treatment requirement",
    "SUPV": "a supervision requirement",
    "CURF": "a curfew requirement",
}
BALANCE_CALIPERS = (0.2, 0.1, 0.05)  # SDs of the logit propensity, tried in turn
BALANCED_SMD = 0.1  # the usual threshold of a negligible imbalance
DEFAULT_EVALUATIONS = (("PROG", "2005/06"), ("PROG", "2006/07"))

COHORT_SQL = """
with cohort as (
    select r.*, c.termination_reason, o.is_white_british
    from marts.fct_reoffending_cohort as r
    inner join marts.fct_commencements as c on c.disposal_id = r.index_disposal_id
    left join marts.dim_offender as o on o.offender_id = r.offender_id
    where r.cohort_year = %(cohort)s and r.is_follow_up_complete
        and r.disposal_type_code in ('CO', 'SSO') and r.ogrs3_1yr_probability is not null
),
assessment as (
    select distinct on (cohort.offender_id) cohort.offender_id, a.assessment_id
    from cohort
    inner join marts.fct_assessment_needs as a
        on a.offender_id = cohort.offender_id and a.assessment_date <= cohort.index_date + 60
    order by cohort.offender_id, a.assessment_date desc, a.assessment_id desc
),
with_requirement as (
    select distinct disposal_id from marts.fct_requirements
    where requirement_type_code = %(code)s
),
needs as (
    select assessment_id, string_agg(need_area_code, ',') filter (where is_need) as needs
    from marts.fct_assessment_needs
    where assessment_id in (select assessment_id from assessment)
    group by 1
)
select
    cohort.offender_id, cohort.gender_code, cohort.age_at_index, cohort.sanction_count,
    cohort.copas_rate, cohort.ogrs3_1yr_probability, coalesce(cohort.tier, 0) as tier,
    cohort.disposal_type_code, cohort.offence_category_code,
    coalesce(cohort.is_white_british, false) as is_white_british,
    cohort.is_reoffender, cohort.reoffence_count,
    assessment.assessment_id is not null as is_assessed,
    coalesce(needs.needs, '') as needs,
    with_requirement.disposal_id is not null as has_requirement,
    cohort.termination_reason = 'COMPLETED' as is_completed
from cohort
left join assessment on assessment.offender_id = cohort.offender_id
left join needs on needs.assessment_id = assessment.assessment_id
left join with_requirement on with_requirement.disposal_id = cohort.index_disposal_id
"""

COLUMNS = {
    "intervention_code": "text",
    "cohort_year": "text",
    "outcome": "text",
    "participants": "integer",
    "matched_participants": "integer",
    "comparison_pool": "integer",
    "caliper": "numeric(10, 4)",
    "participant_value": "numeric(10, 4)",
    "participant_ci_low": "numeric(10, 4)",
    "participant_ci_high": "numeric(10, 4)",
    "comparison_value": "numeric(10, 4)",
    "comparison_ci_low": "numeric(10, 4)",
    "comparison_ci_high": "numeric(10, 4)",
    "difference": "numeric(10, 4)",
    "difference_ci_low": "numeric(10, 4)",
    "difference_ci_high": "numeric(10, 4)",
    "p_value": "numeric(12, 10)",
    "is_significant": "boolean",
    "naive_comparison_value": "numeric(10, 4)",
    "naive_difference": "numeric(10, 4)",
    "max_abs_smd_before": "numeric(10, 4)",
    "max_abs_smd_after": "numeric(10, 4)",
    "what_you_can_say": "text",
}
BALANCE_COLUMNS = {
    "intervention_code": "text",
    "cohort_year": "text",
    "covariate": "text",
    "participant_mean": "numeric(12, 4)",
    "pool_mean": "numeric(12, 4)",
    "matched_comparison_mean": "numeric(12, 4)",
    "smd_before": "numeric(10, 4)",
    "smd_after": "numeric(10, 4)",
}


class EvaluationRefused(ValueError):
    """Too few participants, or an intervention or cohort that does not exist."""


@dataclass
class Evaluation:
    intervention: str
    cohort_year: str
    participants: int
    comparison_pool: int
    matched: matching.Matched
    binary: matching.Comparison
    frequency: matching.Comparison
    naive_binary: tuple[float, float]  # (pool rate, participants' rate - pool rate)
    naive_frequency: tuple[float, float]
    balance: list[dict[str, Any]] = field(default_factory=list)

    @property
    def max_smd(self) -> tuple[float, float]:
        return (
            max(abs(b["smd_before"]) for b in self.balance),
            max(abs(b["smd_after"]) for b in self.balance),
        )


def cohort_year(value: str) -> str:
    """``2006``, ``2006/07`` or ``2006-07`` -> ``2006/07`` (consecutive years only)."""
    text = value.strip().replace("/", "-")
    start = int(text) if re.fullmatch(r"\d{4}", text) else fyear.parse(text)
    if start is None:
        raise EvaluationRefused(f"cohort {value!r}: give a financial year, e.g. 2006 or 2006/07")
    return fyear.label(start)


def covariates(frame: Any) -> tuple[np.ndarray, list[str]]:
    """The design matrix: demographics, criminal history, OGRS3, tier, needs, offence."""
    import pandas as pd

    x = pd.DataFrame(
        {
            "female": (frame["gender_code"] == "F").astype(float),
            "age": frame["age_at_index"].astype(float),
            "age_squared": frame["age_at_index"].astype(float) ** 2 / 100,
            "white_british": frame["is_white_british"].astype(float),
            "sanctions": frame["sanction_count"].astype(float),
            "copas_rate": frame["copas_rate"].astype(float),
            "ogrs3_1yr_logit": np.log(
                frame["ogrs3_1yr_probability"] / (1 - frame["ogrs3_1yr_probability"])
            ).astype(float),
            "suspended_sentence": (frame["disposal_type_code"] == "SSO").astype(float),
            "assessed": frame["is_assessed"].astype(float),
        }
    )
    for tier in range(1, 5):
        x[f"tier_{tier}"] = (frame["tier"] == tier).astype(float)
    needs = frame["needs"].str.get_dummies(sep=",").add_prefix("need_")
    offences = pd.get_dummies(frame["offence_category_code"], prefix="offence", dtype=float)
    x = pd.concat([x, needs.astype(float), offences.iloc[:, 1:]], axis=1)
    return x.to_numpy(dtype=float), list(x.columns)


def balanced_match(x: np.ndarray, treated: np.ndarray) -> matching.Matched:
    """Match within a caliper of 0.2 SD of the logit propensity (Austin 2011); when a
    covariate is still imbalanced (|SMD| >= 0.1), match again with the caliper halved,
    down to 0.05 SD, and keep the first balanced matching (or the last)."""
    score = matching.propensity(x, treated)
    for caliper_sd in BALANCE_CALIPERS:
        matched = matching.match(score, treated, caliper_sd)
        if len(matched.treated) < 2:
            break
        if np.abs(matching.smd(x[matched.treated], x[matched.controls])).max() < BALANCED_SMD:
            break
    return matched


def evaluate_frame(frame: Any, intervention: str, cohort: str) -> Evaluation:
    """Match and compare on one cohort's rows (``COHORT_SQL``'s columns)."""
    treated_rows = frame["has_requirement"] & frame["is_completed"].fillna(False).astype(bool)
    frame = frame[treated_rows | ~frame["has_requirement"]].reset_index(drop=True)
    complete = ~np.isnan(covariates(frame)[0]).any(axis=1)  # e.g. no age: cannot be matched
    frame = frame[complete].reset_index(drop=True)
    treated = (frame["has_requirement"]).to_numpy(dtype=bool)
    n_t = int(treated.sum())
    if n_t < MIN_PARTICIPANTS:
        raise EvaluationRefused(
            f"{intervention} in cohort {cohort}: {n_t} participant(s); an evaluation needs at "
            f"least {MIN_PARTICIPANTS} (Justice Data Lab rule)"
        )
    x, names = covariates(frame)
    matched = balanced_match(x, treated)
    if len(matched.treated) < MIN_PARTICIPANTS:
        raise EvaluationRefused(
            f"{intervention} in cohort {cohort}: only {len(matched.treated)} participant(s) "
            f"have a match within the caliper; at least {MIN_PARTICIPANTS} are needed"
        )
    y_bin = frame["is_reoffender"].to_numpy(dtype=float)
    y_freq = frame["reoffence_count"].to_numpy(dtype=float)
    t, c = matched.treated, matched.controls
    before = matching.smd(x[treated], x[~treated])
    after = matching.smd(x[t], x[c])
    balance = [
        {
            "covariate": name,
            "participant_mean": float(x[treated, i].mean()),
            "pool_mean": float(x[~treated, i].mean()),
            "matched_comparison_mean": float(x[c, i].mean()),
            "smd_before": float(before[i]),
            "smd_after": float(after[i]),
        }
        for i, name in enumerate(names)
    ]
    naive = lambda y: (float(y[~treated].mean()), float(y[treated].mean() - y[~treated].mean()))  # noqa: E731
    return Evaluation(
        intervention,
        cohort,
        n_t,
        int((~treated).sum()),
        matched,
        matching.compare(y_bin[t], y_bin[c], binary=True),
        matching.compare(y_freq[t], y_freq[c], binary=False),
        naive(y_bin),
        naive(y_freq),
        balance,
    )


def what_you_can_say(ev: Evaluation) -> str:
    """The Justice Data Lab's plain-language line for the binary outcome."""
    name = INTERVENTIONS.get(ev.intervention, ev.intervention)
    b = ev.binary
    lo, hi = sorted((-b.difference_ci[0] * 100, -b.difference_ci[1] * 100))
    if b.p_value < 0.05 and b.difference < 0:
        return (
            f"For every 100 people who completed {name}, between {lo:.0f} and {hi:.0f} fewer "
            f"committed a proven reoffence within one year than in a matched comparison group "
            f"of 100 similar people ({b.treated_mean:.0%} vs {b.control_mean:.0%}; "
            f"{len(ev.matched.treated)} matched participants, p = {b.p_value:.3g})."
        )
    if b.p_value < 0.05:
        return (
            f"For every 100 people who completed {name}, between {-hi:.0f} and {-lo:.0f} more "
            f"committed a proven reoffence within one year than in a matched comparison group "
            f"of 100 similar people ({b.treated_mean:.0%} vs {b.control_mean:.0%}; p = "
            f"{b.p_value:.3g})."
        )
    return (
        f"This analysis cannot say whether completing {name} affects one-year proven "
        f"reoffending: the difference ({b.difference * 100:+.1f} percentage points) is not "
        f"statistically significant (p = {b.p_value:.2f}); more participants may be needed."
    )


def _rows(ev: Evaluation) -> list[dict[str, Any]]:
    smd_before, smd_after = ev.max_smd
    rows = []
    for outcome, comp, naive in (
        ("binary", ev.binary, ev.naive_binary),
        ("frequency", ev.frequency, ev.naive_frequency),
    ):
        rows.append(
            {
                "intervention_code": ev.intervention,
                "cohort_year": ev.cohort_year,
                "outcome": outcome,
                "participants": ev.participants,
                "matched_participants": len(ev.matched.treated),
                "comparison_pool": ev.comparison_pool,
                "caliper": round(ev.matched.caliper, 4),
                "participant_value": comp.treated_mean,
                "participant_ci_low": comp.treated_ci[0],
                "participant_ci_high": comp.treated_ci[1],
                "comparison_value": comp.control_mean,
                "comparison_ci_low": comp.control_ci[0],
                "comparison_ci_high": comp.control_ci[1],
                "difference": comp.difference,
                "difference_ci_low": comp.difference_ci[0],
                "difference_ci_high": comp.difference_ci[1],
                "p_value": comp.p_value,
                "is_significant": comp.p_value < 0.05,
                "naive_comparison_value": naive[0],
                "naive_difference": naive[1],
                "max_abs_smd_before": smd_before,
                "max_abs_smd_after": smd_after,
                "what_you_can_say": what_you_can_say(ev) if outcome == "binary" else "",
            }
        )
    return rows


def evaluate_intervention(settings: Settings, intervention: str, cohort: str) -> Evaluation:
    """Evaluate one intervention for one cohort year; replace its rows in
    ``analytics.intervention_evaluations`` and ``analytics.intervention_balance``."""
    import pandas as pd

    code, year = intervention.strip().upper(), cohort_year(cohort)
    frame = read_sql(settings, COHORT_SQL, {"cohort": year, "code": code})
    if frame.empty:
        raise EvaluationRefused(f"cohort {year} has no member with a complete follow-up")
    ev = evaluate_frame(frame, code, year)
    key = {"intervention_code": code, "cohort_year": year}
    frame_out = pd.DataFrame(_rows(ev))
    for col in [c for c, t in COLUMNS.items() if t.startswith("numeric")]:
        frame_out[col] = frame_out[col].astype(float).round(10 if col == "p_value" else 4)
    replace_rows(settings, "intervention_evaluations", frame_out, COLUMNS, key)
    balance = pd.DataFrame([{**key, **b} for b in ev.balance]).round(4)
    replace_rows(settings, "intervention_balance", balance, BALANCE_COLUMNS, key)
    return ev


def run(settings: Settings) -> dict[str, Any]:
    """The standing evaluations (``DEFAULT_EVALUATIONS``); a refused one is reported."""
    figures: dict[str, Any] = {}
    for code, year in DEFAULT_EVALUATIONS:
        try:
            ev = evaluate_intervention(settings, code, year)
        except EvaluationRefused as exc:
            figures[f"{code} {year}"] = {"refused": str(exc)}
            continue
        figures[f"{code} {year}"] = {
            "participants": ev.participants,
            "matched": len(ev.matched.treated),
            "difference": round(ev.binary.difference, 4),
            "ci": [round(v, 4) for v in ev.binary.difference_ci],
            "naive_difference": round(ev.naive_binary[1], 4),
            "max_abs_smd_after": round(ev.max_smd[1], 4),
        }
    return figures
