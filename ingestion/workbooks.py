"""Workbooks (finance ``.xlsx``): the declared sheet, by name, written out as CSV.

The workbook's bytes are read once (their sha256 is the delivery's), the sheet the feed
declares is found by name (a Notes sheet before it changes nothing) and written out with
its row numbers kept, so quarantine line numbers are spreadsheet row numbers. A formula
cell (its cached result is not a delivered value and may be stale or absent), an error
cell (``#DIV/0!``) or a cell in a merged range (its value sits in one cell of the range
only) makes its row faulty: the row is quarantined naming the cell's column, never read as
empty.

A workbook is a zip of XML, and its size says little about the sheet it describes: one
cell at ``XFD1048576`` made the sheet 17 billion cells wide and tall, one merged range
``A3:XFD1048576`` made openpyxl create every cell of it (both ran for hours, GBs). So every
part is read once before the workbook is opened (``_check_shape``: its size unpacked, its
cells, their coordinates, its merged ranges), and the sheet is written from the cells it
holds, not from its extent: a row without a value (formatted, or between rows) is a blank
line, which is not a record, and a record is as wide as the header (a value beyond it
makes its row faulty).
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path
from typing import NoReturn
from xml.etree.ElementTree import ParseError, iterparse

from ingestion.load_records import FileRejected
from ingestion.schema import Feed

MAX_MERGED_CELLS = 10_000  # cells in merged ranges, all sheets together
# the parts' sizes unpacked, as the zip declares them (reading stops there): a few hundred
# KB of zip can unpack to GBs of XML, all held in memory by openpyxl. A year's ledger of
# 1 million rows is ~100 MB.
MAX_UNPACKED_BYTES = 256 * 1024 * 1024
# cells in all sheets: openpyxl holds ~400 bytes per cell (a 256 MB sheet of short cells
# is 19 million of them, ~7 GB); a ledger of 700,000 rows fits
MAX_CELLS = 5_000_000
MAX_ROW, MAX_COLUMN = 1_048_576, 16_384  # a sheet's last cell, XFD1048576


def workbook_as_csv(path: Path, feed: Feed, target: Path) -> tuple[str, dict]:
    """Write the feed's sheet of the workbook at ``path`` to ``target`` (CSV).

    Returns the workbook's sha256 and the faulty rows: line -> (field, reason)."""
    from openpyxl import load_workbook

    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    if not data:
        raise FileRejected("file is empty (0 bytes, no header)")
    try:
        _check_shape(data)
        book = load_workbook(io.BytesIO(data), data_only=False)
    except FileRejected:
        raise
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


