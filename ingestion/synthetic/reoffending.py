"""Criminal histories and proven reoffending, drawn from their own random stream.

Reoffending follows risk (calibration.md, "Reoffending"): at each MoJ index event (the
first community order, SSO or licence start of a financial year) the outcome of the
one-year follow-up is drawn from the offender's OGRS3 1-year probability, shifted on the
logit scale by what OGRS3 does not see: tier, drug and accommodation need, sex and the
district (a small local effect, so actual/predicted differs by district). The stream is
separate so the caseload, needs and the other calibrated figures do not move with it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, timedelta

import numpy as np

from ingestion.reference import seed_rows
from ingestion.synthetic.calendar import age_on, one_year_after
from ingestion.synthetic.interventions import ProgrammePlant
from ingestion.synthetic.people import People

TIER_LOGIT = {0: 0.0, 1: -0.35, 2: -0.1, 3: 0.1, 4: 0.3}
NEED_LOGIT = {"drugs": 0.15, "accommodation": 0.15}
FEMALE_LOGIT = -0.15
BASE_LOGIT = -0.1  # centres the effects above, so actual/predicted stays near 1
DISTRICT_LOGIT = {
    "E08000001": 0.10,
    "E08000002": -0.12,
    "E08000003": 0.14,
    "E08000004": -0.05,
    "E08000005": 0.08,
    "E08000006": 0.02,
    "E08000007": -0.16,
    "E08000008": -0.08,
    "E08000009": -0.10,
    "E08000010": 0.06,
}
PRIOR_SANCTIONS_MEAN = 9.0  # of those with a history (negative binomial, size 1)
EXTRA_REOFFENCES = 1.3  # a reoffender's further proven reoffences in the year (Poisson mean)

# A scheduled reoffence: (conviction date, offender id, offence date).
Reoffence = tuple[date, int, date]


class Reoffending:
    def __init__(
        self, rng: np.random.Generator, people: People, plant: ProgrammePlant | None = None
    ) -> None:
        self.rng = rng
        self.plant = plant  # a completed programme's effect on the drawn outcome
        self.people = people
        self.scheduled: dict[date, list[Reoffence]] = defaultdict(list)  # by conviction month
        self.ogrs3_offence = {
            r["offence_category_code"]: float(r["ogrs3_offence_param"])
            for r in seed_rows("ref_offence_categories")
        }
        self.ogrs3_age = [
            (int(r["age_from"]), int(r["age_to"]), float(r["male_param"]), float(r["female_param"]))
            for r in seed_rows("ref_ogrs3_age_gender")
        ]

    def history(self, female: bool, age: int, dob: date, when: date) -> tuple[int, date]:
        """(previous sanctions, first sanction date) of a new offender: most have a
        history, women lighter ones."""
        risk = self.rng
        mean_prior = PRIOR_SANCTIONS_MEAN * (0.6 if female else 1.0)
        prior = int(risk.negative_binomial(1, 1 / (1 + mean_prior))) if risk.random() < 0.8 else 0
        first_age = min(age - 1, 13 + int(risk.gamma(2.0, 3.0)))
        first_sanction = (
            when
            if prior == 0
            else dob + timedelta(days=first_age * 365 + int(risk.integers(0, 365)))
        )
        return prior, first_sanction

    def due(self, month: date) -> list[Reoffence]:
        """The reoffences convicted in ``month``, in date order (removed from the schedule)."""
        return sorted(self.scheduled.pop(month, []))

    def ogrs3_1yr(self, pid: int) -> float | None:
        """OGRS3 as the warehouse computes it (fct_reoffending_cohort), at the index event."""
        p = self.people
        offence = self.ogrs3_offence.get(p.last_offence[pid - 1])
        if offence is None:
            return None
        dob, female = p.dob[pid - 1], p.female[pid - 1]
        age_now = age_on(dob, p.last_conviction[pid - 1])
        age_first = age_on(dob, p.first_sanction[pid - 1])
        sanctions = max(p.sanctions[pid - 1], 1)
        copas = math.log(sanctions / max(10 + age_now - age_first, 1))
        age_param = next(
            (w if female else m for lo, hi, m, w in self.ogrs3_age if lo <= age_now <= hi),
            self.ogrs3_age[-1][3] if female else self.ogrs3_age[-1][2],
        )
        x = age_param + (0.12614 if sanctions == 1 else 0.46306) + 1.25112 * copas + offence
        return 1 / (1 + math.exp(-(x + 1.40256)))

    def outside_clean_years(self, pid: int, offence: date) -> date:
        """An offence falling in a follow-up year drawn "no reoffence" was committed
        before that year began (proven later, it is not a reoffence of that cohort)."""
        windows = self.people.clean.get(pid, ())
        moved = True
        while moved:
            moved = False
            for start, end in windows:
                if start < offence <= end:
                    offence = start - timedelta(days=int(self.rng.integers(1, 60)))
                    moved = True
        return offence

    def follow_up(self, pid: int, index: date, tier: int, disposal_id: int = 0) -> None:
        """Draw whether the year after an index event holds a proven reoffence, from OGRS3
        and what it does not see; schedule the reoffences (convicted within the waiting
        period mostly) or keep the year clean. A completed programme (the plant) may keep
        a drawn year clean: its draws are made as before, so the stream does not drift."""
        rng, p = self.rng, self.people
        risk = self.ogrs3_1yr(pid)
        if risk is None:
            risk = 0.35
        logit = math.log(risk / (1 - risk)) + BASE_LOGIT + TIER_LOGIT.get(tier, 0.0)
        logit += NEED_LOGIT["drugs"] * p.drug_need[pid - 1]
        logit += NEED_LOGIT["accommodation"] * p.accommodation_need[pid - 1]
        logit += FEMALE_LOGIT * p.female[pid - 1] + DISTRICT_LOGIT.get(p.la[pid - 1], 0.0)
        end = one_year_after(index)
        clean = p.clean.setdefault(pid, [])
        clean[:] = [w for w in clean if w[1] > index - timedelta(days=730)]
        u, p_reoffend = rng.random(), 1 / (1 + math.exp(-logit))
        prevented = self.plant is not None and self.plant.prevents(
            disposal_id, index, u, p_reoffend
        )
        if u >= p_reoffend:
            clean.append((index, end))
            return
        first = max([index, *(until for _, until in clean)])  # after any year drawn clean
        span = (end - first).days
        drawn = []
        for _ in range(1 + int(rng.poisson(EXTRA_REOFFENCES))):
            offence = first + timedelta(days=1 + int(rng.integers(0, max(span, 1))))
            drawn.append((offence + timedelta(days=1 + int(rng.gamma(2.0, 30.0))), offence))
        if prevented:  # drawn as before, then kept clean
            clean.append((index, end))
            return
        for conviction, offence in drawn:
            self.scheduled[date(conviction.year, conviction.month, 1)].append(
                (conviction, pid, offence)
            )
