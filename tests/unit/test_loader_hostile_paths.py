"""Hostile deliveries without a database: header reasons that could carry personal data,
done folders that are links or files, a dangling link in the landing folder."""

from __future__ import annotations

import pytest

from ingestion import headers, landing
from ingestion.feeds import ndelius
from ingestion.load_records import FileRejected
from ingestion.reading import RecordReader
from ingestion.registry import FileLoadResult
from warehouse.pipeline import delivered_bytes

# a data row of the offenders feed where its header belongs (CRN, name, date of birth...)
DATA_ROW = "100,Z000100,,Zephyrina,Quatermaine,1971-07-13,F,W1,M1 1AA,00BLGA,1"
PERSONAL = ("Z000100", "ZEPHYRINA", "QUATERMAINE", "1971-07-13", "M1 1AA", "00BLGA")


def _header_reason(tmp_path, text: str) -> str:
    path = tmp_path / "ndelius_offenders_2007-04.csv"
    path.write_text(text)
    with RecordReader(path) as reader:
        header = reader.read_header()
    with pytest.raises(FileRejected) as rejected:
        headers.check_header(header, ndelius.OFFENDERS)
    return str(rejected.value)


def test_a_file_without_a_header_line_is_told_so_and_its_first_row_is_not_quoted(tmp_path):
    reason = _header_reason(tmp_path, f"{DATA_ROW}\n{DATA_ROW.replace('100', '101')}\n")
    assert "no header line" in reason
    assert not [v for v in PERSONAL if v.upper() in reason.upper()], reason


def test_a_header_with_an_unterminated_quote_quotes_nothing_of_the_file(tmp_path):
    header = ",".join(ndelius.OFFENDERS.header)
    reason = _header_reason(tmp_path, f'"{header}\n{DATA_ROW}\n')
    assert "quote" in reason
    assert not [v for v in PERSONAL if v.upper() in reason.upper()], reason
    assert header[:40] not in reason


def test_unexpected_header_fields_are_told_by_position_and_declared_ones_by_name(tmp_path):
    # GIVEN a header whose SURNAME column holds a surname, twice, and FIRST_NAME twice
    names = ndelius.OFFENDERS.header
    fields = ["QUATERMAINE" if c == "SURNAME" else c for c in names]
    fields += ["QUATERMAINE", "FIRST_NAME"]
    reason = _header_reason(tmp_path, ",".join(fields) + "\n")
    # THEN the declared columns are named, the others counted by position only
    surname_at = names.index("SURNAME") + 1
    assert "missing column(s) SURNAME" in reason
    assert f"2 unexpected column(s) at position(s) {surname_at}, {len(names) + 1}" in reason
    assert "repeated column(s) FIRST_NAME" in reason
    assert f"1 unexpected column(s) repeated at position(s) {len(names) + 1}" in reason
    assert "QUATERMAINE" not in reason


def test_a_long_header_lists_ten_positions_and_how_many_more(tmp_path):
    fields = ndelius.OFFENDERS.header + [f"X{i}" for i in range(25)]
    reason = _header_reason(tmp_path, ",".join(fields) + "\n")
    assert "25 unexpected column(s)" in reason
    assert "and 15 more" in reason
    assert "X1" not in reason


@pytest.mark.parametrize("folder", ["processed", "rejected"])
def test_a_done_folder_that_is_a_link_or_a_file_refuses_the_path(tmp_path, folder):
    system = tmp_path / "landing" / "ndelius"
    system.mkdir(parents=True)
    path = system / "ndelius_events_2007-04.csv"
    path.write_text("x\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (system / folder).symlink_to(outside)
    with pytest.raises(landing.UnsafeFolder, match=f"{folder} is a symbolic link"):
        landing.check_done_folders(path)
    (system / folder).unlink()
    (system / folder).write_text("a file, not a folder")
    with pytest.raises(landing.UnsafeFolder, match=f"{folder} is not a folder"):
        landing.check_done_folders(path)
    (system / folder).unlink()
    (system / folder).mkdir()
    landing.check_done_folders(path)  # a real folder: fine


def test_a_dangling_link_in_the_landing_folder_does_not_stop_the_size_ordering(tmp_path):
    # GIVEN a feed's folder holding a file and a link to nowhere named like a file
    system = tmp_path / "ndelius"
    system.mkdir()
    (system / "ndelius_events_2006-02.csv").write_bytes(b"12345")
    (system / "ndelius_events_2006-01.csv").symlink_to("/nonexistent/x")
    # WHEN the run orders feeds by delivered size THEN the link counts as itself
    size = delivered_bytes(tmp_path, ndelius.EVENTS)
    assert size == 5 + len("/nonexistent/x")


def test_a_folder_swapped_for_a_link_after_the_check_still_takes_nothing_out(tmp_path):
    # GIVEN processed/ replaced by a link to a folder outside landing after the check
    system = tmp_path / "landing" / "ndelius"
    system.mkdir(parents=True)
    path = system / "ndelius_events_2007-04.csv"
    path.write_text("x\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (system / "processed").symlink_to(outside)
    result = FileLoadResult(7, path.name, "ndelius_events", "2007-04", "loaded")
    # WHEN the recorded file is moved THEN it is refused, naming the folder
    with pytest.raises(landing.UnsafeFolder, match="processed is not a real folder"):
        landing.move(path, "processed", result)
    assert list(outside.iterdir()) == []
    assert path.exists()
