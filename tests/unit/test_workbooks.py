"""Workbooks as CSV: hostile sheet shapes stay cheap (``ingestion.workbooks``)."""

from __future__ import annotations

import io
import zipfile

import pytest
from openpyxl import Workbook
from openpyxl.styles import Font

from ingestion.feeds.partners import FINANCE_LEDGER
from ingestion.load_records import FileRejected
from ingestion.workbooks import MAX_MERGED_CELLS, workbook_as_csv

ROW = ["2007-04", "UPW-01", "UPW", "B10", "STAFF", "100.00", ""]


def _ledger(path, extra=None, merged=None):  # type: ignore[no-untyped-def]
    book = Workbook()
    sheet = book.active
    sheet.title = "Ledger"
    sheet.append(FINANCE_LEDGER.header)
    sheet.append(ROW)
    if extra:
        extra(sheet)
    buffer = io.BytesIO()
    book.save(buffer)
    data = buffer.getvalue()
    if merged:  # written into the XML: openpyxl would create every cell of the range
        data = _with_merged_range(data, merged)
    path.write_bytes(data)
    return path


def _with_merged_range(data: bytes, ref: str) -> bytes:
    cells = f'<mergeCells count="1"><mergeCell ref="{ref}"/></mergeCells>'
    return _edit_sheet(
        data, lambda xml: xml.replace(b"</sheetData>", b"</sheetData>" + cells.encode())
    )


