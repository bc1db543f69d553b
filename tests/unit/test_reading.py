"""The streaming reader against Python's csv module, at every block size."""

from __future__ import annotations

import csv
import io

from hypothesis import given, settings
from hypothesis import strategies as st

from ingestion.reading import ReadStats, RecordReader

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
