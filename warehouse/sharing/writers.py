"""Writing a delivery's files: CSV, Parquet or XLSX, each readable by its owner only and
byte-identical for the same rows (no timestamps inside files). A suppressed figure is
``HIDDEN_TEXT`` in CSV and XLSX; in Parquet it is null with ``<column>_suppressed`` true.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from decimal import Decimal
from pathlib import Path

from warehouse import secret_files
from warehouse.sharing.disclosure import SUPPRESSED

HIDDEN_TEXT = "*"  # a suppressed figure in CSV and XLSX; empty means not applicable
SUPPRESSED_SUFFIX = "_suppressed"  # Parquet: the figure is null and <column>_suppressed true


# -- writing --------------------------------------------------------------------------------
def _text(v: object) -> str:
    if v is SUPPRESSED:
        return HIDDEN_TEXT
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, Decimal):
        return format(v.normalize(), "f") if v == v.to_integral() else str(v)
    return str(v)


def private(path: Path, data: bytes) -> None:
    """Write a delivered file readable by this user only."""
    secret_files.write_private(path, data)


def _write_csv(path: Path, cols, rows, controlled) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in rows:
        w.writerow([_text(v) for v in r])
    private(path, buf.getvalue().encode())


def _write_parquet(path: Path, cols, rows, controlled) -> None:
    """Nulls are 'not applicable'; a suppressed figure is null with ``<col>_suppressed``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = list(zip(*rows, strict=True)) if rows else [() for _ in cols]
    data = {}
    for c, values in zip(cols, columns, strict=True):
        data[c] = [_plain(v) for v in values]
        if c in controlled:
            data[c + SUPPRESSED_SUFFIX] = [v is SUPPRESSED for v in values]
    buf = io.BytesIO()
    pq.write_table(pa.table(data), buf, compression="zstd")
    private(path, buf.getvalue())


def _plain(v):
    if v is None or v is SUPPRESSED:
        return None
    if isinstance(v, Decimal):
        return float(v)
    return v if isinstance(v, (int, float, bool, str)) else str(v)


def _write_xlsx(path: Path, cols, rows, controlled) -> None:
    from datetime import datetime

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = path.stem[:31]
    ws.append(cols)
    for r in rows:
        ws.append([HIDDEN_TEXT if v is SUPPRESSED else _plain(v) for v in r])
    fixed = datetime(2000, 1, 1)
    wb.properties.created = wb.properties.modified = fixed
    wb.properties.creator = "probation-warehouse"
    tmp = io.BytesIO()
    wb.save(tmp)
    # openpyxl stamps each zip entry with the current time: rewrite them with a fixed one
    out = io.BytesIO()
    with zipfile.ZipFile(tmp) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps the save time here
                data = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2000-01-01T00:00:00Z", data
                )
            entry = zipfile.ZipInfo(info.filename, (1980, 1, 1, 0, 0, 0))
            dst.writestr(entry, data, zipfile.ZIP_DEFLATED)
    private(path, out.getvalue())


WRITERS = {"csv": _write_csv, "parquet": _write_parquet, "xlsx": _write_xlsx}


def file_schema(cols, types, controlled, fmt: str) -> list[tuple[str, str]]:
    """(name, type) of each column of the written file: Parquet adds the suppressed flags."""
    out = []
    for c, t in zip(cols, types, strict=True):
        out.append((c, t))
        if fmt == "parquet" and c in controlled:
            out.append((c + SUPPRESSED_SUFFIX, "boolean"))
    return out
