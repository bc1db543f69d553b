"""Management tiers: one tier per offender and year by quota, reviews each April."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from ingestion.financial_year import first_day, month_index, start_year
from ingestion.synthetic.people import Ids, People

TIER_COUNTS = {  # tiers given in a year (quota weights), tuned so that the caseload by
    # tier at year end comes out as in calibration.md (cases tiered in earlier years and
    # not yet reviewed carry their old tier, so the weights differ a little from it)
    2004: (2_077, 3_958, 7_061, 4_155, 67),
    2005: (2_077, 3_958, 7_061, 4_155, 67),
    2006: (2_040, 3_958, 7_061, 4_155, 67),
    2007: (2_756, 4_391, 6_198, 3_990, 33),
    2008: (2_559, 3_731, 6_447, 3_726, 37),
}
TIER_MIX = {fy: tuple(c / sum(counts) for c in counts) for fy, counts in TIER_COUNTS.items()}


class Tiers:
    """Writes ``ndelius_tier_history`` rows into the month's ``out``."""

    def __init__(self, rng: np.random.Generator, people: People, ids: Ids, scale: float) -> None:
        self.rng = rng
        self.people = people
        self.ids = ids
        self.scale = scale
        self.quota: dict[int, list[int]] = {}  # financial year -> tiers given so far
        self.year, self.tier_of = 0, {}  # this year's tier (0-3, 4 = none) of each offender
        self.tiered: set[int] = set()  # offenders given a tier (or left untiered) once
        self.untiered: set[int] = set()  # offenders never tiered
        self.missing_now = 0  # untiered offenders supervised in this year so far

    def tier(self, pid: int, when: date, why: str, out: dict) -> int:
        """The offender's tier (1-4, 0 = none recorded) from ``when``; a row if given."""
        fy = start_year(when)
        self._year_starts(fy)
        if pid in self.untiered and self._stays_untiered(pid, fy):
            return 0
        k = self.tier_of.get(pid)
        if k is None and pid not in self.tiered:
            # a new case: left untiered while this year's "missing" count is behind its
            # target (pro rata through the year), so the small "missing" row holds too
            self.tiered.add(pid)
            target = TIER_COUNTS[fy][4] * self.scale * (month_index(when) + 1) / 12
            if self.missing_now < target:
                self.untiered.add(pid)
                self.tier_of[pid] = 4
                self.missing_now += 1
                return 0
        if k is None:
            # one tier per offender and year, by quota sampling (the tier furthest behind
            # its share of the year's mix), so the caseload-by-tier figures hold
            mix = TIER_MIX[fy]
            given = self.quota.setdefault(fy, [0] * 4)
            n = sum(given) + 1
            k = max(range(4), key=lambda t: mix[t] * n - given[t])
            given[k] += 1
            self.tier_of[pid] = k
        out["ndelius_tier_history"].append(
            {
                "TIER_HISTORY_ID": str(self.ids.next("tier")),
                "OFFENDER_ID": str(pid),
                "TIER": str(k + 1),
                "START_DATE": when.isoformat(),
                "CHANGE_REASON": why,
                "SOFT_DELETED": "0",
                "ROW_VERSION": "1",
            }
        )
        return k + 1

    def _stays_untiered(self, pid: int, fy: int) -> bool:
        """A never-tiered case is counted once a year in the "missing" row."""
        if pid not in self.tier_of:
            self.tier_of[pid] = 4
            self.missing_now += 1
        if self.missing_now <= TIER_COUNTS[fy][4] * self.scale:
            return True
        # more untiered cases carried into the year than its "missing" row holds: this
        # one is tiered now, at its review or new sentence
        self.untiered.discard(pid)
        del self.tier_of[pid]
        self.missing_now -= 1
        return False

    def _year_starts(self, fy: int) -> None:
        """Calls come in date order: keep only this year's tiers; untiered cases carried
        into the year count in its "missing" row."""
        if fy == self.year:
            return
        self.year, self.tier_of, self.missing_now = fy, {}, 0
        start = first_day(fy)
        for pid in self.untiered:
            if self.people.supervised_until[pid - 1] >= start:
                self.tier_of[pid] = 4
                self.missing_now += 1

    def reviews(self, month: date, out: dict) -> None:
        """Cases carried into a new year are re-tiered at their annual review in April."""
        self._year_starts(start_year(month))
        p = self.people
        for i in range(len(p)):
            if p.supervised_until[i] >= month and p.last_sentenced[i] < month:
                when = month + timedelta(days=int(self.rng.integers(0, 30)))
                if p.supervised_until[i] >= when:
                    self.tier(i + 1, when, "REVIEW", out)