def _check_shape(data: bytes) -> None:
    """Refuse a workbook too large to open: more than ``MAX_UNPACKED_BYTES`` unpacked,
    ``MAX_CELLS`` cells, a cell or row past ``XFD1048576``, or merged ranges covering more
    than ``MAX_MERGED_CELLS`` cells (openpyxl creates every cell of a range). Every part is
    read, whatever its name (openpyxl finds a sheet through the workbook's relationships),
    and references are read by openpyxl's own parser."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        unpacked = sum(item.file_size for item in archive.infolist())
        if unpacked > MAX_UNPACKED_BYTES:
            _refuse(f"workbook unpacks to {unpacked:,} bytes (at most {MAX_UNPACKED_BYTES:,})")
        tally = {"c": 0, "mergeCell": 0}
        for item in archive.infolist():
            with archive.open(item) as part:
                try:
                    for _, element in iterparse(part):
                        _tally(element, tally)
                        element.clear()
                except ParseError:  # not XML: not a part openpyxl reads as a sheet
                    continue


SHEET_NAMESPACES = (  # a worksheet's elements (transitional and strict Office Open XML)
    "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}",
    "{http://purl.oclc.org/ooxml/spreadsheetml/main}",
)


def _tally(element, tally: dict[str, int]) -> None:  # type: ignore[no-untyped-def]
    namespace, _, tag = element.tag.rpartition("}")
    if namespace + "}" not in SHEET_NAMESPACES:
        return
    ref = element.get("r") if tag in ("c", "row") else element.get("ref")
    if tag == "row" and ref is not None:
        if not ref.isdigit() or int(ref) > MAX_ROW:
            _refuse(f"workbook has a row numbered beyond {MAX_ROW:,}")
    elif tag == "c":
        tally["c"] += 1
        if tally["c"] > MAX_CELLS:
            _refuse(f"workbook has more than {MAX_CELLS:,} cells")
        if ref is not None:
            _bounds(ref, "a cell")
    elif tag == "mergeCell":
        low_col, low_row, high_col, high_row = _bounds(ref or "", "a merged range")
        tally["mergeCell"] += (high_col - low_col + 1) * (high_row - low_row + 1)
        if tally["mergeCell"] > MAX_MERGED_CELLS:
            _refuse(
                f"workbook's merged cells cover {tally['mergeCell']:,} cells (at most "
                f"{MAX_MERGED_CELLS:,})"
            )


def _bounds(ref: str, what: str) -> tuple[int, int, int, int]:
    """A reference's (first column, first row, last column, last row), within the sheet."""
    from openpyxl.utils.cell import range_boundaries

    try:
        bounds = range_boundaries(ref)
    except (ValueError, TypeError):
        _refuse(f"workbook has {what} whose reference cannot be read")
    if (
        None in bounds
        or max(bounds[0], bounds[2]) > MAX_COLUMN
        or max(bounds[1], bounds[3]) > MAX_ROW
    ):
        _refuse(f"workbook has {what} beyond the sheet's last cell (XFD{MAX_ROW})")
    return bounds  # type: ignore[return-value]


def _refuse(reason: str) -> NoReturn:
    raise FileRejected(reason, countable=False)


def _write_rows(sheet, target: Path) -> dict[int, tuple[str, str]]:  # type: ignore[no-untyped-def]
    """Write the sheet's rows as CSV from the cells it holds (CSV line n is sheet row n,
    from column 1 whatever the sheet's extent); returns the faulty rows: row -> (field,
    reason). A row without a value is a blank line (not a record)."""
    merged = {
        (row, col)
        for rng in sheet.merged_cells.ranges
        for row in range(rng.min_row, rng.max_row + 1)
        for col in range(rng.min_col, rng.max_col + 1)
    }
    rows: dict[int, dict[int, object]] = defaultdict(dict)
    for (row, col), cell in sheet._cells.items():  # only the cells the sheet holds
        rows[row][col] = cell
    faults: dict[int, tuple[str, str]] = {}
    header = _header(rows.get(1, {}))
    with target.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        for number in range(1, max((r for r, c in rows.items() if _valued(c)), default=0) + 1):
            cells = rows.get(number, {})
            for col, cell in cells.items():
                fault = _cell_fault(cell, (number, col) in merged)
                if fault and number > 1:
                    name = header[col - 1] if col <= len(header) else f"column {col}"
                    faults.setdefault(number, (name, fault))
            values = {c: cell.value for c, cell in cells.items() if cell.value not in (None, "")}
            beyond = [c for c in values if c > len(header)] if number > 1 else []
            if beyond:  # written as wide as the header: one far cell wrote 16,384 fields
                reason = f"value beyond the header's {len(header)} columns"
                faults.setdefault(number, (f"column {min(beyond)}", reason))
            if values or number in faults:  # a faulty row is a record, even without a value
                writer.writerow([_text(values.get(c)) for c in range(1, len(header) + 1)])
            else:
                f.write("\n")
    return faults


def _header(cells: dict[int, object]) -> list[str]:
    """Row 1's names, lower case, up to its last name."""
    width = max((c for c, cell in cells.items() if _text(cell.value).strip()), default=0)
    return [
        _text(getattr(cells.get(c), "value", None)).strip().lower() for c in range(1, width + 1)
    ]


def _valued(cells: dict[int, object]) -> bool:
    return any(
        getattr(c, "value", None) not in (None, "") or _cell_fault(c, False) for c in cells.values()
    )


def _text(value: object) -> str:
    return "" if value is None else cell_text(value)


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
