"""Workbooks (finance ``.xlsx``): the declared sheet, by name, written out as CSV.

The workbook's bytes are read once (their sha256 is the delivery's), the sheet the feed
declares is found by name (a Notes sheet before it changes nothing) and written out with
its row numbers kept, so quarantine line numbers are spreadsheet row numbers. A formula
cell (its cached result is not a delivered value and may be stale or absent), an error
cell (``#DIV/0!``) or a cell in a merged range (its value sits in one cell of the range
only) makes its row faulty: the row is quarantined naming the cell's column, never read as
empty.
"""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import date, datetime
from pathlib import Path

from ingestion.load_records import FileRejected
from ingestion.schema import Feed


def workbook_as_csv(path: Path, feed: Feed, target: Path) -> tuple[str, dict]:
    """Write the feed's sheet of the workbook at ``path`` to ``target`` (CSV).

    Returns the workbook's sha256 and the faulty rows: line -> (field, reason)."""
    from openpyxl import load_workbook

    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    if not data:
        raise FileRejected("file is empty (0 bytes, no header)")
    try:
        book = load_workbook(io.BytesIO(data), data_only=False)
    except Exception as exc:  # zip, XML or format errors: the workbook cannot be read
        raise FileRejected(
            f"workbook cannot be read ({type(exc).__name__})", countable=False
        ) from None
    try:
        sheet = _sheet(book, feed)
        faults = _write_rows(sheet, target)
    finally:
        book.close()
    if target.stat().st_size == 0:
        # the declared sheet's name, never the workbook's own (delivered text)
        which = f"sheet {feed.sheet!r}" if feed.sheet else "first sheet"
        raise FileRejected(f"workbook's {which} is empty (no header)")
    return sha, faults


def _sheet(book, feed: Feed):  # type: ignore[no-untyped-def]
    """The sheet the feed declares, by name (the first one if it declares none)."""
    if not feed.sheet:
        return book.worksheets[0]
    if feed.sheet not in book.sheetnames:
        raise FileRejected(
            f"workbook has no sheet named {feed.sheet!r} (it has {len(book.sheetnames)} sheet(s))",
            countable=False,
        )
    return book[feed.sheet]


def _write_rows(sheet, target: Path) -> dict[int, tuple[str, str]]:  # type: ignore[no-untyped-def]
    """Write the sheet's rows as CSV (from row and column 1 whatever the sheet's extent,
    so CSV line n is sheet row n); returns the faulty rows: row -> (field, reason)."""
    merged = {
        (row, col)
        for rng in sheet.merged_cells.ranges
        for row in range(rng.min_row, rng.max_row + 1)
        for col in range(rng.min_col, rng.max_col + 1)
    }
    faults: dict[int, tuple[str, str]] = {}
    header: list[str] = []
    with target.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        for cells in sheet.iter_rows(min_row=1, min_col=1):
            for cell in cells if cells and cells[0].row == 1 else ():
                header.append("" if cell.value is None else str(cell.value).strip().lower())
            for cell in cells:
                fault = _cell_fault(cell, (cell.row, cell.column) in merged)
                if fault and cell.row > 1:
                    col = cell.column - 1
                    name = header[col] if col < len(header) else f"column {cell.column}"
                    faults.setdefault(cell.row, (name, fault))
            writer.writerow(["" if c.value is None else cell_text(c.value) for c in cells])
    return faults


def _cell_fault(cell, merged: bool) -> str | None:  # type: ignore[no-untyped-def]
    if merged:
        return "merged cell (value not in every cell)"
    if cell.data_type == "f":
        return "formula cell (not a delivered value)"
    if cell.data_type == "e":
        return "error cell (e.g. #DIV/0!)"
    return None


def cell_text(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
