"""Synthetic feeds for the default area (Greater Manchester), financial years 2006/07-2008/09.

Deterministic for a seed. The probation side is simulated month by month from April 2005
(a year of history, so caseload exists on 1 April 2006) to March 2009: offenders are
sentenced (events, disposals, requirements, court reports), tiered and registered,
assessed by OASys at the start of their order (and reviewed, and at termination), and some
are reconvicted. Each month's rows go to one delta extract per feed, as nDelius and OASys
deliver them; rows that change later (a disposal's termination) are written again, with a
higher row version, in the month they change. Partner feeds (finance, GMAC, DAT,
Supporting People) are written by ``ingestion.synthetic.partners``.

The parameters below are tuned so that the figures in ``shared/calibration.md`` come back
out of the marts. Memory grows with the number of offenders (a few numbers each), never
with the size of the files, so national scale (16) runs in bounded memory.

``dirt`` is the share of rows given a realistic fault (see ``ingestion.synthetic.dirt``);
a few whole files are spoilt too (a renamed column, a missing column, an empty file, a
truncated last line).
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from ingestion.feeds import ndelius, oasys
from ingestion.reference import seed_rows
from ingestion.schema import Feed
from ingestion.synthetic.dirt import LOSSLESS, ROW_FAULTS, Dirt
from ingestion.synthetic.interventions import PROGRAMME, ProgrammePlant
from ingestion.synthetic.names import FIRST_NAMES_F, FIRST_NAMES_M, SURNAMES

FIRST_MONTH = date(2004, 4, 1)  # two years of history before the first year reported
LAST_MONTH = date(2009, 3, 1)

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
REPEAT_P = 0.54  # a commencement by someone sentenced before...
REPEAT_WINDOW = 14_000  # ...among the most recent offenders (at scale 1)...
REPEAT_GAP_DAYS = 150  # ...still supervised, or not long finished
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
# Reoffending follows risk (calibration.md, "Reoffending"): at each MoJ index event (the
# first community order, SSO or licence start of a financial year) the outcome of the
# one-year follow-up is drawn from the offender's OGRS3 1-year probability, shifted on the
# logit scale by what OGRS3 does not see: tier, drug and accommodation need, sex and the
# district (a small local effect, so actual/predicted differs by district).
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
POSTCODE_AREAS = {
    "E08000001": "BL",
    "E08000002": "BL",
    "E08000003": "M",
    "E08000004": "OL",
    "E08000005": "OL",
    "E08000006": "M",
    "E08000007": "SK",
    "E08000008": "SK",
    "E08000009": "M",
    "E08000010": "WN",
}
# Wards where offenders concentrate (calibration.md, "Geography"): weighted up.
HOTSPOT_WARDS = {
    "Harpurhey": 5.0,
    "Miles Platting and Newton Heath": 5.0,
    "Bradford": 4.5,
    "Halliwell": 4.0,
    "Tonge with the Haulgh": 4.0,
    "Farnworth": 4.0,
    "Woodhouse Park": 4.0,
    "Baguley": 4.0,
}

# OASys: base probability of a need at the start of an order (men, 25-29, tier 2, not
# white British), then multipliers. Sections as in ref_need_areas.
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


def _month_after(m: date, n: int = 1) -> date:
    y, mm = divmod(m.month - 1 + n, 12)
    return date(m.year + y, mm + 1, 1)


def _fy(d: date) -> int:
    return d.year if d.month >= 4 else d.year - 1


def _months() -> list[date]:
    months, m = [], FIRST_MONTH
    while m <= LAST_MONTH:
        months.append(m)
        m = _month_after(m)
    return months


def _age_on(birth: date, day: date) -> int:
    """Whole years (PostgreSQL's ``extract(year from age(day, birth))``)."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def _one_year_after(day: date) -> date:
    """The same date a year later (29 February -> 28 February)."""
    try:
        return day.replace(year=day.year + 1)
    except ValueError:
        return day.replace(year=day.year + 1, day=28)


def _age_band(age: int) -> str:
    if age < 21:
        return "18-20"
    if age < 25:
        return "21-24"
    if age < 30:
        return "25-29"
    if age < 40:
        return "30-39"
    if age < 50:
        return "40-49"
    return "50+"


@dataclass
class GenerationReport:
    out_dir: Path
    files: dict[str, int] = field(default_factory=dict)  # file name -> data rows written

    @property
    def total_rows(self) -> int:
        return sum(self.files.values())


@dataclass
class _People:
    """The offender pool, as columns (no per-person objects: it scales to national size)."""

    crn: list[str] = field(default_factory=list)
    dob: list[date] = field(default_factory=list)
    female: list[bool] = field(default_factory=list)
    white_british: list[bool] = field(default_factory=list)
    la: list[str] = field(default_factory=list)
    postcode: list[str] = field(default_factory=list)
    initials: list[str] = field(default_factory=list)
    sanctions: list[int] = field(default_factory=list)
    supervised_until: list[date] = field(default_factory=list)
    last_sentenced: list[date] = field(default_factory=list)
    drug_need: list[bool] = field(default_factory=list)
    accommodation_need: list[bool] = field(default_factory=list)
    first_sanction: list[date] = field(default_factory=list)
    last_offence: list[str] = field(default_factory=list)  # category of the latest event
    last_conviction: list[date] = field(default_factory=list)
    # the follow-up years drawn "no reoffence" (index, end]: no offence may fall in one
    clean: dict[int, list[tuple[date, date]]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.crn)


class Writer:
    """One CSV per feed and period, with dirt applied, into ``<out>/<system>/``."""

    def __init__(
        self,
        out: Path,
        dirt: Dirt,
        report: GenerationReport,
        on_file: Callable[[str], None] | None = None,
        window: tuple[str, str] | None = None,
    ) -> None:
        self.out = out
        self.dirt = dirt
        self.report = report
        self.on_file = on_file
        self.window = window

    def wanted(self, first_month: str, last_month: str | None = None) -> bool:
        """Whether a file covering these months (``YYYY-MM``) falls in the window."""
        if self.window is None:
            return True
        return first_month <= self.window[1] and (last_month or first_month) >= self.window[0]

    drawn_dirt: Dirt | None = None

    def write(
        self, feed: Feed, period: str, rows: list[list[str]], drawn: list[list[str]] = ()
    ) -> Path | None:
        """``drawn``: rows appended after ``rows`` with dirt from ``drawn_dirt``, so adding
        them leaves the dirt of every other row (and file) as it was."""
        if not self.wanted(period):
            return None
        folder = self.out / feed.system
        folder.mkdir(parents=True, exist_ok=True)
        # recorded crime is aggregate partnership data: its faults are ones the loader
        # recovers from, so crime counts (and their small year-on-year changes) survive
        # the same for tier history: a lost tier row would turn a case into "no tier
        # recorded", a figure commissioners read (the calibration's "missing" row)
        kinds = LOSSLESS if feed.name in ("gmac_crime", "ndelius_tier_history") else ROW_FAULTS
        rows = self.dirt.rows(feed, rows, kinds)
        if drawn:
            rows += (self.drawn_dirt or self.dirt).rows(feed, list(drawn), kinds)
        path = folder / f"{feed.name}_{period}.csv"
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(feed.header)
            writer.writerows(rows)
        self.report.files[path.name] = len(rows)
        if self.on_file:
            self.on_file(path.name)
        return path


class Generator:
    def __init__(
        self,
        out_dir: Path,
        *,
        scale: float = 1.0,
        seed: int = 1,
        dirt: float = 0.01,
        on_file: Callable[[str], None] | None = None,
        window: tuple[str, str] | None = None,
    ):
        if scale <= 0:
            raise ValueError("scale must be positive")
        if not 0 <= dirt < 0.5:
            raise ValueError("dirt must be in [0, 0.5)")
        self.out = Path(out_dir)
        self.scale = scale
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        # criminal histories and reoffending outcomes draw from their own stream, so the
        # caseload, needs and the other calibrated figures do not move with them
        self.risk_rng = np.random.default_rng(seed + 2)
        self.plant = ProgrammePlant(seed)  # completion of programmes and its effect
        self.dirt = Dirt(np.random.default_rng(seed + 1), dirt)
        self.report = GenerationReport(self.out)
        self.writer = Writer(self.out, self.dirt, self.report, on_file, window)
        # the drawn reoffences get their dirt from their own stream too (see risk_rng)
        self.writer.drawn_dirt = Dirt(np.random.default_rng(seed + 3), dirt)
        wards = seed_rows("ref_wards")
        weights = np.array(
            [float(w["population_2007"]) * HOTSPOT_WARDS.get(w["ward_name"], 1.0) for w in wards]
        )
        self.wards = wards
        self.ward_p = weights / weights.sum()
        las = seed_rows("ref_local_authorities")
        self.white_british = {la["la_code"]: float(la["white_british_share"]) for la in las}
        self.ethnic_codes = [r["ethnicity_code"] for r in seed_rows("ref_ethnicity")]
        self.courts_by_la: dict[str, list[str]] = defaultdict(list)
        for court in seed_rows("ref_courts"):
            self.courts_by_la[court["la_code"]].append(court["court_code"])
        self.offence_codes = list(OFFENCE_MIX)
        p = np.array(list(OFFENCE_MIX.values()))
        self.offence_p = p / p.sum()
        self.sections = [s for s, _ in oasys.SECTIONS]
        self.items = dict(oasys.SECTIONS)
        self.thresholds = {
            int(r["oasys_section"]): (
                int(r["need_threshold"] or 0),
                int(r["severe_threshold"] or 0),
            )
            for r in seed_rows("ref_need_areas")
        }
        self.people = _People()
        self.tier_quota: dict[int, list[int]] = {}  # financial year -> tiers given so far
        self.tier_year, self.tier_of = 0, {}  # this year's tier (0-3, 4 = none) of each offender
        self.tiered: set[int] = set()  # offenders given a tier (or left untiered) once
        self.untiered: set[int] = set()  # offenders never tiered
        self.missing_now = 0  # untiered offenders supervised in this year so far
        self.female_need_debt: dict[int, float] = defaultdict(lambda: 0.5)
        self.names: list[tuple[str, str]] = []
        self.ids: dict[str, int] = defaultdict(int)
        self.pending: dict[tuple[str, date], list[list[str]]] = defaultdict(list)
        self.indexed: set[tuple[int, int]] = set()  # (offender, financial year) with an index
        self.reoffences: dict[date, list[tuple[date, int, date]]] = defaultdict(list)
        self.ogrs3_offence = {
            r["offence_category_code"]: float(r["ogrs3_offence_param"])
            for r in seed_rows("ref_offence_categories")
        }
        self.ogrs3_age = [
            (int(r["age_from"]), int(r["age_to"]), float(r["male_param"]), float(r["female_param"]))
            for r in seed_rows("ref_ogrs3_age_gender")
        ]

    def _next(self, kind: str) -> int:
        self.ids[kind] += 1
        return self.ids[kind]

    # -- people -----------------------------------------------------------------------------
    def _new_offender(self, when: date, rows: list[list[str]]) -> int:
        rng = self.rng
        p = self.people
        pid = len(p) + 1
        female = bool(rng.random() < 0.14)
        age = int(np.clip(rng.gamma(2.6, 6.5) + 18, 18, 80))
        dob = when - timedelta(days=age * 365 + int(rng.integers(0, 365)))
        ward = self.wards[int(rng.choice(len(self.wards), p=self.ward_p))]
        la = ward["la_code"]
        wb = bool(rng.random() < self.white_british[la] + 0.02)
        ethnicity = "W1" if wb else self.ethnic_codes[int(rng.integers(1, len(self.ethnic_codes)))]
        # The draws an earlier version made for the criminal history, kept so every later
        # draw of the main stream (and the figures calibrated on them) stays as it was;
        # the history comes from the reoffending stream: most have one, women lighter ones.
        if int(rng.poisson(3.0)) if rng.random() < 0.7 else 0:
            rng.integers(200, max(201, (age - 12) * 365))
        risk = self.risk_rng
        mean_prior = PRIOR_SANCTIONS_MEAN * (0.6 if female else 1.0)
        prior = int(risk.negative_binomial(1, 1 / (1 + mean_prior))) if risk.random() < 0.8 else 0
        first_age = min(age - 1, 13 + int(risk.gamma(2.0, 3.0)))
        first_sanction = (
            when
            if prior == 0
            else dob + timedelta(days=first_age * 365 + int(risk.integers(0, 365)))
        )
        first = str(rng.choice(FIRST_NAMES_F if female else FIRST_NAMES_M))
        surname = str(rng.choice(SURNAMES))
        postcode = (
            f"{POSTCODE_AREAS[la]}{int(rng.integers(1, 35))} {int(rng.integers(1, 9))}"
            + "".join(rng.choice(list("ABDEFGHJLNPQRSTUWXYZ"), 2))
        )
        pnc = f"{when.year - int(rng.integers(0, 8))}/{int(rng.integers(1, 9_999_999)):07d}" + str(
            rng.choice(list("ABCDEFGHJKLMNPQRTUVWXYZ"))
        )
        crn = f"{chr(65 + pid % 26)}{pid % 1_000_000:06d}"
        p.crn.append(crn)
        p.dob.append(dob)
        p.female.append(female)
        p.white_british.append(wb)
        p.la.append(la)
        p.postcode.append(postcode)
        p.initials.append(first[0] + surname[0])
        self.names.append((first, surname))
        p.sanctions.append(prior)
        p.supervised_until.append(when)
        p.last_sentenced.append(when)
        p.drug_need.append(False)
        p.accommodation_need.append(False)
        p.first_sanction.append(first_sanction)
        p.last_offence.append("")
        p.last_conviction.append(when)
        rows.append(
            [
                str(pid),
                crn,
                pnc if prior else "",
                first,
                surname,
                dob.isoformat(),
                "F" if female else "M",
                ethnicity,
                postcode,
                ward["ward_code"],
                la,
                first_sanction.isoformat(),
                str(prior),
                "0",
                "1",
            ]
        )
        return pid

    def _pick_repeat(self, when: date) -> int | None:
        """Someone supervised now or until recently (concurrent and repeat orders)."""
        n = len(self.people)
        if n < 200:
            return None
        for _ in range(8):
            pid = int(self.rng.integers(max(1, n - int(REPEAT_WINDOW * self.scale)), n + 1))
            if (when - self.people.supervised_until[pid - 1]).days < REPEAT_GAP_DAYS:
                return pid
        return None

    # -- one month ----------------------------------------------------------------------------
    def _month(self, month: date) -> None:
        rng = self.rng
        fy = _fy(month)
        days = (_month_after(month) - month).days
        out: dict[str, list[list[str]]] = defaultdict(list)
        # counts are fixed (not drawn) so the year's totals and type mix come out exactly
        n = int(round(COMMENCEMENTS[fy] * self.scale / 12))
        mix = np.array(TYPE_MIX[fy]) * n
        counts = np.floor(mix).astype(int)
        counts[np.argsort(-(mix - counts))[: n - int(counts.sum())]] += 1
        types = rng.permutation(np.repeat(np.arange(len(DISPOSAL_TYPES)), counts))
        starts = rng.integers(0, days, size=n)
        community_events: list[tuple[int, int, date, str]] = []
        if month.month == 4:
            self._tier_reviews(month, out)
        # unpaid work and programmes: exact shares of the month's community sentences
        # (quarterly counts are calibration targets, so they are allotted, not drawn)
        community = [i for i, t in enumerate(types.tolist()) if DISPOSAL_TYPES[t] in ("CO", "SSO")]
        allotted: dict[int, set[str]] = defaultdict(set)
        for code in ALLOTTED_REQUIREMENTS:
            p = COMMUNITY_REQUIREMENTS[code]
            if month >= date(2008, 4, 1):
                p *= REQUIREMENT_2008_FACTOR.get(code, 1.0)
            k = int(round(p * len(community)))
            for i in rng.choice(community, size=k, replace=False).tolist() if k else []:
                allotted[i].add(code)
        for i, (t, d) in enumerate(zip(types.tolist(), starts.tolist(), strict=True)):
            start = month + timedelta(days=d)
            kind = DISPOSAL_TYPES[t]
            pid = self._pick_repeat(start) if rng.random() < REPEAT_P else None
            if pid is None:
                pid = self._new_offender(start, out["offenders"])
            event_id = self._event(pid, start, kind, out)
            self._disposal(pid, event_id, start, kind, out, allotted.get(i, set()))
            if kind in ("CO", "SSO"):
                community_events.append((pid, event_id, start, kind))
        for conviction, pid, offence in sorted(self.reoffences.pop(month, [])):
            self._event(pid, conviction, "OTHER", out, offence=offence)
        self._reconvictions(month, days, out)
        self._court_reports(month, community_events, out)
        period = f"{month:%Y-%m}"
        for feed in (*ndelius.FEEDS, *oasys.FEEDS):
            key = feed.name.split("_", 1)[1] if feed.system == "ndelius" else feed.name
            rows = out.get(key, []) + self.pending.pop((feed.name, month), [])
            self.writer.write(feed, period, rows, out.get(f"drawn_{key}", []))

    def _event(
        self, pid: int, conviction: date, kind: str, out: dict, offence: date | None = None
    ) -> int:
        """A conviction. A drawn reoffence (``offence`` given) uses the reoffending stream
        and leaves ``last_sentenced`` (which the main stream's choices read) alone."""
        p = self.people
        rng = self.rng if offence is None else self.risk_rng
        p.sanctions[pid - 1] += 1
        if offence is None:
            p.last_sentenced[pid - 1] = conviction
        event_id = self._next("event")
        if kind == "LIC":  # convicted earlier, released now
            conviction = conviction - timedelta(days=int(rng.integers(40, 500)))
        la = p.la[pid - 1]
        courts = self.courts_by_la[la] + (["CCMAN"] if rng.random() < 0.2 else [])
        if offence is None:
            offence = conviction - timedelta(days=int(rng.gamma(2.0, 40.0)) + 1)
        offence = self._outside_clean_years(pid, offence)
        category = str(rng.choice(self.offence_codes, p=self.offence_p))
        p.last_offence[pid - 1] = category
        p.last_conviction[pid - 1] = conviction
        out["events" if offence is None else "drawn_events"].append(
            [
                str(event_id),
                str(pid),
                str(p.sanctions[pid - 1]),
                category,
                offence.isoformat(),
                conviction.isoformat(),
                courts[int(rng.integers(0, len(courts)))],
                "0",
                "1",
            ]
        )
        return event_id

    def _disposal(
        self, pid: int, event_id: int, start: date, kind: str, out: dict, allotted: set[str]
    ) -> None:
        rng = self.rng
        p = self.people
        disposal_id = self._next("disposal")
        length = int(rng.choice(LENGTHS[kind]))
        end = start + timedelta(days=int(length * 30.44))
        reason = "COMPLETED"
        if rng.random() < EARLY_END_P:
            end = start + timedelta(days=int(length * 30.44 * rng.uniform(0.2, 0.9)))
            reason = str(rng.choice(["BREACH", "REVOKED", "OTHER"], p=[0.6, 0.3, 0.1]))
        row = [str(disposal_id), str(event_id), str(pid), kind, start.isoformat(), str(length)]
        out["disposals"].append([*row, "", "", "0", "1"])
        p.supervised_until[pid - 1] = max(p.supervised_until[pid - 1], end)
        tier = self._tier(pid, start, "COMMENCEMENT", out)
        shown = (end, reason)
        if kind in ("CO", "SSO") and PROGRAMME in allotted:  # who completes: the plant's
            shown = self.plant.completion(
                disposal_id, start, length, shown, self._ogrs3_1yr(pid, start), tier > 0
            )
        end_month = date(shown[0].year, shown[0].month, 1)
        if end_month <= LAST_MONTH:
            self.pending[("ndelius_disposals", end_month)].append(
                [*row, shown[0].isoformat(), shown[1], "0", "2"]
            )
        self._registrations(pid, start, end, tier, out)
        self._requirements(disposal_id, start, kind, out, allotted)
        if kind in ("CO", "SSO", "LIC") and rng.random() < 0.88:
            self._assessments(pid, event_id, start, end, tier, out)
        if kind in ("CO", "SSO", "LIC") and (pid, _fy(start)) not in self.indexed:
            self.indexed.add((pid, _fy(start)))
            self._follow_up(pid, start, tier, disposal_id)

    # -- reoffending ----------------------------------------------------------------------------
    def _ogrs3_1yr(self, pid: int, index: date) -> float | None:
        """OGRS3 as the warehouse computes it (fct_reoffending_cohort), at the index event."""
        p = self.people
        offence = self.ogrs3_offence.get(p.last_offence[pid - 1])
        if offence is None:
            return None
        dob, female = p.dob[pid - 1], p.female[pid - 1]
        age_now = _age_on(dob, p.last_conviction[pid - 1])
        age_first = _age_on(dob, p.first_sanction[pid - 1])
        sanctions = max(p.sanctions[pid - 1], 1)
        copas = math.log(sanctions / max(10 + age_now - age_first, 1))
        age_param = next(
            (w if female else m for lo, hi, m, w in self.ogrs3_age if lo <= age_now <= hi),
            self.ogrs3_age[-1][3] if female else self.ogrs3_age[-1][2],
        )
        x = age_param + (0.12614 if sanctions == 1 else 0.46306) + 1.25112 * copas + offence
        return 1 / (1 + math.exp(-(x + 1.40256)))

    def _outside_clean_years(self, pid: int, offence: date) -> date:
        """An offence falling in a follow-up year drawn "no reoffence" was committed
        before that year began (proven later, it is not a reoffence of that cohort)."""
        windows = self.people.clean.get(pid, ())
        moved = True
        while moved:
            moved = False
            for start, end in windows:
                if start < offence <= end:
                    offence = start - timedelta(days=int(self.risk_rng.integers(1, 60)))
                    moved = True
        return offence

    def _follow_up(self, pid: int, index: date, tier: int, disposal_id: int = 0) -> None:
        """Draw whether the year after an index event holds a proven reoffence, from OGRS3
        and what it does not see; schedule the reoffences (convicted within the waiting
        period mostly) or keep the year clean."""
        rng, p = self.risk_rng, self.people
        risk = self._ogrs3_1yr(pid, index)
        if risk is None:
            risk = 0.35
        logit = math.log(risk / (1 - risk)) + BASE_LOGIT + TIER_LOGIT.get(tier, 0.0)
        logit += NEED_LOGIT["drugs"] * p.drug_need[pid - 1]
        logit += NEED_LOGIT["accommodation"] * p.accommodation_need[pid - 1]
        logit += FEMALE_LOGIT * p.female[pid - 1] + DISTRICT_LOGIT.get(p.la[pid - 1], 0.0)
        end = _one_year_after(index)
        clean = p.clean.setdefault(pid, [])
        clean[:] = [w for w in clean if w[1] > index - timedelta(days=730)]
        u, p_reoffend = rng.random(), 1 / (1 + math.exp(-logit))
        prevented = self.plant.prevents(disposal_id, index, u, p_reoffend)
        if u >= p_reoffend:
            clean.append((index, end))
            return
        first = max([index, *(until for _, until in clean)])  # after any year drawn clean
        span = (end - first).days
        drawn = []
        for _ in range(1 + int(rng.poisson(EXTRA_REOFFENCES))):
            offence = first + timedelta(days=1 + int(rng.integers(0, max(span, 1))))
            drawn.append((offence + timedelta(days=1 + int(rng.gamma(2.0, 30.0))), offence))
        if prevented:  # a completed programme's effect: drawn as before, then kept clean
            clean.append((index, end))
            return
        for conviction, offence in drawn:
            self.reoffences[date(conviction.year, conviction.month, 1)].append(
                (conviction, pid, offence)
            )

    def _tier(self, pid: int, when: date, why: str, out: dict) -> int:
        fy = _fy(when)
        self._tier_year_starts(fy)
        if pid in self.untiered:  # never tiered: counted once a year in the "missing" row
            if pid not in self.tier_of:
                self.tier_of[pid] = 4
                self.missing_now += 1
            if self.missing_now <= TIER_COUNTS[fy][4] * self.scale:
                return 0
            # more untiered cases carried into the year than its "missing" row holds: this
            # one is tiered now, at its review or new sentence
            self.untiered.discard(pid)
            del self.tier_of[pid]
            self.missing_now -= 1
        k = self.tier_of.get(pid)
        if k is None and pid not in self.tiered:
            # a new case: left untiered while this year's "missing" count is behind its
            # target (pro rata through the year), so the small "missing" row holds too
            self.tiered.add(pid)
            target = TIER_COUNTS[fy][4] * self.scale * (((when.month - 4) % 12) + 1) / 12
            if self.missing_now < target:
                self.untiered.add(pid)
                self.tier_of[pid] = 4
                self.missing_now += 1
                return 0
        if k is None:
            # one tier per offender and year, by quota sampling (the tier furthest behind
            # its share of the year's mix), so the caseload-by-tier figures hold
            mix = TIER_MIX[fy]
            given = self.tier_quota.setdefault(fy, [0] * 4)
            n = sum(given) + 1
            k = max(range(4), key=lambda t: mix[t] * n - given[t])
            given[k] += 1
            self.tier_of[pid] = k
        out["tier_history"].append(
            [str(self._next("tier")), str(pid), str(k + 1), when.isoformat(), why, "0", "1"]
        )
        return k + 1

    def _tier_year_starts(self, fy: int) -> None:
        """Calls come in date order: keep only this year's tiers; untiered cases carried
        into the year count in its "missing" row."""
        if fy == self.tier_year:
            return
        self.tier_year, self.tier_of, self.missing_now = fy, {}, 0
        start = date(fy, 4, 1)
        for pid in self.untiered:
            if self.people.supervised_until[pid - 1] >= start:
                self.tier_of[pid] = 4
                self.missing_now += 1

    def _tier_reviews(self, month: date, out: dict) -> None:
        """Cases carried into a new year are re-tiered at their annual review in April."""
        self._tier_year_starts(_fy(month))
        p = self.people
        for i in range(len(p)):
            if p.supervised_until[i] >= month and p.last_sentenced[i] < month:
                when = month + timedelta(days=int(self.rng.integers(0, 30)))
                if p.supervised_until[i] >= when:
                    self._tier(i + 1, when, "REVIEW", out)

    def _registrations(self, pid: int, start: date, end: date, tier: int, out: dict) -> None:
        rng = self.rng
        rosh_p = {
            0: (0.6, 0.4, 0, 0),
            1: (0.8, 0.2, 0, 0),
            2: (0.6, 0.38, 0.02, 0),
            3: (0.35, 0.55, 0.1, 0),
            4: (0, 0.4, 0.5, 0.1),
        }[tier]
        code = ("RLRH", "RMRH", "RHRH", "RVHR")[int(rng.choice(4, p=rosh_p))]
        out["registrations"].append(
            [
                str(self._next("registration")),
                str(pid),
                code,
                start.isoformat(),
                end.isoformat() if end <= LAST_MONTH else "",
                "0",
                "1",
            ]
        )
        if tier == 4 and rng.random() < 0.08:
            mappa = str(rng.choice(["M1", "M2", "M3"], p=[0.8, 0.17, 0.03]))
            out["registrations"].append(
                [str(self._next("registration")), str(pid), mappa, start.isoformat(), "", "0", "1"]
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
        if not chosen:
            chosen = ["SUPV"]
        for code in chosen:
            if code == "UPW":
                length, unit = int(rng.choice([40, 60, 80, 100, 120, 150, 200, 240])), "HOURS"
            elif code == "PROG":
                length, unit = int(rng.choice([10, 20, 26, 36])), "SESSIONS"
            elif code == "ATTC":
                length, unit = int(rng.choice([12, 24, 36])), "HOURS"
            elif code == "ACT":
                length, unit = int(rng.choice([20, 30, 60])), "DAYS"
            else:
                length, unit = int(rng.choice([3, 6, 12])), "MONTHS"
            out["requirements"].append(
                [
                    str(self._next("requirement")),
                    str(disposal_id),
                    code,
                    str(length),
                    unit,
                    start.isoformat(),
                    "0",
                    "1",
                ]
            )

    def _reconvictions(self, month: date, days: int, out: dict) -> None:
        """Proven offences that lead to no supervision (fines, custody): reoffending data."""
        n = len(self.people)
        if n < 200:
            return
        recent = max(1, n - int(30_000 * self.scale))
        k = int(self.rng.poisson(RECONVICTION_RATE * (n - recent)))
        for pid in self.rng.integers(recent, n + 1, size=k).tolist():
            when = month + timedelta(days=int(self.rng.integers(0, days)))
            if (when - self.people.last_sentenced[pid - 1]).days < 30:
                continue
            self._event(pid, when, "OTHER", out)

    def _court_reports(
        self, month: date, events: list[tuple[int, int, date, str]], out: dict
    ) -> None:
        rng = self.rng
        # the year's reports spread evenly over its months (exact, so year-on-year changes hold)
        total = COURT_REPORTS[_fy(month)] * self.scale
        i = (month.month - 4) % 12
        n = min(len(events), int(total * (i + 1) / 12) - int(total * i / 12))
        for i in rng.choice(len(events), size=n, replace=False).tolist() if n else []:
            pid, event_id, sentenced, kind = events[i]
            if rng.random() < 0.76:
                proposal = kind
            else:
                proposal = str(rng.choice(["CO", "SSO", "CUSTODY", "FINE", "DISCHARGE"]))
            completed = sentenced - timedelta(days=int(rng.integers(0, 4)))
            requested = completed - timedelta(days=int(rng.integers(1, 22)))
            out["court_reports"].append(
                [
                    str(self._next("court_report")),
                    str(pid),
                    str(event_id),
                    str(rng.choice(["SDR", "FDR", "ORAL"], p=[0.45, 0.4, 0.15])),
                    requested.isoformat(),
                    completed.isoformat(),
                    proposal,
                    "0",
                    "1",
                ]
            )

    # -- OASys --------------------------------------------------------------------------------
    def _assessments(
        self, pid: int, event_id: int, start: date, end: date, tier: int, out: dict
    ) -> None:
        rng = self.rng
        p = self.people
        age = (start - p.dob[pid - 1]).days // 365
        band = _age_band(age)
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
        p.drug_need[pid - 1] = sums[8] >= self.thresholds[8][0]
        p.accommodation_need[pid - 1] = sums[3] >= self.thresholds[3][0]
        when = start + timedelta(days=int(rng.integers(0, 21)))
        first_id = self._assessment(pid, event_id, "START", when, sums, linked, out)
        self._objectives(pid, first_id, when, end, sums, linked, out)
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
                cap = 2 * self.items[s]
                if falls[s]:
                    if n == 0:
                        sums[s] = max(0, sums[s] - int(rng.integers(1, 3)))
                elif rng.random() < 0.15:
                    sums[s] = min(cap, sums[s] + 1)
            month = date(when.year, when.month, 1)
            if month <= LAST_MONTH and when > start:
                self._assessment(pid, event_id, kind, when, sums, linked, out, month)

    def _section_sum(self, section: int, need: bool, tier: int) -> int:
        rng = self.rng
        cap = 2 * self.items[section]
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
        assessment_id = self._next("assessment")
        items: list[str] = []
        for s in self.sections:
            n = self.items[s]
            left = sums[s]
            values = [0] * n
            for i in rng.permutation(n).tolist():
                v = min(2, left)
                values[i] = v
                left -= v
            items += [str(v) for v in values]
        row = [
            str(assessment_id),
            self.people.crn[pid - 1],
            str(event_id),
            kind,
            when.isoformat(),
            *items,
            *("1" if linked[s] else "0" for s in self.sections),
        ]
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
        end: date,
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
                status = str(
                    rng.choice(
                        ["ACHIEVED", "ONGOING", "NOT_ACHIEVED", "NOT_STARTED"],
                        p=[0.4, 0.3, 0.15, 0.15],
                    )
                )
            else:
                status = "NOT_STARTED"
            out["oasys_objectives"].append(
                [
                    str(self._next("objective")),
                    str(assessment_id),
                    self.people.crn[pid - 1],
                    str(s),
                    "1" if planned else "0",
                    status,
                    when.isoformat(),
                ]
            )

    # -- run ------------------------------------------------------------------------------------
    def run(self) -> GenerationReport:
        from ingestion.synthetic.partners import PartnerGenerator

        for month in _months():
            self._month(month)
        PartnerGenerator(self).run()
        self.plant.write_truth(self.out)
        self.report.files.update(self.dirt.spoil_files(self.out, self.rng))
        return self.report


def generate(
    out_dir: Path,
    *,
    scale: float = 1.0,
    seed: int = 1,
    dirt: float = 0.01,
    on_file: Callable[[str], None] | None = None,
    window: tuple[str, str] | None = None,
) -> GenerationReport:
    """Write the synthetic feeds into ``out_dir`` (the landing folder layout); ``on_file``
    hears each file's name as it is written. ``window=("2008-01", "2008-03")`` simulates
    the whole period but writes only the files of those months (tests that need a few
    files: the full set is ~730)."""
    gen = Generator(out_dir, scale=scale, seed=seed, dirt=dirt, on_file=on_file, window=window)
    return gen.run()
