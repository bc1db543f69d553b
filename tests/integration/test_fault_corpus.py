"""The fault corpus (``tests/corpus/make_faults.py``) through ``load_all``, case by case.

Each case asserts: exactly one audit row for the path, its status and reason, every
quarantined line with its field and reason, ``rows_in`` against an independent record
count (Python's csv module; openpyxl for workbooks), conservation, the rows in ``raw``.
Across the corpus: no crash, no path left in landing, nothing malformed in ``raw``, and the
planted marker in the quarantine table only (never in a log line, a reason or a message).
"""

from __future__ import annotations

import csv
import io
import logging
import zipfile
from xml.etree import ElementTree

import pytest

from tests.corpus import make_faults
from tests.corpus.make_faults import MARKER
from warehouse.db import connect

pytestmark = pytest.mark.integration

CASES = make_faults.cases()
csv.field_size_limit(1 << 30)  # the 5 MiB surname is one field


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += " " + repr(record.exc_info[1])
        self.lines.append(text)


@pytest.fixture(scope="module")
def corpus(fresh_warehouse, tmp_path_factory):
    from ingestion.runner import IngestionError, load_all

    home = tmp_path_factory.mktemp("corpus")
    with pytest.MonkeyPatch.context() as mp:
        settings = fresh_warehouse("fault_corpus", home, mp)
        landing = settings.landing_dir
        landing.mkdir(parents=True, exist_ok=True)
        cases = make_faults.write(landing)
        expected = {c.name: _independent_count(landing / c.path, c) for c in cases}
        handler = _Collect()
        root = logging.getLogger()
        old_level = root.level
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)
        error = None
        try:
            with connect(settings, autocommit=True) as conn:
                try:
                    load_all(conn, landing)
                except IngestionError as exc:  # recorded, then failed below
                    error = exc
        finally:
            root.removeHandler(handler)
            root.setLevel(old_level)
        yield settings, landing, expected, handler.lines, error


def _independent_count(path, case) -> int | None:
    """Records after the header, counted without the loader: None if not countable."""
    if not case.countable:
        return None
    data = path.read_bytes()
    if path.suffix == ".xlsx":
        if not data:
            return 0
        return max(_rows_with_a_value(data, "Ledger") - 1, 0)
    text = data.decode("utf-8-sig", errors="replace")
    first_end = min((i for i in (text.find("\n"), text.find("\r")) if i >= 0), default=-1)
    if first_end >= 0 and text[first_end] == "\n" or text[first_end : first_end + 2] == "\r\n":
        # the dialect rule: in an LF or CRLF file a bare CR is a byte of its record, not a
        # line end (csv splits at any CR)
        text = text.replace("\r\n", "\n").replace("\r", "\x01")
    records = [r for r in csv.reader(io.StringIO(text, newline="")) if r]
    return max(len(records) - 1, 0)


def _rows_with_a_value(data: bytes, sheet_name: str) -> int:
    """Rows of the named sheet holding a value or a formula, read from the workbook's XML
    (openpyxl's row iteration expands a sheet to its extent: a far cell made it 17 billion
    cells)."""
    main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    rel = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        sheets = ElementTree.fromstring(book.read("xl/workbook.xml")).iter(f"{main}sheet")
        rid = next(s.get(rel) for s in sheets if s.get("name") == sheet_name)
        links = ElementTree.fromstring(book.read("xl/_rels/workbook.xml.rels"))
        target = next(r.get("Target") for r in links if r.get("Id") == rid)
        part = ElementTree.fromstring(book.read("xl/" + target.removeprefix("/xl/")))
    return sum(
        any(
            c.find(f"{main}v") is not None
            or c.find(f"{main}f") is not None
            or c.find(f"{main}is") is not None
            for c in row.iter(f"{main}c")
        )
        for row in part.iter(f"{main}row")
    )


def _audit(settings, name):
    with connect(settings) as conn:
        return conn.execute(
            "select load_id, status, reason, rows_in, rows_loaded, rows_quarantined"
            " from audit.file_loads where file_name = %s",
            [name],
        ).fetchall()


def test_the_corpus_holds_at_least_50_distinct_faults():
    assert len({c.name for c in CASES}) >= 50
    assert {c.path.rsplit(".", 1)[-1] for c in CASES} >= {"csv", "xlsx"}


