"""Declared schemas: what each feed delivers, column by column.

A feed declaration is the single source of truth for a feed: the loader reads it for the
header check, type parsing and the raw table's DDL, and the Great Expectations suite in
``expectations/gx/<feed>.json`` is written from it (``warehouse expectations``) and checked
against it by a test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from ingestion import financial_year

ColumnType = Literal["text", "int", "numeric", "date", "bool", "score"]

PG_TYPES: dict[str, str] = {
    "text": "text",
    "int": "bigint",
    "numeric": "numeric",
    "date": "date",
    "bool": "boolean",
    "score": "smallint",  # an item score: 0, 1 or 2 (one grouped range rule in the suite)
}

# The only text each typed column accepts (checked in SQL on the staging table before any
# cast: PostgreSQL's own casts are lenient, e.g. '03/02/2008', '+5', '0x10', 'yes', 'NaN').
# ASCII digits only: [0-9], never \d (which matches full-width and other digits).
# The digit counts bound whole numbers to what their column holds, so only dates (a real
# day) and numbers (at most PostgreSQL's digits) need a cast check on top of the regex.
STRICT_FORMATS: dict[str, tuple[str, str, bool]] = {  # type -> (regex, reason's word, cast?)
    "date": (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", "date (YYYY-MM-DD)", True),
    "int": (r"^-?[0-9]{1,18}$", "whole number (up to 18 digits)", False),  # bigint
    "score": (r"^-?[0-9]{1,4}$", "whole number (up to 4 digits)", False),  # smallint
    "numeric": (r"^-?[0-9]+(\.[0-9]+)?$", "number (digits, optional decimals)", True),
}
DEFAULT_TEXT_LENGTH = 200  # characters, unless a column declares its own maximum

# Delivery periods: a file's period must be a real month (or financial year) within this
# many months of the feed's declared coverage (a typo such as 2099-12 is refused).
PERIOD_SLACK_MONTHS = 24
DEFAULT_COVERAGE = ("2004-04", "2009-03")  # first and last month the source systems hold


def monthly_csv(feed: str) -> str:
    """File naming of a monthly CSV delivery: ``<feed>_YYYY-MM.csv`` (group ``period``); a
    re-delivery of the same period adds a revision, ``<feed>_YYYY-MM_r2.csv``."""
    return rf"{feed}_(?P<period>[0-9]{{4}}-[0-9]{{2}})(?:_r[0-9]+)?\.csv"


@dataclass(frozen=True)
class Column:
    """One delivered column (``name`` as in the file's header, upper case)."""

    name: str
    type: ColumnType = "text"
    required: bool = False
    codes: tuple[str, ...] | None = None
    pattern: str | None = None
    min_value: float | str | None = None
    max_value: float | str | None = None
    personal: bool = False  # a direct identifier: never logged, never shared
    max_length: int | None = None  # text: characters (default DEFAULT_TEXT_LENGTH)
    bool_values: tuple[str, str] = ("1", "0")  # bool: the (true, false) texts delivered

    @property
    def db_name(self) -> str:
        return self.name.lower()

    @property
    def pg_type(self) -> str:
        return PG_TYPES[self.type]

    @property
    def text_limit(self) -> int | None:
        if self.type != "text":
            return None
        return self.max_length or DEFAULT_TEXT_LENGTH


@dataclass(frozen=True)
class Feed:
    """A file feed from one source system."""

    name: str  # e.g. "ndelius_offenders": also the raw table name
    system: str  # e.g. "ndelius"
    description: str
    file_regex: str  # must capture a named group "period"
    columns: tuple[Column, ...]
    unique_key: tuple[str, ...] = ()
    file_format: Literal["csv", "xlsx"] = "csv"
    sheet: str | None = None  # workbooks: the sheet holding the records, by name
    # the source's row-version column: a key delivered twice in one file is a duplicate
    # only with the same version (a sentence that starts and ends in one month is two
    # versions of one disposal, and its termination must load)
    version_column: str | None = None
    period_kind: Literal["month", "financial_year"] = "month"
    coverage: tuple[str, str] = DEFAULT_COVERAGE
    period_slack_months: int = PERIOD_SLACK_MONTHS
    # a column holding each row's own month (YYYY-MM): it must lie in the file's period (a
    # monthly file's month, or a financial year's twelve), else the row would land in, and
    # be superseded with, a period it does not belong to
    period_column: str | None = None

    @property
    def raw_table(self) -> str:
        return f"raw.{self.name}"

    @property
    def change_keys(self) -> tuple[str, ...]:
        """The columns (database names) by which the rows of a superseded load are
        remembered (``audit.superseded_keys``): the feed's key and every id column, never
        a personal one. An incremental model watching the feed by one of them rebuilds
        those keys too, since no new row may carry them (a row left out of a corrected
        re-delivery)."""
        return tuple(
            c.db_name
            for c in self.columns
            if not c.personal and (c.name in self.unique_key or c.name.endswith("_ID"))
        )

    @property
    def header(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.name} has no column {name}")

    @property
    def duplicate_key(self) -> tuple[str, ...]:
        """The in-file duplicate check's key: the unique key plus the row version."""
        if self.version_column and self.unique_key:
            return (*self.unique_key, self.version_column)
        return self.unique_key

    def period_of(self, file_name: str) -> str | None:
        match = re.fullmatch(self.file_regex, file_name, re.ASCII)
        return match.group("period") if match else None

    def matches(self, file_name: str) -> bool:
        return re.fullmatch(self.file_regex, file_name, re.ASCII) is not None

    def months_of(self, period: str) -> list[str]:
        """The months (``YYYY-MM``) a file of ``period`` may hold rows of."""
        if self.period_kind == "financial_year":
            first = f"{period[:4]}-{financial_year.FIRST_MONTH:02d}"
            return [_shift(first, n) for n in range(12)]
        return [period]

    def period_problem(self, period: str | None) -> str | None:
        """Why a file's period is not acceptable (None: it is)."""
        if period is None:
            return None
        year, second = (int(p) for p in period.split("-"))
        if self.period_kind == "financial_year":
            if financial_year.parse(period) is None:
                return f"period {period} is not a financial year (YYYY-YY, consecutive years)"
            first_month = f"{year:04d}-{financial_year.FIRST_MONTH:02d}"
        else:
            if not 1 <= second <= 12:
                return f"period {period} is not a real month"
            first_month = period
        low = _shift(self.coverage[0], -self.period_slack_months)
        high = _shift(self.coverage[1], self.period_slack_months)
        if not low <= first_month <= high:
            return (
                f"period {period} is outside the feed's window {low} to {high} "
                f"(coverage {self.coverage[0]} to {self.coverage[1]}, "
                f"+/- {self.period_slack_months} months)"
            )
        return None

    def delivery_order(self, file_name: str) -> tuple[str, int, str]:
        """Files load by period, then revision as a number: ``_r10`` after ``_r2`` (as
        text it sorts first, and the older revision would supersede the newer)."""
        revision = re.search(r"_r([0-9]+)\.[A-Za-z]+$", file_name)
        return (
            self.period_of(file_name) or "",
            int(revision.group(1)) if revision else 1,
            file_name,
        )


def _shift(month: str, months: int) -> str:
    """``YYYY-MM`` moved by ``months``."""
    year, mon = (int(p) for p in month.split("-"))
    index = year * 12 + mon - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


LINEAGE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("_load_id", "bigint not null"),
    ("_source_file", "text not null"),
    ("_line_number", "integer not null"),
    ("_loaded_at", "timestamptz not null"),
)


def raw_table_ddl(feed: Feed) -> str:
    """``create table if not exists`` for the feed's raw table (typed, plus lineage).

    Partitioned by load: each file's rows are one partition, attached when its load commits
    and dropped when a corrected delivery supersedes it.
    """
    cols = [f"    {c.db_name} {c.pg_type}" for c in feed.columns]
    cols += [f"    {name} {ddl}" for name, ddl in LINEAGE_COLUMNS]
    body = ",\n".join(cols)
    return (
        f"create table if not exists {feed.raw_table} (\n{body}\n) partition by list (_load_id);\n"
        f"comment on table {feed.raw_table} is "
        f"'{feed.system}: {feed.description.replace(chr(39), chr(39) * 2)} "
        "(one partition per loaded file)';\n"
    )
