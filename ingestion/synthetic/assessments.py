"""OASys: assessments at the start of an order (reviews and termination later), the
section scores that make a criminogenic need, and the sentence-plan objectives."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

import numpy as np

from ingestion.feeds import oasys
from ingestion.reference import seed_rows
from ingestion.synthetic.calendar import LAST_MONTH, age_band
from ingestion.synthetic.draws import Weighted
from ingestion.synthetic.people import Ids, People

# Base probability of a need at the start of an order (men, 25-29, tier 2, not white
# British), then multipliers. Sections as in ref_need_areas.
NEED_BASE = {
    3: 0.30,
    4: 0.59,
    5: 0.40,
    6: 0.325,
    7: 0.50,
    8: 0.33,
    9: 0.44,
    10: 0.32,
    11: 0.685,
    12: 0.40,
}
FEMALE_NEED = {6: 2.06, 10: 1.9}
AGE_NEED = {"18-20": 1.15, "21-24": 1.08, "25-29": 1.0, "30-39": 0.93, "40-49": 0.85, "50+": 0.72}
AGE_EMOTIONAL = {
    "18-20": 0.80,
    "21-24": 0.88,
    "25-29": 0.95,
    "30-39": 1.05,
    "40-49": 1.15,
    "50+": 1.25,
}
TIER_NEED = {1: 0.85, 2: 0.95, 3: 1.05, 4: 1.12}
WHITE_BRITISH_ALCOHOL = 1.22
SEVERE_P = {1: 0.10, 2: 0.18, 3: 0.28, 4: 0.45}  # share of needs that are severe, by tier
FALL_P = {4: 0.26}  # a non-zero need score falls between first and latest assessment
FALL_P_DEFAULT = 0.42
PLAN_GAP = {6: 0.30, 11: 0.30, 4: 0.28, 10: 0.23, 7: 0.20}  # needs with no intervention
PLAN_GAP_DEFAULT = 0.15
OBJECTIVE_STATUS = Weighted(
    ("ACHIEVED", "ONGOING", "NOT_ACHIEVED", "NOT_STARTED"), (0.4, 0.3, 0.15, 0.15)
)
ITEMS = dict(oasys.SECTIONS)  # section -> number of items
ITEM_COLUMNS = {s: [f"S{s}_{i}" for i in range(1, n + 1)] for s, n in oasys.SECTIONS}
# each section's item columns, its items' positions (shuffled in place per assessment: a
# list shuffle draws exactly what ``Generator.permutation(n)`` draws, at half the cost) and
# its "linked" column
SECTION_ITEMS = [
    (s, tuple(ITEM_COLUMNS[s]), tuple(range(n)), f"S{s}_LINKED") for s, n in oasys.SECTIONS
]
NO_PROBLEMS = dict.fromkeys((c for cols in ITEM_COLUMNS.values() for c in cols), "0")


class Assessments:
    """Writes ``oasys_assessments`` and ``oasys_objectives`` rows; later assessments go
    to ``pending`` for the month they happen in."""

    def __init__(self, rng: np.random.Generator, people: People, ids: Ids, pending: dict) -> None:
        self.rng = rng
        self.people = people
        self.ids = ids
        self.pending = pending
        self.sections = [s for s, _ in oasys.SECTIONS]
        self.thresholds = {
            int(r["oasys_section"]): (
                int(r["need_threshold"] or 0),
                int(r["severe_threshold"] or 0),
            )
            for r in seed_rows("ref_need_areas")
        }
        self.female_need_debt: dict[int, float] = defaultdict(lambda: 0.5)

    def order(self, pid: int, event_id: int, start: date, end: date, tier: int, out: dict) -> None:
        """The assessments of one order: start (with its plan), review, termination."""
        rng = self.rng
        p = self.people
        sums, linked = self._starting_scores(pid, start, tier)
        p.drug_need[pid - 1] = sums[8] >= self.thresholds[8][0]
        p.accommodation_need[pid - 1] = sums[3] >= self.thresholds[3][0]
        when = start + timedelta(days=int(rng.integers(0, 21)))
        first_id = self._assessment(pid, event_id, "START", when, sums, linked, out)
        self._objectives(pid, first_id, when, sums, linked, out)
        follow_ups = []
        if (end - start).days > 200 and rng.random() < 0.65:
            follow_ups.append(("REVIEW", start + timedelta(days=int(rng.integers(150, 200)))))
        if rng.random() < 0.6:
            follow_ups.append(("TERMINATION", end - timedelta(days=int(rng.integers(0, 10)))))
        # whether a section's score falls by the latest assessment is decided once (the
        # fall shows from the first follow-up on); scores that do not fall may rise
        falls = {s: rng.random() < FALL_P.get(s, FALL_P_DEFAULT) for s in self.sections}
        for n, (kind, when) in enumerate(follow_ups):
            for s in self.sections:
                cap = 2 * ITEMS[s]
                if falls[s]:
                    if n == 0:
                        sums[s] = max(0, sums[s] - int(rng.integers(1, 3)))
                elif rng.random() < 0.15:
                    sums[s] = min(cap, sums[s] + 1)
            month = date(when.year, when.month, 1)
            if month <= LAST_MONTH and when > start:
                self._assessment(pid, event_id, kind, when, sums, linked, out, month)

    def _starting_scores(
        self, pid: int, start: date, tier: int
    ) -> tuple[dict[int, int], dict[int, bool]]:
        """Section score sums and "linked to offending" flags at the first assessment."""
        rng = self.rng
        p = self.people
        band = age_band((start - p.dob[pid - 1]).days // 365)
        female = p.female[pid - 1]
        sums: dict[int, int] = {}
        linked: dict[int, bool] = {}
        for s in self.sections:
            prob = NEED_BASE[s] * TIER_NEED.get(tier, 1.0)
            prob *= AGE_EMOTIONAL[band] if s == 10 else AGE_NEED[band]
            if female:
                prob *= FEMALE_NEED.get(s, 1.0)
            if s == 9 and p.white_british[pid - 1]:
                prob *= WHITE_BRITISH_ALCOHOL
            if s == 7 and tier == 4:
                prob *= 1.15
            u = rng.random()
            if female:
                # women are few (about 1 in 7 assessments): systematic sampling per section
                # keeps their need shares at the rate instead of +-1.5 points of chance
                self.female_need_debt[s] += min(prob, 0.97)
                need = self.female_need_debt[s] >= 1.0
                self.female_need_debt[s] -= need
            else:
                need = bool(u < min(prob, 0.97))
            sums[s] = self._section_sum(s, need, tier)
            linked[s] = need if rng.random() < 0.9 else not need
        return sums, linked

    def _section_sum(self, section: int, need: bool, tier: int) -> int:
        rng = self.rng
        cap = 2 * ITEMS[section]
        need_at, severe_at = self.thresholds[section]
        if not need_at:  # no criminogenic score: any level, need comes from "linked"
            return (
                int(rng.integers(cap // 2 + 1, cap + 1))
                if need
                else int(rng.integers(0, cap // 2 + 1))
            )
        if not need:
            return int(rng.integers(0, need_at))
        if rng.random() < SEVERE_P.get(tier, 0.2) and severe_at <= cap:
            return int(rng.integers(severe_at, cap + 1))
        return int(rng.integers(need_at, max(need_at + 1, severe_at)))

    def _assessment(
        self,
        pid: int,
        event_id: int,
        kind: str,
        when: date,
        sums: dict[int, int],
        linked: dict[int, bool],
        out: dict,
        month: date | None = None,
    ) -> int:
        rng = self.rng
        assessment_id = self.ids.next("assessment")
        row = {
            "ASSESSMENT_ID": str(assessment_id),
            "CRN": self.people.crn[pid - 1],
            "EVENT_ID": str(event_id),
            "ASSESSMENT_TYPE": kind,
            "ASSESSMENT_DATE": when.isoformat(),
        }
        row.update(NO_PROBLEMS)
        shuffle = rng.shuffle
        for s, columns, positions, _ in SECTION_ITEMS:
            # the section's sum spread over its items in a random order: 2 each while it
            # lasts, then the odd 1, the rest 0
            order = list(positions)
            shuffle(order)
            twos, odd = divmod(sums[s], 2)
            for i in order[:twos]:
                row[columns[i]] = "2"
            if odd and twos < len(order):
                row[columns[order[twos]]] = "1"
        for s, _, _, linked_column in SECTION_ITEMS:
            row[linked_column] = "1" if linked[s] else "0"
        if month is None:
            out["oasys_assessments"].append(row)
        else:  # a later assessment goes out in the month it happens
            self.pending[("oasys_assessments", month)].append(row)
        return assessment_id

    def _objectives(
        self,
        pid: int,
        assessment_id: int,
        when: date,
        sums: dict[int, int],
        linked: dict[int, bool],
        out: dict,
    ) -> None:
        rng = self.rng
        for s in self.sections:
            need_at, _ = self.thresholds[s]
            is_need = sums[s] >= need_at if need_at else linked[s]
            if not is_need or s == 5:
                continue
            planned = rng.random() >= PLAN_GAP.get(s, PLAN_GAP_DEFAULT)
            if planned:
                status = OBJECTIVE_STATUS.draw(rng)
            else:
                status = "NOT_STARTED"
            out["oasys_objectives"].append(
                {
                    "OBJECTIVE_ID": str(self.ids.next("objective")),
                    "ASSESSMENT_ID": str(assessment_id),
                    "CRN": self.people.crn[pid - 1],
                    "NEED_SECTION": str(s),
                    "INTERVENTION_PLANNED": "1" if planned else "0",
                    "STATUS": status,
                    "STATUS_DATE": when.isoformat(),
                }
            )
