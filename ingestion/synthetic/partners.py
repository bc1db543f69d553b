"""Synthetic partner and finance feeds: finance ledger (.xlsx) and activity, GMAC, DAT, SP.

Written after the probation simulation (``ingestion.synthetic.generator``), so DAT and
Supporting People records can include real offenders (matched only by name, date of
birth, sex and postcode, as partners hold no CRN). Totals follow calibration.md:
recorded crime per calendar year and per district, the budget of the main intervention
services, contracted services' share, and approved-premises occupancy.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ingestion.feeds import partners
from ingestion.reference import seed_rows
from ingestion.synthetic.names import FIRST_NAMES_F, FIRST_NAMES_M, SURNAMES

if TYPE_CHECKING:
    from ingestion.synthetic.generator import Generator

FIRST = date(2006, 4, 1)
LAST = date(2009, 3, 1)

# Recorded crime (GMAC): calendar years 2007 and 2008 exactly, 2006 and early 2009 trend.
CRIME_BY_MONTH = {2006: 29_400, 2007: 332_555 / 12, 2008: 297_966 / 12, 2009: 24_200}
WIGAN = "E08000010"
WIGAN_RISE = 414  # the one district whose crime rose from 2006/07 to 2007/08
CRIME_LA_FACTOR = {"E08000003": 1.55, "E08000009": 1.1, "E08000006": 1.15, WIGAN: 0.8}

# Finance (2008/09 prices; other years scaled): the total budget and its parts.
TOTAL_BUDGET = 52_048_795.0
MAIN_INTERVENTIONS_BUDGET = 10_930_247.0  # UPW, PROG, DRR, ATR: about 21 %
CONTRACTED_SHARE = 0.022
AP_BUDGET = 4_150_000.0
CORP_SHARE = 0.14
YEAR_FACTOR = {2006: 0.96, 2007: 0.98, 2008: 1.0}
INTERVENTION_SPLIT = {"UPW": 0.46, "PROG": 0.34, "DRR": 0.14, "ATR": 0.06}
ACCOUNTS = {"STAFF": 0.72, "PREMISES": 0.12, "CONTRACTS": 0.06, "OTHER": 0.10}
AP_OCCUPANCY = {2006: 0.90, 2007: 0.91, 2008: 0.92}
PROGRAMMES = 10
TUTOR_SESSIONS_A_WEEK = 5

DAT_EPISODES_A_MONTH = 520
DAT_OFFENDER_SHARE = 0.34
SP_CLIENTS_A_MONTH = 310
SP_OFFENDER_SHARE = 0.22


def _months() -> list[date]:
    months, m = [], FIRST
    while m <= LAST:
        months.append(m)
        y, mm = divmod(m.month, 12)
        m = date(m.year + y, mm + 1, 1)
    return months


def _fy(d: date) -> int:
    return d.year if d.month >= 4 else d.year - 1


def _split(total: int, weights: np.ndarray) -> np.ndarray:
    """``total`` split into integers in proportion to ``weights`` (largest remainder)."""
    share = weights / weights.sum() * total
    base = np.floor(share).astype(np.int64)
    rest = int(total - base.sum())
    if rest:
        base[np.argsort(-(share - base))[:rest]] += 1
    return base


FIXED_TIME = (2009, 4, 1, 0, 0, 0)


def save_workbook(book: Any, path: Path) -> None:
    """Save an openpyxl workbook byte-identically for the same content: openpyxl stamps
    the save time in docProps/core.xml and in every zip entry, so an unchanged ledger
    would otherwise arrive as a new delivery on every run."""
    import io
    import re
    import zipfile

    buffer = io.BytesIO()
    book.save(buffer)
    stamp = "2009-04-01T00:00:00Z"
    with zipfile.ZipFile(buffer) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "docProps/core.xml":
                data = re.sub(
                    rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>" + stamp.encode(), data
                )
            info = zipfile.ZipInfo(item.filename, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            out.writestr(info, data)


class PartnerGenerator:
    def __init__(self, core: Generator) -> None:
        self.core = core
        self.rng = np.random.default_rng(core.seed + 7)
        self.scale = core.scale
        self.writer = core.writer
        self.las = [r["la_code"] for r in seed_rows("ref_local_authorities")]
        self.la_pop = np.array(
            [float(r["population_2007"]) for r in seed_rows("ref_local_authorities")]
        )
        self.wards = seed_rows("ref_wards")
        self.categories = seed_rows("ref_crime_categories")
        self.months = _months()
        people = core.people
        self.sentenced = np.array([d.toordinal() for d in people.last_sentenced], dtype=np.int64)
        self.drug_need = np.array(people.drug_need, dtype=bool)
        self.accommodation_need = np.array(people.accommodation_need, dtype=bool)

    def run(self) -> None:
        self._ledger()
        for month in self.months:
            period = f"{month:%Y-%m}"
            self.writer.write(partners.FINANCE_ACTIVITY, period, self._activity(month))
            self.writer.write(partners.GMAC_CRIME, period, self._crime(month))
            self.writer.write(partners.DAT_EPISODES, period, self._dat(month))
            clients, outcomes = self._supporting_people(month)
            self.writer.write(partners.SP_CLIENTS, period, clients)
            self.writer.write(partners.SP_OUTCOMES, period, outcomes)

    # -- GMAC -------------------------------------------------------------------------------
    def _la_crime_shares(self, fy: int) -> np.ndarray:
        weights = self.la_pop * np.array([CRIME_LA_FACTOR.get(la, 1.0) for la in self.las])
        return weights / weights.sum()

    def _fy_area_total(self, fy: int) -> float:
        return sum(CRIME_BY_MONTH[m.year] for m in self.months if _fy(m) == fy)

    def _la_month_totals(self, month: date) -> np.ndarray:
        fy = _fy(month)
        area = int(round(CRIME_BY_MONTH[month.year] * self.scale))
        shares = self._la_crime_shares(fy)
        if fy >= 2007:  # Wigan rises by WIGAN_RISE (scaled) while every other district falls
            w = self.las.index(WIGAN)
            base_06 = self._la_crime_shares(2006)[w] * self._fy_area_total(2006) * self.scale
            wigan_07 = (base_06 + WIGAN_RISE * self.scale) / (
                self._fy_area_total(2007) * self.scale
            )
            if fy == 2007:
                others = np.delete(shares, w)
                shares = np.insert(others / others.sum() * (1 - wigan_07), w, wigan_07)
        return _split(area, shares)

    def _crime(self, month: date) -> list[list[str]]:
        rng = self.rng
        period = f"{month:%Y-%m}"
        cat_codes = [c["crime_category_code"] for c in self.categories]
        cat_p = np.array([float(c["share_of_recorded_crime"]) for c in self.categories])
        rows = []
        for la, total in zip(self.las, self._la_month_totals(month).tolist(), strict=True):
            wards = [w for w in self.wards if w["la_code"] == la]
            weights = np.array([float(w["population_2007"]) for w in wards])
            weights = weights * rng.gamma(8.0, 1 / 8.0, size=len(wards))
            cells = np.outer(weights / weights.sum(), cat_p / cat_p.sum()).ravel()
            counts = rng.multinomial(total, cells).reshape(len(wards), len(cat_codes))
            for w, ward in enumerate(wards):
                for c, code in enumerate(cat_codes):
                    rows.append([ward["ward_code"], period, code, str(int(counts[w, c]))])
        return rows

    # -- finance ----------------------------------------------------------------------------
    def _budget_lines(self, fy: int) -> list[tuple[str, str, str | None, float]]:
        """(cost centre, service, LA, annual budget) for one financial year."""
        f = YEAR_FACTOR[fy] * self.scale
        lines: list[tuple[str, str, str | None, float]] = []
        pop_share = self.la_pop / self.la_pop.sum()
        for service, share in INTERVENTION_SPLIT.items():
            for la, s in zip(self.las, pop_share.tolist(), strict=True):
                lines.append(
                    (f"{service}-{la[-2:]}", service, la, MAIN_INTERVENTIONS_BUDGET * share * s * f)
                )
        premises = seed_rows("ref_approved_premises")
        beds = np.array([float(p["beds"]) for p in premises])
        for p, b in zip(premises, (beds / beds.sum()).tolist(), strict=True):
            lines.append((f"AP-{p['premises_code'][-2:]}", "AP", p["la_code"], AP_BUDGET * b * f))
        lines.append(("CONT-GM", "CONT", None, TOTAL_BUDGET * CONTRACTED_SHARE * f))
        lines.append(("CORP-GM", "CORP", None, TOTAL_BUDGET * CORP_SHARE * f))
        supv = TOTAL_BUDGET * f - sum(line[3] for line in lines)
        for la, s in zip(self.las, pop_share.tolist(), strict=True):
            lines.append((f"SUPV-{la[-2:]}", "SUPV", la, supv * s))
        return lines

    def _ledger(self) -> None:
        from openpyxl import Workbook

        rng = self.rng
        for fy in (2006, 2007, 2008):
            if not self.core.writer.wanted(f"{fy}-04", f"{fy + 1}-03"):
                continue
            rows: list[list[str]] = []
            months = [m for m in self.months if _fy(m) == fy]
            for centre, service, la, annual in self._budget_lines(fy):
                for account, share in ACCOUNTS.items():
                    pennies = _split(int(round(annual * share * 100)), np.ones(len(months)))
                    for month, p in zip(months, pennies.tolist(), strict=True):
                        budget = p / 100
                        actual = round(budget * rng.normal(1.0, 0.06), 2)
                        rows.append(
                            [
                                f"{month:%Y-%m}",
                                centre,
                                service,
                                la or "",
                                account,
                                f"{budget:.2f}",
                                f"{actual:.2f}",
                            ]
                        )
            rows = self.core.dirt.rows(partners.FINANCE_LEDGER, rows)
            book = Workbook(write_only=True)
            sheet = book.create_sheet("Ledger")
            sheet.append(partners.FINANCE_LEDGER.header)
            for row in rows:
                sheet.append([_cell(v) for v in row])
            folder = self.core.out / "finance"
            folder.mkdir(parents=True, exist_ok=True)
            name = f"finance_ledger_{fy}-{(fy + 1) % 100:02d}.xlsx"
            save_workbook(book, folder / name)
            self.core.report.files[name] = len(rows)

    def _activity(self, month: date) -> list[list[str]]:
        rng = self.rng
        fy = _fy(month)
        period = f"{month:%Y-%m}"
        days = ((month.replace(day=28) + timedelta(days=4)).replace(day=1) - month).days
        rows = []
        pop = self.la_pop / self.la_pop.sum()
        k = self.scale
        for la, s in zip(self.las, pop.tolist(), strict=True):

            def add(service: str, measure: str, value: float, la: str = la) -> None:
                rows.append([period, service, la, measure, f"{max(0.0, value):.0f}"])

            add("UPW", "UPW_HOURS", rng.normal(36_000, 2_500) * s * k)
            add("UPW", "COMPLETIONS", rng.normal(520, 40) * s * k)
            sessions = PROGRAMMES * TUTOR_SESSIONS_A_WEEK * 4.3 * s * 10 * k
            add("PROG", "SESSIONS", rng.normal(sessions, sessions * 0.05))
            add("PROG", "COMPLETIONS", rng.normal(190, 20) * s * k)
            add("DRR", "ATTENDANCES", rng.normal(2_400, 200) * s * k)
            add("ATR", "ATTENDANCES", rng.normal(900, 90) * s * k)
            add("SUPV", "SUPERVISION_MONTHS", rng.normal(17_000, 600) * s * k)
            add("CONT", "SESSIONS", rng.normal(1_500, 120) * s * k)
        by_la: dict[str, list[float]] = {}
        for premises in seed_rows("ref_approved_premises"):
            beds = float(premises["beds"]) * max(1.0, k)
            if premises["premises_code"] == "AP04" and period == "2007-08":
                beds = 0.0  # closed for refurbishment: a month with no activity
            nights = beds * days * min(0.99, rng.normal(AP_OCCUPANCY[fy], 0.015))
            acc = by_la.setdefault(premises["la_code"], [0.0, 0.0])
            acc[0] += beds * days
            acc[1] += nights
        for la, (available, nights) in sorted(by_la.items()):
            rows.append([period, "AP", la, "BEDS_AVAILABLE", f"{available:.0f}"])
            rows.append([period, "AP", la, "BED_NIGHTS", f"{nights:.0f}"])
        return rows

    # -- DAT and Supporting People ------------------------------------------------------------
    def _offenders_for(self, month: date, need: np.ndarray, count: int) -> list[int]:
        """Up to ``count`` offenders with the need, sentenced in the two years to ``month``."""
        if not count:
            return []
        end = month.toordinal()
        ok = need & (self.sentenced >= end - 730) & (self.sentenced <= end)
        candidates = np.flatnonzero(ok)
        if not len(candidates):
            return []
        picks = self.rng.choice(candidates, size=min(count, len(candidates)), replace=False)
        return [int(i) for i in picks]

    def _someone(self) -> tuple[str, str, date, bool, str, str]:
        rng = self.rng
        female = bool(rng.random() < 0.3)
        first = str(rng.choice(FIRST_NAMES_F if female else FIRST_NAMES_M))
        surname = str(rng.choice(SURNAMES))
        dob = date(1950, 1, 1) + timedelta(days=int(rng.integers(0, 365 * 40)))
        la = self.las[int(rng.choice(len(self.las), p=self.la_pop / self.la_pop.sum()))]
        from ingestion.synthetic.generator import POSTCODE_AREAS

        postcode = (
            f"{POSTCODE_AREAS[la]}{int(rng.integers(1, 35))} {int(rng.integers(1, 9))}"
            + "".join(rng.choice(list("ABDEFGHJLNPQRSTUWXYZ"), 2))
        )
        return first, surname, dob, female, la, postcode

    def _dat(self, month: date) -> list[list[str]]:
        rng = self.rng
        p = self.core.people
        n = int(rng.poisson(DAT_EPISODES_A_MONTH * self.scale))
        offenders = self._offenders_for(month, self.drug_need, int(n * DAT_OFFENDER_SHARE))
        rows = []
        for k in range(n):
            if k < len(offenders):
                i = offenders[k]
                initials, dob, female = p.initials[i], p.dob[i], p.female[i]
                la, postcode, referral = p.la[i], p.postcode[i], "CJS"
            else:
                first, surname, dob, female, la, postcode = self._someone()
                initials = first[0] + surname[0]
                referral = str(rng.choice(["SELF", "GP", "OTHER", "CJS"], p=[0.4, 0.3, 0.2, 0.1]))
            start = month + timedelta(days=int(rng.integers(0, 28)))
            discharge, reason = "", ""
            if rng.random() < 0.7:
                end = start + timedelta(days=int(rng.gamma(2.0, 60)))
                if end < date(2009, 4, 1):
                    discharge = end.isoformat()
                    reason = str(
                        rng.choice(
                            [
                                "COMPLETED_FREE",
                                "COMPLETED_OCCASIONAL",
                                "DROPPED_OUT",
                                "TRANSFERRED",
                                "PRISON",
                            ],
                            p=[0.35, 0.15, 0.35, 0.1, 0.05],
                        )
                    )
            rows.append(
                [
                    f"DAT{self.core._next('dat'):07d}",
                    initials,
                    dob.isoformat(),
                    "F" if female else "M",
                    postcode.split(" ")[0],
                    la,
                    str(
                        rng.choice(
                            [
                                "OPIATES",
                                "CRACK",
                                "COCAINE",
                                "CANNABIS",
                                "AMPHETAMINE",
                                "ALCOHOL",
                                "OTHER",
                            ],
                            p=[0.42, 0.12, 0.1, 0.12, 0.04, 0.15, 0.05],
                        )
                    ),
                    str(
                        rng.choice(
                            [
                                "PRESCRIBING",
                                "PSYCHOSOCIAL",
                                "STRUCTURED_DAY",
                                "INPATIENT",
                                "RESIDENTIAL",
                            ],
                            p=[0.5, 0.3, 0.1, 0.05, 0.05],
                        )
                    ),
                    referral,
                    start.isoformat(),
                    discharge,
                    reason,
                ]
            )
        return rows

    def _supporting_people(self, month: date) -> tuple[list[list[str]], list[list[str]]]:
        rng = self.rng
        p = self.core.people
        n = int(rng.poisson(SP_CLIENTS_A_MONTH * self.scale))
        offenders = self._offenders_for(month, self.accommodation_need, int(n * SP_OFFENDER_SHARE))
        clients, outcomes = [], []
        groups = [
            "HOMELESS",
            "MENTAL_HEALTH",
            "SUBSTANCE_MISUSE",
            "YOUNG_PEOPLE",
            "DOMESTIC_VIOLENCE",
            "OLDER_PEOPLE",
            "OFFENDERS",
        ]
        for k in range(n):
            if k < len(offenders):
                i = offenders[k]
                first, surname = self.core.names[i]
                dob, female, la, postcode = p.dob[i], p.female[i], p.la[i], p.postcode[i]
                group = "OFFENDERS" if rng.random() < 0.8 else "HOMELESS"
            else:
                first, surname, dob, female, la, postcode = self._someone()
                group = str(rng.choice(groups, p=[0.3, 0.2, 0.12, 0.14, 0.1, 0.1, 0.04]))
            record = f"SP{self.core._next('sp'):07d}"
            start = month + timedelta(days=int(rng.integers(0, 28)))
            end = start + timedelta(days=int(rng.gamma(2.0, 90)))
            clients.append(
                [
                    record,
                    first,
                    surname,
                    dob.isoformat(),
                    "F" if female else "M",
                    postcode,
                    la,
                    group,
                    str(rng.choice(["FLOATING", "ACCOMMODATION_BASED"])),
                    start.isoformat(),
                    end.isoformat() if end < date(2009, 4, 1) else "",
                ]
            )
            for domain in (
                "ECONOMIC_WELLBEING",
                "ENJOY_ACHIEVE",
                "BE_HEALTHY",
                "STAY_SAFE",
                "POSITIVE_CONTRIBUTION",
            ):
                need = rng.random() < 0.6
                achieved = "" if not need else ("1" if rng.random() < 0.62 else "0")
                outcomes.append([record, domain, "1" if need else "0", achieved])
        return clients, outcomes


def _cell(value: str) -> object:
    """Spreadsheet cells as finance sends them: numbers as numbers, the rest as text."""
    try:
        return (
            float(value)
            if "." in value and value.replace(".", "", 1).lstrip("-").isdigit()
            else value
        )
    except ValueError:
        return value
