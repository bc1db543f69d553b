"""Trust finance: the ledger (one .xlsx workbook a financial year) and monthly activity.

Totals follow calibration.md: the budget of the main intervention services, contracted
services' share, and approved-premises occupancy (2008/09 prices; other years scaled)."""

from __future__ import annotations

from datetime import date

import numpy as np

from ingestion.feeds import partners
from ingestion.financial_year import label, start_year
from ingestion.reference import seed_rows
from ingestion.synthetic.calendar import days_in
from ingestion.synthetic.shares import districts, split
from ingestion.synthetic.writer import Writer

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
# (service, measure, mean at area level for scale 1, standard deviation)
ACTIVITY = (
    ("UPW", "UPW_HOURS", 36_000, 2_500),
    ("UPW", "COMPLETIONS", 520, 40),
    ("PROG", "SESSIONS", None, None),  # from the tutors' timetable, +-5 %
    ("PROG", "COMPLETIONS", 190, 20),
    ("DRR", "ATTENDANCES", 2_400, 200),
    ("ATR", "ATTENDANCES", 900, 90),
    ("SUPV", "SUPERVISION_MONTHS", 17_000, 600),
    ("CONT", "SESSIONS", 1_500, 120),
)


class Finance:
    def __init__(
        self, rng: np.random.Generator, scale: float, months: list[date], writer: Writer
    ) -> None:
        self.rng = rng
        self.scale = scale
        self.months = months
        self.writer = writer
        self.las, self.la_pop = districts()

    def ledger(self) -> None:
        """One workbook per financial year: budget and actual by centre, account, month."""
        for fy in (2006, 2007, 2008):
            if not self.writer.wanted(f"{fy}-04", f"{fy + 1}-03"):
                continue
            rows: list[dict[str, str]] = []
            months = [m for m in self.months if start_year(m) == fy]
            for centre, service, la, annual in self._budget_lines(fy):
                for account, share in ACCOUNTS.items():
                    pennies = split(int(round(annual * share * 100)), np.ones(len(months)))
                    for month, p in zip(months, pennies.tolist(), strict=True):
                        budget = p / 100
                        actual = round(budget * self.rng.normal(1.0, 0.06), 2)
                        rows.append(
                            {
                                "PERIOD": f"{month:%Y-%m}",
                                "COST_CENTRE": centre,
                                "SERVICE_CODE": service,
                                "LA_CODE": la or "",
                                "ACCOUNT": account,
                                "BUDGET_GBP": f"{budget:.2f}",
                                "ACTUAL_GBP": f"{actual:.2f}",
                            }
                        )
            name = f"finance_ledger_{label(fy, sep='-')}.xlsx"
            self.writer.write_workbook(partners.FINANCE_LEDGER, name, rows)

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

    def activity(self, month: date) -> list[dict[str, str]]:
        """Units delivered by service and district (the denominators of unit costs)."""
        rng = self.rng
        period = f"{month:%Y-%m}"
        rows = []
        pop = self.la_pop / self.la_pop.sum()
        k = self.scale

        def add(service: str, la: str, measure: str, value: float) -> None:
            rows.append(
                {
                    "PERIOD": period,
                    "SERVICE_CODE": service,
                    "LA_CODE": la,
                    "MEASURE": measure,
                    "VALUE": f"{max(0.0, value):.0f}",
                }
            )

        for la, s in zip(self.las, pop.tolist(), strict=True):
            for service, measure, mean, sd in ACTIVITY:
                if mean is None:
                    sessions = PROGRAMMES * TUTOR_SESSIONS_A_WEEK * 4.3 * s * 10 * k
                    add(service, la, measure, rng.normal(sessions, sessions * 0.05))
                else:
                    add(service, la, measure, rng.normal(mean, sd) * s * k)
        for la, (available, nights) in sorted(self._bed_nights(month).items()):
            add("AP", la, "BEDS_AVAILABLE", available)
            add("AP", la, "BED_NIGHTS", nights)
        return rows

    def _bed_nights(self, month: date) -> dict[str, list[float]]:
        """Approved premises: beds available and bed-nights used, by district."""
        k, days, period = self.scale, days_in(month), f"{month:%Y-%m}"
        by_la: dict[str, list[float]] = {}
        for premises in seed_rows("ref_approved_premises"):
            beds = float(premises["beds"]) * max(1.0, k)
            if premises["premises_code"] == "AP04" and period == "2007-08":
                beds = 0.0  # closed for refurbishment: a month with no activity
            occupancy = min(0.99, self.rng.normal(AP_OCCUPANCY[start_year(month)], 0.015))
            acc = by_la.setdefault(premises["la_code"], [0.0, 0.0])
            acc[0] += beds * days
            acc[1] += beds * days * occupancy
        return by_la
