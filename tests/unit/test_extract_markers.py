"""A suppressed figure and a not-applicable one are different in every delivered format."""

from __future__ import annotations

import csv
import io

import pytest

from warehouse.sharing.disclosure import SUPPRESSED
from warehouse.sharing.writers import HIDDEN_TEXT, SUPPRESSED_SUFFIX, WRITERS

COLS = ["group", "count", "rate"]
ROWS = [("a", 40, 0.5), ("b", SUPPRESSED, SUPPRESSED), ("c", 0, None)]


def _read(path):
    if path.suffix == ".csv":
        return list(csv.reader(io.StringIO(path.read_text())))
    if path.suffix == ".xlsx":
        from openpyxl import load_workbook

        return [list(r) for r in load_workbook(path).active.iter_rows(values_only=True)]
    import pyarrow.parquet as pq

    t = pq.read_table(path)
    return [t.column_names] + [list(r.values()) for r in t.to_pylist()]


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_suppressed_and_not_applicable_are_told_apart(tmp_path, fmt):
    path = tmp_path / f"x.{fmt}"
    WRITERS[fmt](path, COLS, ROWS, ["count", "rate"])
    header, *rows = _read(path)
    by_group = {r[0]: dict(zip(header, r, strict=True)) for r in rows}
    if fmt == "parquet":
        assert by_group["b"]["count"] is None and by_group["b"]["count" + SUPPRESSED_SUFFIX]
        assert by_group["c"]["rate"] is None and not by_group["c"]["rate" + SUPPRESSED_SUFFIX]
        assert by_group["c"]["count"] == 0
    else:
        assert by_group["b"]["count"] == HIDDEN_TEXT and by_group["b"]["rate"] == HIDDEN_TEXT
        assert by_group["c"]["rate"] in ("", None)  # empty: not applicable
        assert str(by_group["c"]["count"]) == "0"
