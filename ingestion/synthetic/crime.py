"""GMAC recorded crime: ward x month x category counts (aggregate, no personal data).

Calendar years 2007 and 2008 exactly as calibration.md has them, 2006 and early 2009 on
trend; Wigan is the one district whose crime rose from 2006/07 to 2007/08."""

from __future__ import annotations

from datetime import date

import numpy as np

from ingestion.financial_year import start_year
from ingestion.reference import seed_rows
from ingestion.synthetic.shares import districts, split

CRIME_BY_MONTH = {2006: 29_400, 2007: 332_555 / 12, 2008: 297_966 / 12, 2009: 24_200}
WIGAN = "E08000010"
WIGAN_RISE = 414  # the one district whose crime rose from 2006/07 to 2007/08
CRIME_LA_FACTOR = {"E08000003": 1.55, "E08000009": 1.1, "E08000006": 1.15, WIGAN: 0.8}


class Crime:
    def __init__(self, rng: np.random.Generator, scale: float, months: list[date]) -> None:
        self.rng = rng
        self.scale = scale
        self.months = months
        self.las, self.la_pop = districts()
        self.wards = seed_rows("ref_wards")
        self.categories = seed_rows("ref_crime_categories")

    def rows(self, month: date) -> list[dict[str, str]]:
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
                    rows.append(
                        {
                            "WARD_CODE": ward["ward_code"],
                            "PERIOD": period,
                            "CRIME_CATEGORY": code,
                            "CRIMES": str(int(counts[w, c])),
                        }
                    )
        return rows

    def _la_crime_shares(self) -> np.ndarray:
        weights = self.la_pop * np.array([CRIME_LA_FACTOR.get(la, 1.0) for la in self.las])
        return weights / weights.sum()

    def _fy_area_total(self, fy: int) -> float:
        return sum(CRIME_BY_MONTH[m.year] for m in self.months if start_year(m) == fy)

    def _la_month_totals(self, month: date) -> np.ndarray:
        fy = start_year(month)
        area = int(round(CRIME_BY_MONTH[month.year] * self.scale))
        shares = self._la_crime_shares()
        if fy == 2007:  # Wigan rises by WIGAN_RISE (scaled) while every other district falls
            w = self.las.index(WIGAN)
            base_06 = shares[w] * self._fy_area_total(2006) * self.scale
            wigan_07 = (base_06 + WIGAN_RISE * self.scale) / (
                self._fy_area_total(2007) * self.scale
            )
            others = np.delete(shares, w)
            shares = np.insert(others / others.sum() * (1 - wigan_07), w, wigan_07)
        return split(area, shares)
