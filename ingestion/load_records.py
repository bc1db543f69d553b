"""The small records and names every step of a load shares (the bottom of the loader's
imports: ``loader`` -> ``reading``, ``workbooks``, ``staging``, ``duplicates``,
``validation``, ``registry`` -> this module and ``schema``)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from psycopg import sql

STAGING_SCHEMA = "landing"
LINE_COLUMN = "_line_number"


class FileRejected(Exception):
    """A file-level fault: the whole file is refused.

    ``countable``: whether its records can still be counted by the reader (a wrong
    header: yes; binary bytes, a directory: no, and ``rows_in`` is null)."""

    def __init__(self, reason: str, *, countable: bool = True) -> None:
        super().__init__(reason)
        self.countable = countable


@dataclass(frozen=True)
class RowFailure:
    """Why one row (by its line in the delivered file) cannot be loaded."""

    line: int
    field: str
    value: str | None
    reason: str


def staging_table(feed_name: str, load_id: int) -> str:
    """A load's staging table in ``landing`` (later its partition in ``raw``)."""
    return f"{feed_name}__{load_id}"


def ident(schema: str, table: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))


def sha256_of(path: Path) -> str:
    """The sha256 of a file's bytes, read in blocks (a delivered file, an extract)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
