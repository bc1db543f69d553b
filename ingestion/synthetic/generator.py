"""Synthetic nDelius feeds for the default area (Greater Manchester), 2006/07 to 2008/09.

Deterministic for a seed. Files are written month by month (one delta extract per month
and feed), so memory grows with the number of offenders, never with the file sizes.

``dirt`` is the share of rows given a realistic fault (see ``ingestion.synthetic.dirt``);
a few whole files are spoilt too (a renamed column, a missing column, an empty file, a
truncated last line).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from ingestion.feeds import ndelius
from ingestion.reference import seed_rows
from ingestion.synthetic.dirt import Dirt

FIRST_MONTH = date(2005, 4, 1)  # a year of history so caseload exists on 1 April 2006
LAST_MONTH = date(2009, 3, 1)
EVENTS_PER_YEAR = 18_650  # all supervision commencements a year at scale 1

FIRST_NAMES_M = [
    "John",
    "David",
    "Michael",
    "Paul",
    "Mark",
    "Daniel",
    "James",
    "Lee",
    "Craig",
    "Wayne",
    "Carl",
    "Darren",
    "Jason",
    "Steven",
    "Mohammed",
    "Imran",
    "Tariq",
    "Ryan",
    "Anthony",
    "Gary",
    "Kevin",
    "Dean",
    "Shaun",
    "Liam",
    "Adam",
]
FIRST_NAMES_F = [
    "Sarah",
    "Lisa",
    "Michelle",
    "Joanne",
    "Claire",
    "Emma",
    "Nicola",
    "Kelly",
    "Donna",
    "Stacey",
    "Leanne",
    "Amanda",
    "Samantha",
    "Gemma",
    "Nadia",
    "Aisha",
]
SURNAMES = [
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Robinson",
    "Wright",
    "Thompson",
    "Evans",
    "Walker",
    "White",
    "Roberts",
    "Green",
    "Hall",
    "Wood",
    "Jackson",
    "Clarke",
    "Khan",
    "Hussain",
    "Ali",
    "Ahmed",
    "Patel",
    "Kelly",
    "Murphy",
    "Lees",
    "Holt",
    "Ashworth",
    "Whittaker",
    "Hughes",
    "Kaur",
]
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
# Wards where need concentrates (calibration.md, "Geography"): weighted up.
HOTSPOT_WARDS = {
    "Harpurhey": 4.0,
    "Miles Platting and Newton Heath": 4.0,
    "Bradford": 3.5,
    "Halliwell": 3.0,
    "Tonge with the Haulgh": 3.0,
    "Farnworth": 3.0,
    "Woodhouse Park": 3.0,
    "Baguley": 3.0,
}
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


def _months() -> list[date]:
    months, m = [], FIRST_MONTH
    while m <= LAST_MONTH:
        months.append(m)
        m = date(m.year + (m.month == 12), m.month % 12 + 1, 1)
    return months


@dataclass
class _Offenders:
    """The offender pool, as columns (no per-person objects: it scales to national size)."""

    ids: list[int] = field(default_factory=list)
    first_event_date: list[date] = field(default_factory=list)
    event_count: list[int] = field(default_factory=list)


@dataclass
class GenerationReport:
    out_dir: Path
    files: dict[str, int] = field(default_factory=dict)  # file name -> data rows written

    @property
    def total_rows(self) -> int:
        return sum(self.files.values())


class Generator:
    def __init__(self, out_dir: Path, *, scale: float = 1.0, seed: int = 1, dirt: float = 0.01):
        if scale <= 0:
            raise ValueError("scale must be positive")
        if not 0 <= dirt < 0.5:
            raise ValueError("dirt must be in [0, 0.5)")
        self.out = Path(out_dir)
        self.scale = scale
        self.rng = np.random.default_rng(seed)
        self.dirt = Dirt(np.random.default_rng(seed + 1), dirt)
        self.report = GenerationReport(self.out)
        wards = seed_rows("ref_wards")
        weights = np.array(
            [float(w["population_2007"]) * HOTSPOT_WARDS.get(w["ward_name"], 1.0) for w in wards]
        )
        self.wards = wards
        self.ward_p = weights / weights.sum()
        las = {la["la_code"]: la for la in seed_rows("ref_local_authorities")}
        self.white_british = {code: float(la["white_british_share"]) for code, la in las.items()}
        self.ethnic_codes = [r["ethnicity_code"] for r in seed_rows("ref_ethnicity")]
        self.courts_by_la: dict[str, list[str]] = {}
        for court in seed_rows("ref_courts"):
            self.courts_by_la.setdefault(court["la_code"], []).append(court["court_code"])
        self.offence_codes = list(OFFENCE_MIX)
        p = np.array(list(OFFENCE_MIX.values()))
        self.offence_p = p / p.sum()
        self.pool = _Offenders()
        self.next_event_id = 1
        self.home_la: dict[int, str] = {}

    # -- people -----------------------------------------------------------------------------
    def _new_offender(self, when: date) -> list[str]:
        rng = self.rng
        offender_id = len(self.pool.ids) + 1
        self.pool.ids.append(offender_id)
        self.pool.first_event_date.append(when)
        self.pool.event_count.append(0)
        female = rng.random() < 0.14
        age = int(np.clip(rng.gamma(3.0, 6.0) + 17, 17, 80))
        dob = when - timedelta(days=age * 365 + int(rng.integers(0, 365)))
        ward = self.wards[int(rng.choice(len(self.wards), p=self.ward_p))]
        la = ward["la_code"]
        self.home_la[offender_id] = la
        if rng.random() < self.white_british[la] + 0.02:
            ethnicity = "W1"
        else:
            ethnicity = self.ethnic_codes[int(rng.integers(1, len(self.ethnic_codes)))]
        prior = int(rng.poisson(3.0)) if rng.random() < 0.7 else 0
        first_sanction = (
            when
            if prior == 0
            else when - timedelta(days=int(rng.integers(200, max(201, (age - 12) * 365))))
        )
        first = rng.choice(FIRST_NAMES_F if female else FIRST_NAMES_M)
        postcode = f"{POSTCODE_AREAS[la]}{int(rng.integers(1, 35))} {int(rng.integers(1, 9))}" + (
            "".join(rng.choice(list("ABDEFGHJLNPQRSTUWXYZ"), 2))
        )
        pnc = f"{when.year - int(rng.integers(0, 8))}/{int(rng.integers(1, 9_999_999)):07d}" + str(
            rng.choice(list("ABCDEFGHJKLMNPQRTUVWXYZ"))
        )
        return [
            str(offender_id),
            f"{chr(65 + offender_id % 26)}{offender_id % 1_000_000:06d}",
            pnc if prior else "",
            first,
            str(rng.choice(SURNAMES)),
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

    # -- files ------------------------------------------------------------------------------
    def _write(self, name: str, header: list[str], rows: list[list[str]]) -> None:
        folder = self.out / "ndelius"
        folder.mkdir(parents=True, exist_ok=True)
        rows = self.dirt.rows(header, rows)
        path = folder / name
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)
        self.report.files[name] = len(rows)

    def run(self) -> GenerationReport:
        months = _months()
        per_month = EVENTS_PER_YEAR * self.scale / 12
        for month in months:
            n_events = int(self.rng.poisson(per_month))
            offenders: list[list[str]] = []
            events: list[list[str]] = []
            days = (date(month.year + (month.month == 12), month.month % 12 + 1, 1) - month).days
            for _ in range(n_events):
                when = month + timedelta(days=int(self.rng.integers(0, days)))
                repeat = len(self.pool.ids) > 100 and self.rng.random() < 0.28
                if repeat:
                    offender_id = int(self.rng.integers(1, len(self.pool.ids) + 1))
                else:
                    offenders.append(self._new_offender(when))
                    offender_id = len(self.pool.ids)
                self.pool.event_count[offender_id - 1] += 1
                la = self.home_la[offender_id]
                court = self.courts_by_la[la] + (["CCMAN"] if self.rng.random() < 0.2 else [])
                offence_date = when - timedelta(days=int(self.rng.gamma(2.0, 40.0)) + 1)
                events.append(
                    [
                        str(self.next_event_id),
                        str(offender_id),
                        str(self.pool.event_count[offender_id - 1]),
                        str(self.rng.choice(self.offence_codes, p=self.offence_p)),
                        offence_date.isoformat(),
                        when.isoformat(),
                        str(court[int(self.rng.integers(0, len(court)))]),
                        "0",
                        "1",
                    ]
                )
                self.next_event_id += 1
            period = f"{month:%Y-%m}"
            self._write(f"ndelius_offenders_{period}.csv", ndelius.OFFENDERS.header, offenders)
            self._write(f"ndelius_events_{period}.csv", ndelius.EVENTS.header, events)
        self.dirt.spoil_files(self.out / "ndelius", self.rng)
        return self.report


def generate(
    out_dir: Path, *, scale: float = 1.0, seed: int = 1, dirt: float = 0.01
) -> GenerationReport:
    """Write the synthetic feeds into ``out_dir`` (the landing folder layout)."""
    return Generator(out_dir, scale=scale, seed=seed, dirt=dirt).run()