def test_no_path_breaks_the_loader(corpus):
    _, _, _, _, error = corpus
    assert error is None, f"paths that broke the loader: {error and error.failed}"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_fault_gets_its_status_reason_lines_and_a_conserved_count(corpus, case):
    settings, _, expected, _, _ = corpus
    name = case.path.rsplit("/", 1)[-1]
    rows = _audit(settings, name)
    # THEN exactly one audit row for the delivered path
    assert len(rows) == 1, f"{name}: {len(rows)} audit rows"
    load_id, status, reason, rows_in, loaded, quarantined = rows[0]
    assert status == case.status, reason
    if case.reason:
        assert reason and case.reason in reason, reason
    # rows_in: the independent record count (or null, with a reason, when unreadable)
    assert rows_in == expected[case.name]
    if rows_in is None:
        assert reason
    else:
        assert rows_in == loaded + quarantined
    with connect(settings) as conn:
        got = conn.execute(
            "select line_number, field, reason from audit.quarantine where load_id = %s"
            " order by 1, 2",
            [load_id],
        ).fetchall()
        feed = conn.execute(
            "select feed from audit.file_loads where load_id = %s", [load_id]
        ).fetchone()[0]
        in_raw = (
            conn.execute(f"select count(*) from raw.{feed} where _load_id = %s", [load_id])
            if status == "loaded"
            else None
        )
        in_raw = in_raw.fetchone()[0] if in_raw else 0
    if case.status == "loaded":
        want = sorted((line, f) for line, f, _ in case.quarantined)
        assert sorted((line, f) for line, f, _ in got) == want, got
        for (line, f, why), (_, _, reason_got) in zip(
            sorted(case.quarantined), sorted(got), strict=True
        ):
            assert why in reason_got, (line, f, reason_got)
        assert quarantined == len({line for line, _, _ in case.quarantined})
        assert in_raw == loaded
        if case.loaded is not None:
            assert loaded == case.loaded
    else:
        assert loaded == 0 and in_raw == 0


def test_every_delivered_path_has_one_audit_row_and_leaves_landing(corpus):
    settings, landing, _, _, _ = corpus
    with connect(settings) as conn:
        names = [r[0] for r in conn.execute("select file_name from audit.file_loads")]
    assert sorted(names) == sorted(c.path.rsplit("/", 1)[-1] for c in CASES)
    done = ("processed", "rejected")
    left = [
        p
        for folder in landing.iterdir()
        if folder.name not in done
        for p in (folder.iterdir() if folder.is_dir() else [folder])
        if p.name not in done
    ]
    assert left == []


def test_no_malformed_value_reaches_raw(corpus):
    settings, _, _, _, _ = corpus
    with connect(settings) as conn:
        # every typed column is typed, so only text can carry a fault: the marker, a
        # stray quote, a control character or an over-long value
        from ingestion.feeds import ALL_FEEDS

        for feed in ALL_FEEDS:
            for col in feed.columns:
                if col.type != "text":
                    continue
                bad = conn.execute(
                    f"select count(*) from raw.{feed.name} where {col.db_name} like %s"
                    f" or {col.db_name} ~ '[\\x01-\\x09\\x0b-\\x1f\"]' or length({col.db_name}) > %s",
                    [f"%{MARKER}%", col.text_limit],
                ).fetchone()[0]
                assert bad == 0, (feed.name, col.name)


def test_the_planted_marker_is_in_quarantine_only(corpus):
    settings, _, _, log_lines, error = corpus
    with connect(settings) as conn:
        in_quarantine = conn.execute(
            "select count(*) from audit.quarantine where value like %s or record like %s",
            [f"%{MARKER}%", f"%{MARKER}%"],
        ).fetchone()[0]
        in_reasons = conn.execute(
            "select count(*) from audit.file_loads where reason like %s", [f"%{MARKER}%"]
        ).fetchone()[0]
        reasons_q = conn.execute(
            "select count(*) from audit.quarantine where reason like %s", [f"%{MARKER}%"]
        ).fetchone()[0]
    assert in_quarantine >= 3  # the control: it was delivered, and kept where it belongs
    assert in_reasons == 0 and reasons_q == 0
    assert log_lines, "the log handler saw nothing"
    assert not [line for line in log_lines if MARKER in line]
    assert error is None or MARKER not in str(error)
