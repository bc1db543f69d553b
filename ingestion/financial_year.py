"""Financial years (1 April to 31 March): the one Python definition.

A financial year is named by its two calendar years: ``2008/09`` in the marts (the dbt
macro ``financial_year``, dbt_project/macros/financial_year.sql) and ``2008-09`` in file
names and on the command line.
"""

from __future__ import annotations

import re
from datetime import date

FIRST_MONTH = 4  # April


def start_year(day: date) -> int:
    """The calendar year in which the financial year holding ``day`` starts."""
    return day.year if day.month >= FIRST_MONTH else day.year - 1


def label(start: int, sep: str = "/") -> str:
    """``2008`` -> ``2008/09`` (or ``2008-09`` with ``sep="-"``)."""
    return f"{start:04d}{sep}{(start + 1) % 100:02d}"


def of_date(day: date, sep: str = "/") -> str:
    """The financial year holding ``day``, e.g. ``2008/09``."""
    return label(start_year(day), sep)


def parse(text: str, sep: str = "-") -> int | None:
    """The start year of a financial year written ``2008-09`` (None: not one; the two years
    must be consecutive)."""
    m = re.fullmatch(rf"([0-9]{{4}}){re.escape(sep)}([0-9]{{2}})", text)
    if not m or (int(m.group(1)) + 1) % 100 != int(m.group(2)):
        return None
    return int(m.group(1))


def month_index(day: date) -> int:
    """The place of ``day``'s month in its financial year: 0 for April ... 11 for March."""
    return (day.month - FIRST_MONTH) % 12


def first_day(start: int) -> date:
    """1 April of the financial year that starts in ``start``."""
    return date(start, FIRST_MONTH, 1)
