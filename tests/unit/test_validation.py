"""Suites stay in step with the declared schemas; the streaming pass splits files right."""

import json

from ingestion.feeds import ALL_FEEDS, ndelius
from ingestion.reading import ReadStats, RecordReader
from ingestion.validation import build_suite, condition_sql, suite_path


def _chunks(path, width, stats, chunk_rows, read_bytes=None):
    with RecordReader(path, read_bytes) as reader:
        reader.read_header()
        return list(reader.chunks(width, stats, chunk_rows))


def test_committed_gx_suites_match_the_declared_schemas():
    for feed in ALL_FEEDS:
        committed = json.loads(suite_path(feed).read_text())
        assert committed == json.loads(json.dumps(build_suite(feed))), (
            f"{suite_path(feed)} is stale: run `make expectations`"
        )


def test_every_expectation_in_every_suite_has_a_sql_condition():
    for feed in ALL_FEEDS:
        for spec in build_suite(feed)["expectations"]:
            assert condition_sql(spec) is not None


def _write(tmp_path, lines):
    path = tmp_path / "ndelius_events_2007-01.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode())
    return path


GOOD = "1,7,1,THEF,2007-01-02,2007-03-04,MCMAN,0,1"


def test_malformed_and_blank_lines_become_placeholders_with_their_line_numbers(tmp_path):
    header = ",".join(ndelius.EVENTS.header)
    path = _write(tmp_path, [header, GOOD, "2,7,1,THEF", "", GOOD.replace("1,", "3,", 1)])
    stats = ReadStats()
    chunks = list(_chunks(path, 9, stats, chunk_rows=100))
    assert len(chunks) == 1
    chunk = chunks[0]
    assert (chunk.first_line, chunk.last_line) == (2, 5)
    assert chunk.placeholders == [3, 4]
    # GIVEN a truncated line and a blank line THEN one malformed record, no row for the blank
    assert stats.records == 3
    assert [(line, reason.split(" (")[0]) for line, _, reason in stats.malformed] == [
        (3, "expected 9 fields, found 4")
    ]
    data = b"".join(chunk.parts).splitlines()
    assert len(data) == 4 and data[1] == data[2] == b"," * 8


def test_a_quoted_record_spanning_lines_keeps_line_numbers_true_with_a_placeholder(tmp_path):
    header = ",".join(ndelius.EVENTS.header)
    multi = '2,7,1,THEF,2007-01-02,2007-03-04,"MC\nMAN",0,1'
    path = _write(tmp_path, [header, GOOD, multi, GOOD.replace("1,", "3,", 1)])
    stats = ReadStats()
    chunks = list(_chunks(path, 9, stats, chunk_rows=100))
    # GIVEN a record on lines 3-4 THEN one COPY row per physical line: line 4 a placeholder
    assert [(c.first_line, c.last_line, c.records, c.placeholders) for c in chunks] == [
        (2, 5, 4, [4])
    ]
    assert stats.records == 3 and not stats.malformed


def test_large_files_are_cut_into_chunks_of_whole_records(tmp_path):
    header = ",".join(ndelius.EVENTS.header)
    rows = [GOOD.replace("1,", f"{i},", 1) for i in range(1, 1001)]
    path = _write(tmp_path, [header, *rows])
    stats = ReadStats()
    chunks = list(_chunks(path, 9, stats, chunk_rows=300, read_bytes=4096))
    assert len(chunks) > 2
    assert sum(c.records for c in chunks) == 1000 == stats.records
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert after.first_line == before.last_line + 1
    assert b"".join(b"".join(c.parts) for c in chunks).count(b"\n") == 1000


def test_revisions_load_in_numeric_order_after_the_original():
    from ingestion.feeds import get_feed

    feed = get_feed("ndelius_events")
    names = [
        "ndelius_events_2008-01_r10.csv",
        "ndelius_events_2008-02.csv",
        "ndelius_events_2008-01_r2.csv",
        "ndelius_events_2008-01.csv",
    ]
    assert sorted(names, key=feed.delivery_order) == [
        "ndelius_events_2008-01.csv",
        "ndelius_events_2008-01_r2.csv",
        "ndelius_events_2008-01_r10.csv",
        "ndelius_events_2008-02.csv",
    ]


def test_gx_kwargs_read_once_give_what_gx_gives_for_every_expectation_of_every_suite():
    # GIVEN every expectation of every feed's committed suite, as the validator builds them
    import great_expectations as gx
    from great_expectations.expectations.expectation import Expectation

    from ingestion import gx_kwargs
    from ingestion.validation import load_suite

    original = gx_kwargs.ORIGINAL
    for name in original:  # installed, so the comparison below is ours against GX's
        assert getattr(Expectation, name) is getattr(gx_kwargs, name), name
    checked = 0
    for feed in ALL_FEEDS:
        for spec in load_suite(feed)["expectations"]:
            expectation = gx.expectations.registry.get_expectation_impl(spec["type"])(
                **spec["kwargs"]
            )
            # WHEN the kwargs are asked for the faster way and GX's own way
            # THEN they are equal, key for key (and in the same order)
            for name in ("_get_domain_kwargs", "_get_success_kwargs"):
                ours, theirs = getattr(expectation, name)(), original[name](expectation)
                assert list(ours.items()) == list(theirs.items()), (feed.name, spec["type"], name)
            keys = {*expectation.domain_keys, *expectation.success_keys, *expectation.runtime_keys}
            for key in sorted(keys):
                ours = expectation._get_success_kwarg(key, "default?")
                assert ours == original["_get_success_kwarg"](expectation, key, "default?"), key
            # and so are the runtime kwargs, with and without a result format of the run's
            for runtime in (None, {"result_format": "BOOLEAN_ONLY"}):
                ours = expectation._get_runtime_kwargs(runtime)
                assert list(ours.items()) == list(
                    _runtime_kwargs_by_gx(expectation, runtime).items()
                )
            checked += 1
    assert checked >= 3 * len(ALL_FEEDS)  # every feed has a few (54 in all)


def _runtime_kwargs_by_gx(expectation, runtime):  # type: ignore[no-untyped-def]
    """``Expectation._get_runtime_kwargs`` as GX has it (its helpers too), not ours."""
    from great_expectations.expectations.expectation import Expectation

    from ingestion import gx_kwargs

    try:
        for name, function in gx_kwargs.ORIGINAL.items():
            setattr(Expectation, name, function)
        return expectation._get_runtime_kwargs(runtime)
    finally:
        gx_kwargs.install()
