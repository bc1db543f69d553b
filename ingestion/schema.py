"""Declared schemas: what each feed delivers, column by column.

A feed declaration is the single source of truth for a feed: the loader reads it for the
header check, type parsing and the raw table's DDL, and the Great Expectations suite in
``expectations/gx/<feed>.json`` is written from it (``warehouse expectations``) and checked
against it by a test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

ColumnType = Literal["text", "int", "numeric", "date", "bool", "score"]

PG_TYPES: dict[str, str] = {
    "text": "text",
    "int": "bigint",
    "numeric": "numeric",
    "date": "date",
    "bool": "boolean",
    "score": "smallint",  # an item score: 0, 1 or 2 (one grouped range rule in the suite)
}

DATE_REGEX = r"^\d{4}-\d{2}-\d{2}$"
INT_REGEX = r"^-?\d+$"
NUMERIC_REGEX = r"^-?\d+(\.\d+)?$"
BOOL_REGEX = r"^(0|1)$"

TYPE_REGEX: dict[str, str] = {
    "date": DATE_REGEX,
    "int": INT_REGEX,
    "numeric": NUMERIC_REGEX,
    "bool": BOOL_REGEX,
}


def monthly_csv(feed: str) -> str:
    """File naming of a monthly CSV delivery: ``<feed>_YYYY-MM.csv`` (group ``period``); a
    re-delivery of the same period adds a revision, ``<feed>_YYYY-MM_r2.csv``."""
    return rf"{feed}_(?P<period>\d{{4}}-\d{{2}})(?:_r\d+)?\.csv"


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

    @property
    def db_name(self) -> str:
        return self.name.lower()

    @property
    def pg_type(self) -> str:
        return PG_TYPES[self.type]


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
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def raw_table(self) -> str:
        return f"raw.{self.name}"

    @property
    def header(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.name} has no column {name}")

    def period_of(self, file_name: str) -> str | None:
        match = re.fullmatch(self.file_regex, file_name)
        return match.group("period") if match else None

    def matches(self, file_name: str) -> bool:
        return re.fullmatch(self.file_regex, file_name) is not None

    def delivery_order(self, file_name: str) -> tuple[str, int, str]:
        """Files load by period, then revision as a number: ``_r10`` after ``_r2`` (as
        text it sorts first, and the older revision would supersede the newer)."""
        revision = re.search(r"_r(\d+)\.[A-Za-z]+$", file_name)
        return (
            self.period_of(file_name) or "",
            int(revision.group(1)) if revision else 1,
            file_name,
        )


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
