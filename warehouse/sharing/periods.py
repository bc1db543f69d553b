"""Delivery periods: a financial year as the command line and the share DAGs name it
(``2008-09``) and as the marts hold it (``2008/09``); the error every sharing step raises."""

from __future__ import annotations

from typing import Any

from ingestion import financial_year as fyear


class ShareError(RuntimeError):
    pass


def financial_year(period: str) -> str:
    """``2008-09`` (as on the command line) -> ``2008/09`` (as in the marts)."""
    start = fyear.parse(period)
    if start is None:
        raise ShareError(f"period {period!r}: expected a financial year like 2008-09")
    return fyear.label(start)


def period_holding(day: Any) -> str:
    """The financial year holding ``day`` (a run's logical date), as ``2008-09``."""
    return fyear.of_date(day, sep="-")
