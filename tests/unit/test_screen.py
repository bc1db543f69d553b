"""The format screen never passes a value the exact (SQL) check would refuse, and passes the
plain values a supplier's system writes (otherwise every record would go the slow way)."""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pytest

from ingestion.layout import record_layout
from ingestion.reading import ReadStats, _faults
from ingestion.schema import STRICT_FORMATS, Column
from ingestion.screen import FormatScreen

HOSTILE = [
    "",
    "0",
    "7",
    "-3",
    "+5",
    "-",
    "--5",
    "5-",
    "0x10",
    "1_000",
    "1e3",
    "1e309",
    "NaN",
    "Infinity",
    "-Infinity",
    " 5",
    "5 ",
    "1,5",
    "1.5",
    ".5",
    "5.",
    "-.5",
    "5..5",
    "1.2.3",
    "123456789012345678",
    "1234567890123456789",
    "-123456789012345678",
    "00012",
    "9999",
    "12345",
    "2008-02-15",
    "2008-02-29",
    "2007-02-29",
    "2000-02-29",
    "1900-02-29",
    "2008-13-01",
    "2008-00-10",
    "2008-04-31",
    "2008-04-30",
    "0000-01-01",
    "2008-1-05",
    "20080215",
    "03/02/2008",
    "J2454512",
    "2008/02/15",
    "2008-02-15T00:00",
    "yes",
    "on",
    "TRUE",
    "t",
    "1",
    "0",
    "2",
    "10",
    '"5"',
    "\u0661\u0662",
    "５",
    "1\u00a0",
    "x" * 200,
    "x" * 201,
    "é" * 150,
    "0.0000001",
    "-0",
    "99999999999999999999999999999",
]
COLUMNS = [
    Column("A_INT", "int"),
    Column("A_SCORE", "score"),
    Column("A_NUM", "numeric"),
    Column("A_DATE", "date"),
    Column("A_BOOL", "bool"),
    Column("A_TEXT"),
]


def exact(col: Column, value: str) -> bool:
    """The exact check's verdict (staging._valid), in Python."""
    value_t = value.strip(" ") or None
    if col.type == "text":
        return len(value) <= col.text_limit
    if value_t is None:
        return True
    if col.type == "bool":
        return value_t in col.bool_values
    regex = STRICT_FORMATS[col.type][0]
    if not re.fullmatch(regex, value_t):
        return False
    if col.type == "date":
        try:
            return date.fromisoformat(value_t).year >= 1
        except ValueError:
            return False
    return True


def screened(col: Column, values: list[str]) -> list[bool]:
    """The screen's verdict on one-column records (each value written as a CSV field)."""
    fields = [('"' + v.replace('"', '""') + '"') if ("," in v or '"' in v) else v for v in values]
    data = "".join(f"{f},x\n" for f in fields).encode()
    lay = record_layout(data, 2, True)
    reasons, separators = _faults(lay, 2, ReadStats())
    assert not reasons
    screen = FormatScreen((col, Column("PAD")), [col.name, "PAD"])
    return screen.certain(lay.arr, lay.starts, lay.ends, separators).tolist()


@pytest.mark.parametrize("col", COLUMNS, ids=lambda c: c.type)
def test_the_screen_never_passes_what_the_exact_check_refuses(col: Column) -> None:
    verdicts = screened(col, HOSTILE)
    let_through = [v for v, ok in zip(HOSTILE, verdicts, strict=True) if ok and not exact(col, v)]
    assert let_through == []


@pytest.mark.parametrize(
    ("col", "plain"),
    [
        (COLUMNS[0], ["0", "7", "-3", "123456789012345678"]),
        (COLUMNS[1], ["0", "2", "9999"]),
        (COLUMNS[2], ["1.5", "-3", "0.0000001", "12345678.12"]),
        (COLUMNS[3], ["2008-02-15", "2008-02-29", "2000-02-29", "1910-01-01"]),
        (COLUMNS[4], ["1", "0", ""]),
        (COLUMNS[5], ["Smith", "x" * 200, ""]),
    ],
    ids=lambda x: x.type if isinstance(x, Column) else "",
)
def test_plain_values_pass_the_screen(col: Column, plain: list[str]) -> None:
    assert screened(col, plain) == [True] * len(plain)


def test_a_column_in_a_different_place_in_the_header_is_screened_as_itself() -> None:
    cols = (Column("D", "date"), Column("N", "int"))
    data = b"12,2008-02-15\n2008-02-15,12\n"
    lay = record_layout(data, 2, True)
    _, separators = _faults(lay, 2, ReadStats())
    screen = FormatScreen(cols, ["N", "D"])  # the file's order, not the feed's
    assert screen.certain(lay.arr, lay.starts, lay.ends, separators).tolist() == [True, False]


def test_bool_columns_with_longer_texts_send_every_record_the_exact_way() -> None:
    col = Column("B", "bool", bool_values=("Y", "N"))
    assert screened(col, ["Y", "N"]) == [True, True]
    col = Column("B", "bool", bool_values=("YES", "NO"))
    assert screened(col, ["YES", "NO"]) == [False, False]
    assert np.array(screened(Column("B", "bool"), ["1", "0", "1 "])).tolist() == [True, True, False]
