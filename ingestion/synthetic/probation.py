"""The probation side, simulated month by month from April 2004 to March 2009.

Offenders are sentenced (events, disposals, requirements, court reports), tiered and
registered, assessed by OASys at the start of their order (and reviewed, and at
termination), and some are reconvicted. Each month's rows go to one delta extract per
feed, as nDelius and OASys deliver them; rows that change later (a disposal's
termination) are written again, with a higher row version, in the month they change.

The parameters below are tuned so that the figures in ``shared/calibration.md`` come back
out of the marts. Memory grows with the number of offenders (a few numbers each), never
with the size of the files, so national scale (16) runs in bounded memory.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

import numpy as np

from ingestion.feeds import ndelius, oasys
from ingestion.financial_year import month_index, start_year
from ingestion.reference import seed_rows
from ingestion.synthetic.assessments import Assessments
from ingestion.synthetic.calendar import LAST_MONTH, days_in
from ingestion.synthetic.draws import Weighted, pick
from ingestion.synthetic.interventions import EARLY_END_REASON, PROGRAMME, ProgrammePlant
from ingestion.synthetic.offenders import Offenders
from ingestion.synthetic.people import Ids, People
from ingestion.synthetic.reoffending import Reoffending
from ingestion.synthetic.tiers import Tiers
from ingestion.synthetic.writer import Writer

# Commencements (disposals starting) per financial year at scale 1, and their type mix.
COMMENCEMENTS = {2004: 18_600, 2005: 17_900, 2006: 18_648, 2007: 18_431, 2008: 17_700}
TYPE_MIX = {  # CO, SSO, LIC, PSS, PRE
    2004: (0.450, 0.265, 0.114, 0.100, 0.071),
    2005: (0.450, 0.265, 0.114, 0.100, 0.071),
    2006: (0.450, 0.265, 0.114, 0.100, 0.071),
    2007: (0.420, 0.250, 0.157, 0.120, 0.053),
    2008: (0.415, 0.250, 0.163, 0.125, 0.047),
}
DISPOSAL_TYPES = ("CO", "SSO", "LIC", "PSS", "PRE")
LENGTHS = {  # months
    "CO": (3, 6, 6, 9, 12, 12, 18),
    "SSO": (3, 6, 6, 9, 12, 12),
    "LIC": (2, 3, 3, 4, 6, 6),
    "PSS": (2, 3, 3),
    "PRE": (3, 6, 9),
}
EARLY_END_P = 0.22  # terminated early (breach, revocation)
REPEAT_P = 0.54  # a commencement by someone sentenced before (see offenders.pick_repeat)
# Requirements: P(sentence has it) for CO/SSO and for licences (conditions).
COMMUNITY_REQUIREMENTS = {
    "UPW": 0.5666,
    "PROG": 0.2436,
    "SUPV": 0.39,
    "CURF": 0.08,
    "DRR": 0.07,
    "ATR": 0.04,
    "ACT": 0.05,
    "RES": 0.02,
    "EXCL": 0.01,
    "PROH": 0.01,
    "MHTR": 0.005,
    "ATTC": 0.005,
}
LICENCE_CONDITIONS = {"SUPV": 0.66, "RES": 0.26, "EXCL": 0.12, "CURF": 0.10, "DRR": 0.05}
# fewer unpaid work and programme requirements per order in 2008/09 (calibration)
REQUIREMENT_2008_FACTOR = {"UPW": 0.907, "PROG": 0.915}
ALLOTTED_REQUIREMENTS = ("UPW", "PROG")
REQUIREMENT_LENGTHS = {  # code -> (lengths to choose from, unit); others in months
    "UPW": ((40, 60, 80, 100, 120, 150, 200, 240), "HOURS"),
    "PROG": ((10, 20, 26, 36), "SESSIONS"),
    "ATTC": ((12, 24, 36), "HOURS"),
    "ACT": ((20, 30, 60), "DAYS"),
}
COURT_REPORTS = {2004: 11_000, 2005: 11_000, 2006: 10_700, 2007: 9_598, 2008: 9_454}
OFFENCE_MIX = {
    "VIOL": 0.21,
    "ROBB": 0.02,
    "BURD": 0.06,
    "BURO": 0.03,
    "THEF": 0.17,
    "VEHT": 0.03,
    "HAND": 0.02,
    "FRAU": 0.05,
    "CDAM": 0.06,
    "PUBO": 0.05,
    "DRDR": 0.06,
    "MOTO": 0.07,
    "DRPS": 0.08,
    "DRIP": 0.01,
    "SEXA": 0.01,
    "SEXC": 0.01,
    "ABSC": 0.02,
    "OTHR": 0.04,
}
RECONVICTION_RATE = 0.016  # a month, for people sentenced in the last two years
ROSH_P = {  # tier -> P(RLRH, RMRH, RHRH, RVHR)
    0: (0.6, 0.4, 0, 0),
    1: (0.8, 0.2, 0, 0),
    2: (0.6, 0.38, 0.02, 0),
    3: (0.35, 0.55, 0.1, 0),
    4: (0, 0.4, 0.5, 0.1),
}
ROSH_CODE = {tier: Weighted(("RLRH", "RMRH", "RHRH", "RVHR"), p) for tier, p in ROSH_P.items()}
MAPPA_LEVEL = Weighted(("M1", "M2", "M3"), (0.8, 0.17, 0.03))
PROPOSALS = ("CO", "SSO", "CUSTODY", "FINE", "DISCHARGE")
REPORT_TYPE = Weighted(("SDR", "FDR", "ORAL"), (0.45, 0.4, 0.15))
# Every event row (not only the drawn reoffences') gets its dirt from the drawn stream:
# an earlier version keyed them so, and the delivered files are kept byte-identical.
DRAWN_EVENTS = "drawn:ndelius_events"
FEEDS = (*ndelius.FEEDS, *oasys.FEEDS)


def _row(**values: object) -> dict[str, str]:
    """An nDelius row: the values as text, not soft-deleted, row version 1."""
    return {**{k: str(v) for k, v in values.items()}, "SOFT_DELETED": "0", "ROW_VERSION": "1"}


class Probation:
    """The monthly simulation: ``month(m)`` writes that month's nDelius and OASys files."""

    def __init__(
        self, seed: int, scale: float, writer: Writer, plant: ProgrammePlant | None = None
    ) -> None:
        self.scale = scale
        self.writer = writer
        self.rng = np.random.default_rng(seed)
        self.people = People()
        self.ids = Ids()
        self.pending: dict[tuple[str, date], list[dict[str, str]]] = defaultdict(list)
        # criminal histories and reoffending outcomes draw from their own stream, so the
        # caseload, needs and the other calibrated figures do not move with them
        self.plant = plant or ProgrammePlant(seed + 7)  # programme completion (its own stream)
        self.reoffending = Reoffending(np.random.default_rng(seed + 2), self.people, self.plant)
        self.offenders = Offenders(self.rng, self.people, self.reoffending, scale)
        self.tiers = Tiers(self.rng, self.people, self.ids, scale)
        self.assessments = Assessments(self.rng, self.people, self.ids, self.pending)
        self.indexed: set[tuple[int, int]] = set()  # (offender, financial year) with an index
        self.courts_by_la: dict[str, list[str]] = defaultdict(list)
        for court in seed_rows("ref_courts"):
            self.courts_by_la[court["la_code"]].append(court["court_code"])
        self.offence_codes = list(OFFENCE_MIX)
        p = np.array(list(OFFENCE_MIX.values()))
        self.offence = Weighted(self.offence_codes, p / p.sum())

    def month(self, month: date) -> None:
        out: dict[str, list[dict[str, str]]] = defaultdict(list)
        community_events = self._commencements(month, out)
        for conviction, pid, offence in self.reoffending.due(month):
            self._event(pid, conviction, "OTHER", out, offence=offence)
        self._reconvictions(month, out)
        self._court_reports(month, community_events, out)
        period = f"{month:%Y-%m}"
        for feed in FEEDS:
            rows = out.get(feed.name, []) + self.pending.pop((feed.name, month), [])
            self.writer.write(feed, period, rows, out.get(f"drawn:{feed.name}", []))

    def _commencements(self, month: date, out: dict) -> list[tuple[int, int, date, str]]:
        """The month's new sentences; returns the community ones (for court reports)."""
        rng = self.rng
        fy = start_year(month)
        days = days_in(month)
        # counts are fixed (not drawn) so the year's totals and type mix come out exactly
        n = int(round(COMMENCEMENTS[fy] * self.scale / 12))
        mix = np.array(TYPE_MIX[fy]) * n
        counts = np.floor(mix).astype(int)
        counts[np.argsort(-(mix - counts))[: n - int(counts.sum())]] += 1
        types = rng.permutation(np.repeat(np.arange(len(DISPOSAL_TYPES)), counts))
        starts = rng.integers(0, days, size=n)
        community_events: list[tuple[int, int, date, str]] = []
        if month.month == 4:
            self.tiers.reviews(month, out)
        allotted = self._allot_requirements(month, types.tolist())
        for i, (t, d) in enumerate(zip(types.tolist(), starts.tolist(), strict=True)):
            start = month + timedelta(days=d)
            kind = DISPOSAL_TYPES[t]
            pid = self.offenders.pick_repeat(start) if rng.random() < REPEAT_P else None
            if pid is None:
                pid = self.offenders.new(start, out)
            event_id = self._event(pid, start, kind, out)
            self._disposal(pid, event_id, start, kind, out, allotted.get(i, set()))
            if kind in ("CO", "SSO"):
                community_events.append((pid, event_id, start, kind))
        return community_events

    def _allot_requirements(self, month: date, types: list[int]) -> dict[int, set[str]]:
        """Unpaid work and programmes: exact shares of the month's community sentences
        (quarterly counts are calibration targets, so they are allotted, not drawn)."""
        community = [i for i, t in enumerate(types) if DISPOSAL_TYPES[t] in ("CO", "SSO")]
        allotted: dict[int, set[str]] = defaultdict(set)
        for code in ALLOTTED_REQUIREMENTS:
            p = COMMUNITY_REQUIREMENTS[code]
            if month >= date(2008, 4, 1):
                p *= REQUIREMENT_2008_FACTOR.get(code, 1.0)
            k = int(round(p * len(community)))
            for i in self.rng.choice(community, size=k, replace=False).tolist() if k else []:
                allotted[i].add(code)
        return allotted

    def _event(
        self, pid: int, conviction: date, kind: str, out: dict, offence: date | None = None
    ) -> int:
        """A conviction. A drawn reoffence (``offence`` given) uses the reoffending stream
        and leaves ``last_sentenced`` (which the main stream's choices read) alone."""
        p = self.people
        rng = self.rng if offence is None else self.reoffending.rng
        p.sanctions[pid - 1] += 1
        if offence is None:
            p.last_sentenced[pid - 1] = conviction
        event_id = self.ids.next("event")
        if kind == "LIC":  # convicted earlier, released now
            conviction = conviction - timedelta(days=int(rng.integers(40, 500)))
        la = p.la[pid - 1]
        courts = self.courts_by_la[la] + (["CCMAN"] if rng.random() < 0.2 else [])
        if offence is None:
            offence = conviction - timedelta(days=int(rng.gamma(2.0, 40.0)) + 1)
        offence = self.reoffending.outside_clean_years(pid, offence)
        category = self.offence.draw(rng)
        p.last_offence[pid - 1] = category
        p.last_conviction[pid - 1] = conviction
        out[DRAWN_EVENTS].append(
            _row(
                EVENT_ID=event_id,
                OFFENDER_ID=pid,
                EVENT_NUMBER=p.sanctions[pid - 1],
                OFFENCE_CODE=category,
                OFFENCE_DATE=offence.isoformat(),
                CONVICTION_DATE=conviction.isoformat(),
                COURT_CODE=courts[int(rng.integers(0, len(courts)))],
            )
        )
        return event_id

    def _disposal(
        self, pid: int, event_id: int, start: date, kind: str, out: dict, allotted: set[str]
    ) -> None:
        rng = self.rng
        p = self.people
        disposal_id = self.ids.next("disposal")
        length = pick(rng, LENGTHS[kind])
        end = start + timedelta(days=int(length * 30.44))
        reason = "COMPLETED"
        if rng.random() < EARLY_END_P:
            end = start + timedelta(days=int(length * 30.44 * rng.uniform(0.2, 0.9)))
            reason = EARLY_END_REASON.draw(rng)
        row = _row(
            DISPOSAL_ID=disposal_id,
            EVENT_ID=event_id,
            OFFENDER_ID=pid,
            DISPOSAL_TYPE=kind,
            START_DATE=start.isoformat(),
            LENGTH_MONTHS=length,
            TERMINATION_DATE="",
            TERMINATION_REASON="",
        )
        out["ndelius_disposals"].append(row)
        p.supervised_until[pid - 1] = max(p.supervised_until[pid - 1], end)
        tier = self.tiers.tier(pid, start, "COMMENCEMENT", out)
        shown = (end, reason)
        if kind in ("CO", "SSO") and PROGRAMME in allotted:  # who completes: the plant's
            risk = self.reoffending.ogrs3_1yr(pid)
            shown = self.plant.completion(disposal_id, start, length, shown, risk, tier > 0)
        end_month = date(shown[0].year, shown[0].month, 1)
        if end_month <= LAST_MONTH:  # the termination, delivered in the month it happens
            self.pending[("ndelius_disposals", end_month)].append(
                {
                    **row,
                    "TERMINATION_DATE": shown[0].isoformat(),
                    "TERMINATION_REASON": shown[1],
                    "ROW_VERSION": "2",
                }
            )
        self._registrations(pid, start, end, tier, out)
        self._requirements(disposal_id, start, kind, out, allotted)
        if kind in ("CO", "SSO", "LIC") and rng.random() < 0.88:
            self.assessments.order(pid, event_id, start, end, tier, out)
        if kind in ("CO", "SSO", "LIC") and (pid, start_year(start)) not in self.indexed:
            self.indexed.add((pid, start_year(start)))
            self.reoffending.follow_up(pid, start, tier, disposal_id)

    def _registrations(self, pid: int, start: date, end: date, tier: int, out: dict) -> None:
        rng = self.rng
        code = ROSH_CODE[tier].draw(rng)
        out["ndelius_registrations"].append(
            _row(
                REGISTRATION_ID=self.ids.next("registration"),
                OFFENDER_ID=pid,
                REGISTER_CODE=code,
                START_DATE=start.isoformat(),
                END_DATE=end.isoformat() if end <= LAST_MONTH else "",
            )
        )
        if tier == 4 and rng.random() < 0.08:
            mappa = MAPPA_LEVEL.draw(rng)
            out["ndelius_registrations"].append(
                _row(
                    REGISTRATION_ID=self.ids.next("registration"),
                    OFFENDER_ID=pid,
                    REGISTER_CODE=mappa,
                    START_DATE=start.isoformat(),
                    END_DATE="",
                )
            )

    def _requirements(
        self, disposal_id: int, start: date, kind: str, out: dict, allotted: set[str]
    ) -> None:
        rng = self.rng
        if kind in ("CO", "SSO"):
            table = COMMUNITY_REQUIREMENTS
        elif kind == "LIC":
            table = LICENCE_CONDITIONS
        else:
            return
        chosen = [
            code
            for code, p in table.items()
            if (code in allotted)
            or (code not in ALLOTTED_REQUIREMENTS or table is LICENCE_CONDITIONS)
            and rng.random() < p
        ]
        for code in chosen or ["SUPV"]:
            lengths, unit = REQUIREMENT_LENGTHS.get(code, ((3, 6, 12), "MONTHS"))
            out["ndelius_requirements"].append(
                _row(
                    REQUIREMENT_ID=self.ids.next("requirement"),
                    DISPOSAL_ID=disposal_id,
                    REQUIREMENT_TYPE=code,
                    LENGTH=pick(rng, lengths),
                    LENGTH_UNIT=unit,
                    START_DATE=start.isoformat(),
                )
            )

    def _reconvictions(self, month: date, out: dict) -> None:
        """Proven offences that lead to no supervision (fines, custody): reoffending data."""
        n = len(self.people)
        if n < 200:
            return
        recent = max(1, n - int(30_000 * self.scale))
        k = int(self.rng.poisson(RECONVICTION_RATE * (n - recent)))
        for pid in self.rng.integers(recent, n + 1, size=k).tolist():
            when = month + timedelta(days=int(self.rng.integers(0, days_in(month))))
            if (when - self.people.last_sentenced[pid - 1]).days < 30:
                continue
            self._event(pid, when, "OTHER", out)

    def _court_reports(
        self, month: date, events: list[tuple[int, int, date, str]], out: dict
    ) -> None:
        rng = self.rng
        # the year's reports spread evenly over its months (exact, so year-on-year changes hold)
        total = COURT_REPORTS[start_year(month)] * self.scale
        i = month_index(month)
        n = min(len(events), int(total * (i + 1) / 12) - int(total * i / 12))
        for i in rng.choice(len(events), size=n, replace=False).tolist() if n else []:
            pid, event_id, sentenced, kind = events[i]
            if rng.random() < 0.76:
                proposal = kind
            else:
                proposal = pick(rng, PROPOSALS)
            completed = sentenced - timedelta(days=int(rng.integers(0, 4)))
            requested = completed - timedelta(days=int(rng.integers(1, 22)))
            out["ndelius_court_reports"].append(
                _row(
                    COURT_REPORT_ID=self.ids.next("court_report"),
                    OFFENDER_ID=pid,
                    EVENT_ID=event_id,
                    REPORT_TYPE=REPORT_TYPE.draw(rng),
                    REQUESTED_DATE=requested.isoformat(),
                    COMPLETED_DATE=completed.isoformat(),
                    PROPOSED_SENTENCE=proposal,
                )
            )
