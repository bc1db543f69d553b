"""Files out: one CSV per feed and period (or one workbook per year), with dirt applied.

Rows arrive keyed by column name; the column order is the feed declaration's
(``ingestion/feeds/*.py``), so no part of the generator needs to know positions.
"""

from __future__ import annotations

import csv
import io
import operator
import re
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingestion.schema import Feed
from ingestion.synthetic.dirt import LOSSLESS, ROW_FAULTS, Dirt

Row = Mapping[str, str]
FIXED_TIME = (2009, 4, 1, 0, 0, 0)
# recorded crime is aggregate partnership data: its faults are ones the loader recovers
# from, so crime counts (and their small year-on-year changes) survive; the same for tier
# history: a lost tier row would turn a case into "no tier recorded", a figure
# commissioners read (the calibration's "missing" row)
LOSSLESS_FEEDS = ("gmac_crime", "ndelius_tier_history")


@dataclass
class GenerationReport:
    out_dir: Path
    files: dict[str, int] = field(default_factory=dict)  # file name -> data rows written

    @property
    def total_rows(self) -> int:
        return sum(self.files.values())


def ordered(feed: Feed, rows: Sequence[Row]) -> list[list[str]]:
    """The rows as lists in the feed's column order; a row missing a column is a bug."""
    header = feed.header
    values = operator.itemgetter(*header)  # one name: the value, not a tuple of it
    try:
        if len(header) == 1:
            return [[values(row)] for row in rows]
        return [list(values(row)) for row in rows]
    except KeyError as missing:
        raise ValueError(f"a generated {feed.name} row has no column {missing}") from None


class Writer:
    """One CSV per feed and period, with dirt applied, into ``<out>/<system>/``."""

    def __init__(
        self,
        out: Path,
        dirt: Dirt,
        report: GenerationReport,
        on_file: Callable[[str], None] | None = None,
        window: tuple[str, str] | None = None,
        drawn_dirt: Dirt | None = None,
    ) -> None:
        self.out = out
        self.dirt = dirt
        self.report = report
        self.on_file = on_file
        self.window = window
        self.drawn_dirt = drawn_dirt

    def wanted(self, first_month: str, last_month: str | None = None) -> bool:
        """Whether a file covering these months (``YYYY-MM``) falls in the window."""
        if self.window is None:
            return True
        return first_month <= self.window[1] and (last_month or first_month) >= self.window[0]

    def write(
        self, feed: Feed, period: str, rows: Sequence[Row], drawn: Sequence[Row] = ()
    ) -> Path | None:
        """``drawn``: rows appended after ``rows`` with dirt from ``drawn_dirt``, so adding
        them leaves the dirt of every other row (and file) as it was."""
        if not self.wanted(period):
            return None
        folder = self.out / feed.system
        folder.mkdir(parents=True, exist_ok=True)
        kinds = LOSSLESS if feed.name in LOSSLESS_FEEDS else ROW_FAULTS
        lines = self.dirt.rows(feed, ordered(feed, rows), kinds)
        if drawn:
            lines += (self.drawn_dirt or self.dirt).rows(feed, ordered(feed, drawn), kinds)
        path = folder / f"{feed.name}_{period}.csv"
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(feed.header)
            writer.writerows(lines)
        self.report.files[path.name] = len(lines)
        if self.on_file:
            self.on_file(path.name)
        return path

    def write_workbook(self, feed: Feed, name: str, rows: Sequence[Row]) -> Path:
        """One sheet (``feed.sheet``) as finance sends it: numbers as numbers."""
        from openpyxl import Workbook

        lines = self.dirt.rows(feed, ordered(feed, rows))
        book = Workbook(write_only=True)
        sheet = book.create_sheet(feed.sheet)
        sheet.append(feed.header)
        for line in lines:
            sheet.append([_cell(v) for v in line])
        folder = self.out / feed.system
        folder.mkdir(parents=True, exist_ok=True)
        save_workbook(book, folder / name)
        self.report.files[name] = len(lines)
        return folder / name


def save_workbook(book: Any, path: Path) -> None:
    """Save an openpyxl workbook byte-identically for the same content: openpyxl stamps
    the save time in docProps/core.xml and in every zip entry, so an unchanged ledger
    would otherwise arrive as a new delivery on every run."""
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
