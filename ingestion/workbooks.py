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
        if feed.sheet and feed.sheet in book.sheetnames:
            sheet = book[feed.sheet]
        elif feed.sheet:
            raise FileRejected(
                f"workbook has no sheet named {feed.sheet!r} "
                f"(it has {len(book.sheetnames)} sheet(s))",
                countable=False,
            )
        else:
            sheet = book.worksheets[0]
        merged: set[tuple[int, int]] = set()
        for rng in sheet.merged_cells.ranges:
            for row in range(rng.min_row, rng.max_row + 1):
                for col in range(rng.min_col, rng.max_col + 1):
                    merged.add((row, col))
        faults: dict[int, tuple[str, str]] = {}
        header: list[str] = []
        with target.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, lineterminator="\n")
            # from row and column 1 whatever the sheet's extent: CSV line n is sheet row n
            for cells in sheet.iter_rows(min_row=1, min_col=1):
                values = []
                for cell in cells:
                    row, col = cell.row, cell.column
                    value = cell.value
                    if row == 1:
                        header.append("" if value is None else str(value).strip().lower())
                    name = header[col - 1] if col - 1 < len(header) else f"column {col}"
                    if (row, col) in merged and row > 1:
                        faults.setdefault(row, (name, "merged cell (value not in every cell)"))
                    elif cell.data_type == "f":
                        faults.setdefault(row, (name, "formula cell (not a delivered value)"))
                    elif cell.data_type == "e":
                        faults.setdefault(row, (name, "error cell (e.g. #DIV/0!)"))
                    values.append("" if value is None else cell_text(value))
                writer.writerow(values)
    finally:
        book.close()
    if target.stat().st_size == 0:
        raise FileRejected(f"workbook's sheet {sheet.title!r} is empty (no header)")
    return sha, faults


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
