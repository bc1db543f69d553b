"""The streaming reader against Python's csv module, at every block size."""

from __future__ import annotations

import csv
import io
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingestion.reading import ReadStats, RecordReader, RecordRunsOn, count_records

FIELD = st.text(alphabet='ab ,"\n\r1é', max_size=6)


def _csv(rows: list[list[str]], newline: str) -> str:
    """RFC 4180: a field holding a comma, quote, CR or LF is quoted (csv.writer quotes
    only for the characters of its own line terminator)."""

    def field(v: str) -> str:
        return '"' + v.replace('"', '""') + '"' if any(c in v for c in ',"\r\n') else v

    return "".join(",".join(field(v) for v in row) + newline for row in rows)


def _read(path, read_bytes):
    stats = ReadStats()
    with RecordReader(path, read_bytes) as reader:
        header = reader.read_header()
        chunks = list(reader.chunks(len(header), stats, chunk_rows=7))
    return header, chunks, stats


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(st.lists(FIELD, min_size=3, max_size=3), min_size=1, max_size=12),
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
    bom=st.booleans(),
    final=st.booleans(),
    read_bytes=st.integers(min_value=1, max_value=40),
)
def test_any_block_size_reads_the_records_csv_reads(
    tmp_path_factory, rows, newline, bom, final, read_bytes
):
    # a record of empty fields only would be written as a blank line: not a record
    rows = [r if any(r) else ["x", "", ""] for r in rows]
    text = _csv([["A", "B", "C"], *rows], newline)
    if not final:
        text = text[: -len(newline)]
    path = tmp_path_factory.mktemp("r") / "f.csv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    header, chunks, stats = _read(path, read_bytes)
    assert header == ["A", "B", "C"]
    assert stats.malformed == []
    assert stats.records == len(rows)
    # one COPY row per physical line: placeholders hold the continuation lines
    sent = b"".join(b"".join(c.parts) for c in chunks).decode()
    parsed = list(csv.reader(io.StringIO(sent, newline="")))
    placeholders = {line for c in chunks for line in c.placeholders}
    real = [r for i, r in enumerate(parsed, start=2) if i not in placeholders]
    expected = list(csv.reader(io.StringIO(text, newline="")))[1:]

    # line ends inside quoted fields become LF: CRLF in an LF or CRLF file, every CR in a
    # CR-only file (where a CR is always a line end, and an LF one too)
    def normal(f: str) -> str:
        return f.replace("\r", "\n") if newline == "\r" else f.replace("\r\n", "\n")

    norm = [[normal(f) for f in r] for r in expected]
    assert real == norm
    assert chunks[0].first_line == 2
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert after.first_line == before.last_line + 1


def test_a_stray_quote_costs_its_own_record_only(tmp_path):
    path = tmp_path / "f.csv"
    body = ["A,B,C", '1,O"Brien,x', *(f"{i},b,c" for i in range(2, 300))]
    path.write_text("\n".join(body) + "\n")
    _, _, stats = _read(path, 64)
    assert stats.records == 299
    assert [(line, reason.split(" (")[0]) for line, _, reason in stats.malformed] == [
        (2, "quote inside an unquoted field")
    ]


def test_a_quote_that_never_closes_rejects_the_file_whatever_the_block_size(tmp_path):
    # GIVEN a field opening a quote on line 4 that nothing closes, in a 200-row file
    path = tmp_path / "f.csv"
    body = ["A,B,C", *(f"{i},b,c" for i in range(200))]
    body[3] = '3,"Zeph,c'
    path.write_text("\n".join(body) + "\n")
    for read_bytes in (16, 64, None):
        # WHEN it is read, THEN it is refused naming the line, and its rows still count
        with pytest.raises(RecordRunsOn, match="quoted field on line 4 does not close"):
            _read(path, read_bytes)
    assert count_records(path) == 200


def test_rows_ending_in_cr_after_a_header_ending_in_lf_reject_the_file(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(b"A,B,C\n" + b"\r".join(b"%d,b,c" % i for i in range(200)) + b"\r")
    with pytest.raises(RecordRunsOn, match="line endings change after the header"):
        _read(path, 64)
    assert count_records(path) == 200


def test_many_stray_quotes_are_read_in_linear_time(tmp_path):
    # GIVEN a 120 KB field of a"a"a"... (each quote stray): 20 s when every stray quote
    # re-checked all the others
    path = tmp_path / "f.csv"
    path.write_text("A,B,C\n1," + 'a"' * 60_000 + ",x\n2,b,c\n")
    started = time.perf_counter()
    _, _, stats = _read(path, None)
    assert time.perf_counter() - started < 3
    assert stats.records == 2
    assert [line for line, _, _ in stats.malformed] == [2]
