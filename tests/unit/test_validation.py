import json

import pandas as pd

from ingestion.feeds import ALL_FEEDS, ndelius
from ingestion.validation import GxValidator, build_suite, parse_chunk, suite_path


def test_committed_gx_suites_match_the_declared_schemas():
    for feed in ALL_FEEDS:
        committed = json.loads(suite_path(feed).read_text())
        assert committed == json.loads(json.dumps(build_suite(feed))), (
            f"{suite_path(feed)} is stale: run `make expectations`"
        )


def _events(**overrides):
    row = {
        "EVENT_ID": "1",
        "OFFENDER_ID": "7",
        "EVENT_NUMBER": "1",
        "OFFENCE_CODE": "THEF",
        "OFFENCE_DATE": "2007-01-02",
        "CONVICTION_DATE": "2007-03-04",
        "COURT_CODE": "MCMAN",
        "SOFT_DELETED": "0",
        "ROW_VERSION": "1",
    }
    rows = [row]
    for i, change in enumerate(overrides.get("bad", [])):
        rows.append({**row, "EVENT_ID": str(i + 2), **change})
    return pd.DataFrame(rows)


def test_type_parsing_catches_impossible_and_misformatted_values():
    frame = _events(
        bad=[
            {"OFFENCE_DATE": "2007-02-30"},
            {"CONVICTION_DATE": "31/12/2007"},
            {"EVENT_NUMBER": "12x"},
            {"SOFT_DELETED": "Y"},
        ]
    )
    _, failures = parse_chunk(ndelius.EVENTS, frame)
    got = {(f.index, f.field, f.value) for f in failures}
    assert got == {
        (1, "OFFENCE_DATE", "2007-02-30"),
        (2, "CONVICTION_DATE", "31/12/2007"),
        (3, "EVENT_NUMBER", "12x"),
        (4, "SOFT_DELETED", "Y"),
    }


def test_gx_suite_flags_missing_unknown_and_out_of_range_rows_only():
    frame = _events(
        bad=[
            {"OFFENCE_CODE": "ZZ9"},
            {"OFFENDER_ID": None},
            {"CONVICTION_DATE": "2030-01-01"},
        ]
    )
    typed, failures = parse_chunk(ndelius.EVENTS, frame)
    assert failures == []
    failures = GxValidator(ndelius.EVENTS).validate(typed, frame)
    by_row = {f.index: (f.field, f.reason.split(" (")[0]) for f in failures}
    assert by_row == {
        1: ("OFFENCE_CODE", "unknown code"),
        2: ("OFFENDER_ID", "required field is missing"),
        3: ("CONVICTION_DATE", "out of range [1990-01-01, 2010-12-31]"),
    }
