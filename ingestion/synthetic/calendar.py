"""Months, financial years and ages: the date arithmetic every part of the generator shares."""

from __future__ import annotations

from datetime import date

FIRST_MONTH = date(2004, 4, 1)  # two years of history before the first year reported
LAST_MONTH = date(2009, 3, 1)
FIRST_REPORTED_MONTH = date(2006, 4, 1)  # partner feeds start with the first year reported
END = date(2009, 4, 1)  # the first day after the simulated period


def month_after(m: date, n: int = 1) -> date:
    y, mm = divmod(m.month - 1 + n, 12)
    return date(m.year + y, mm + 1, 1)


def months(first: date = FIRST_MONTH, last: date = LAST_MONTH) -> list[date]:
    """The first days of the months from ``first`` to ``last``, both included."""
    out, m = [], first
    while m <= last:
        out.append(m)
        m = month_after(m)
    return out


def days_in(month: date) -> int:
    return (month_after(month) - month).days


def age_on(birth: date, day: date) -> int:
    """Whole years (PostgreSQL's ``extract(year from age(day, birth))``)."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def one_year_after(day: date) -> date:
    """The same date a year later (29 February -> 28 February)."""
    try:
        return day.replace(year=day.year + 1)
    except ValueError:
        return day.replace(year=day.year + 1, day=28)


def age_band(age: int) -> str:
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