def _edit_sheet(data: bytes, edit, rename=None) -> bytes:  # type: ignore[no-untyped-def]
    """The workbook with its sheet's XML edited (and the part renamed, its relationship
    following)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            part, name = src.read(item.filename), item.filename
            if name == "xl/worksheets/sheet1.xml":
                part, name = edit(part), rename or name
            if rename and name == "xl/_rels/workbook.xml.rels":
                part = part.replace(b"/xl/worksheets/sheet1.xml", b"/" + rename.encode())
                part = part.replace(b"worksheets/sheet1.xml", rename.removeprefix("xl/").encode())
            dst.writestr(name, part)
    return out.getvalue()


def _lines(path):  # type: ignore[no-untyped-def]
    return path.read_text().split("\n")


def test_a_merged_range_over_the_whole_sheet_is_refused_before_it_is_opened(tmp_path):
    # GIVEN a 6 KB workbook whose one merged range covers 17 billion cells (opening it
    # created every cell: hours, GBs)
    path = _ledger(tmp_path / "finance_ledger_2007-08.xlsx", merged="A3:XFD1048576")
    # THEN it is refused at once, naming the cells covered and the limit
    with pytest.raises(FileRejected, match="merged cells cover 17,179,836,416 cells") as caught:
        workbook_as_csv(path, FINANCE_LEDGER, tmp_path / "out.csv")
    assert f"{MAX_MERGED_CELLS:,}" in str(caught.value)


def test_a_small_merged_range_still_opens_and_marks_its_row(tmp_path):
    path = _ledger(tmp_path / "finance_ledger_2007-08.xlsx", merged="B2:C2")
    _, faults = workbook_as_csv(path, FINANCE_LEDGER, tmp_path / "out.csv")
    assert faults == {2: ("cost_centre", "merged cell (value not in every cell)")}


def test_a_value_in_the_last_cell_of_the_sheet_is_one_malformed_row(tmp_path):
    # GIVEN a value at XFD1048576 (the sheet's extent became 17 billion cells)
    path = _ledger(
        tmp_path / "finance_ledger_2007-08.xlsx", extra=lambda s: s.cell(1048576, 16384, "x")
    )
    target = tmp_path / "out.csv"
    _, faults = workbook_as_csv(path, FINANCE_LEDGER, target)
    lines = _lines(target)
    # THEN the delivered row keeps its width (an empty last cell included), the rows
    # between are blank lines, and the far row is a record as wide as the header, faulty
    # naming the far column (16,384 fields a row filled the disk: a GB per 60,000 rows)
    assert lines[1] == ",".join(ROW)
    assert set(lines[2:1048575]) == {""}
    assert lines[1048575] == "," * 6
    assert faults == {1048576: ("column 16384", "value beyond the header's 7 columns")}
    assert target.stat().st_size < 2_000_000


def test_formatted_rows_without_a_value_are_not_records(tmp_path):
    def formatted(sheet):  # type: ignore[no-untyped-def]
        for row in (3, 4, 5):
            sheet.cell(row=row, column=1).font = Font(bold=True)
        sheet.cell(row=1048576, column=16384).font = Font(bold=True)

    path = _ledger(tmp_path / "finance_ledger_2007-08.xlsx", extra=formatted)
    target = tmp_path / "out.csv"
    workbook_as_csv(path, FINANCE_LEDGER, target)
    # THEN only the header and the one record are written
    assert _lines(target) == [",".join(FINANCE_LEDGER.header), ",".join(ROW), ""]


def test_a_workbook_that_unpacks_beyond_the_limit_is_refused_unopened(tmp_path, monkeypatch):
    from ingestion import workbooks

    # GIVEN a limit of 100 KB and a 10 KB workbook whose sheet unpacks to 2 MB (the same
    # shape as 300 KB of zip unpacking to GBs of XML)
    monkeypatch.setattr(workbooks, "MAX_UNPACKED_BYTES", 100_000)
    path = _ledger(tmp_path / "finance_ledger_2007-08.xlsx", merged="B2:C2")
    padded = io.BytesIO()
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(padded, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            part = src.read(item.filename)
            if item.filename.startswith("xl/worksheets/sheet"):
                part = part.replace(b"</sheetData>", b" " * 2_000_000 + b"</sheetData>")
            dst.writestr(item.filename, part)
    path.write_bytes(padded.getvalue())
    assert path.stat().st_size < 20_000
    # THEN it is refused before it is read, naming its unpacked size and the limit
    with pytest.raises(FileRejected, match=r"unpacks to 2,0[0-9,]+ bytes \(at most 100,000"):
        workbook_as_csv(path, FINANCE_LEDGER, tmp_path / "out.csv")


@pytest.mark.parametrize(
    ("ref", "rename"),
    [
        ("a3:xfd1048576", None),  # lower case: openpyxl reads it all the same
        ("A3:XFD1048576", "xl/worksheets/sheet1.XML"),
        ("A3:XFD1048576", "xl/data/s.bin"),  # a sheet is found by relationship, not name
    ],
)
def test_a_merged_range_in_any_spelling_or_part_is_measured(tmp_path, ref, rename):
    path = _ledger(tmp_path / "finance_ledger_2007-08.xlsx")
    cells = f'<mergeCells count="1"><mergeCell ref="{ref}"/></mergeCells>'
    path.write_bytes(
        _edit_sheet(
            path.read_bytes(),
            lambda xml: xml.replace(b"</sheetData>", b"</sheetData>" + cells.encode()),
            rename,
        )
    )
    with pytest.raises(FileRejected, match="merged cells cover 17,179,836,416 cells"):
        workbook_as_csv(path, FINANCE_LEDGER, tmp_path / "out.csv")


@pytest.mark.parametrize("cell", ['<c r="A1000000000000"><v>1</v></c>', '<c r="XFE2"><v>1</v></c>'])
def test_a_cell_beyond_the_sheets_last_cell_is_refused(tmp_path, cell):
    # GIVEN a cell openpyxl would place at row 10^12 (one blank line per row: a terabyte)
    path = _ledger(tmp_path / "finance_ledger_2007-08.xlsx")
    row = f'<row r="3">{cell}</row></sheetData>'.encode()
    path.write_bytes(_edit_sheet(path.read_bytes(), lambda xml: xml.replace(b"</sheetData>", row)))
    with pytest.raises(FileRejected, match="beyond the sheet's last cell"):
        workbook_as_csv(path, FINANCE_LEDGER, tmp_path / "out.csv")


def test_a_workbook_of_more_cells_than_the_limit_is_refused_unopened(tmp_path, monkeypatch):
    from ingestion import workbooks

    monkeypatch.setattr(workbooks, "MAX_CELLS", 10)  # the ledger has 14 (header and a row)
    path = _ledger(tmp_path / "finance_ledger_2007-08.xlsx")
    with pytest.raises(FileRejected, match="more than 10 cells"):
        workbook_as_csv(path, FINANCE_LEDGER, tmp_path / "out.csv")
