"""Ingestion against a real PostgreSQL: faults, conservation, idempotency, supersession, crashes."""

from __future__ import annotations

import os
import shutil
import sys
from collections import Counter

import pytest

from ingestion.ddl import ensure_schema
from ingestion.feeds import ALL_FEEDS, ndelius
from ingestion.loader import load_file
from ingestion.runner import load_all, load_feed
from warehouse.db import connect
from warehouse.pipeline import assert_conservation, generate_landing

pytestmark = pytest.mark.integration


def _raw_counts(conn):
    return {
        f.name: conn.execute(f"select count(*) from {f.raw_table}").fetchone()[0] for f in ALL_FEEDS
    }


@pytest.fixture(scope="module")
def dirty_load(fresh_warehouse, tmp_path_factory):
    """A small, dirty dataset (5 % of rows faulty, plus the file faults), six months of
    every feed, loaded once for the module (the tests that reload it change nothing)."""
    with pytest.MonkeyPatch.context() as mp:
        settings = fresh_warehouse("dirty_load", tmp_path_factory.mktemp("dirty"), mp)
        report = generate_landing(
            settings, scale=0.03, seed=11, dirt=0.05, window=("2006-10", "2007-03")
        )
        with connect(settings, autocommit=True) as conn:
            results = load_all(conn, settings.landing_dir)
        yield settings, report, results


def test_every_generated_fault_is_caught_with_its_reason(dirty_load):
    settings, _, results = dirty_load
    with connect(settings) as conn:
        reasons = [r[0] for r in conn.execute("select distinct reason from audit.quarantine")]
        fixes = [r[0] for r in conn.execute("select distinct fix from audit.load_fixes")]
        rejected = [
            r[0]
            for r in conn.execute("select reason from audit.file_loads where status='rejected'")
        ]

    def seen(text, pool):
        return any(text in r for r in pool)

    assert seen("not a valid date", reasons)  # bad_date
    assert seen("unknown code", reasons)  # unknown_code
    assert seen("required field is missing", reasons)  # missing_key
    assert seen("duplicate key", reasons)  # duplicate_row
    assert seen("truncated or malformed line", reasons)  # truncated_last_line
    assert seen("stray spaces removed", fixes)  # trailing_spaces
    assert seen("upper-cased", fixes)  # wrong_case
    assert seen("file is empty", rejected)  # empty_file
    assert seen("missing column(s)", rejected)  # missing_column
    assert seen("unexpected column(s)", rejected)  # renamed_column
    assert {r.status for r in results} == {"loaded", "rejected"}


def test_conservation_holds_for_every_file(dirty_load):
    settings, report, results = dirty_load
    assert assert_conservation(settings) == len(report.files)
    for r in results:
        assert r.rows_in == r.rows_loaded + r.rows_quarantined
    assert sum(r.rows_quarantined for r in results if r.status == "loaded") > 0
    # rows_in counts every data line the generator wrote (rejected files included)
    assert sum(r.rows_in for r in results) <= report.total_rows


def test_loading_the_same_files_again_adds_no_rows(dirty_load):
    settings, _, _ = dirty_load
    with connect(settings, autocommit=True) as conn:
        before = _raw_counts(conn)
        loaded = conn.execute(
            "select count(*) from audit.file_loads where status = 'loaded'"
        ).fetchone()[0]
        # GIVEN the same files delivered again
        for folder in ("processed", "rejected"):
            for path in settings.landing_dir.glob(f"*/{folder}/*"):
                shutil.copy(path, path.parent.parent / path.name)
        # WHEN ingestion runs over the landing folder again
        again = load_all(conn, settings.landing_dir)
        # THEN every loaded file is a duplicate, the others (rejected or superseded) are
        # rejected again, and nothing changes
        statuses = Counter(r.status for r in again)
        assert set(statuses) <= {"duplicate", "rejected"}
        assert statuses["duplicate"] == loaded
        assert _raw_counts(conn) == before
    assert_conservation(settings)


def test_corrected_redelivery_supersedes_the_earlier_load(settings):
    generate_landing(settings, scale=0.02, seed=3, dirt=0, window=("2007-06", "2007-06"))
    folder = settings.landing_dir / "ndelius"
    original = folder / "ndelius_events_2007-06.csv"
    kept = original.read_text()
    with connect(settings, autocommit=True) as conn:
        ensure_schema(conn)
        first = load_file(conn, original, ndelius.EVENTS)
        # GIVEN a corrected file for the same period (one row fewer)
        lines = kept.splitlines()
        corrected = folder / "ndelius_events_2007-06.csv"
        corrected.write_text("\n".join(lines[:-1]) + "\n")
        second = load_file(conn, corrected, ndelius.EVENTS)
        status = conn.execute(
            "select status, superseded_by from audit.file_loads where load_id=%s", [first.load_id]
        ).fetchone()
        rows = conn.execute(
            "select _load_id, count(*) from raw.ndelius_events group by 1"
        ).fetchall()
        # and the superseded rows' keys and ids are remembered, stamped with the new
        # load's time (the left-out row is in no load: incremental models rebuild them)
        remembered = conn.execute(
            "select key_column, count(*), count(distinct superseded_at) from"
            " audit.superseded_keys where feed = 'ndelius_events' group by 1 order by 1"
        ).fetchall()
        stamped = conn.execute(
            "select (select superseded_at from audit.superseded_keys limit 1)"
            " = (select max(_loaded_at) from raw.ndelius_events)"
        ).fetchone()[0]
        left_out = lines[-1].split(",")[0]
        (is_remembered,) = conn.execute(
            "select count(*) from audit.superseded_keys"
            " where key_column = 'event_id' and key_value = %s",
            [left_out],
        ).fetchone()
    assert status == ("superseded", second.load_id)
    assert rows == [(second.load_id, first.rows_loaded - 1)]
    offenders = len({line.split(",")[1] for line in lines[1:]})  # OFFENDER_ID
    assert remembered == [("event_id", first.rows_loaded, 1), ("offender_id", offenders, 1)]
    assert stamped and is_remembered == 1


def test_a_row_moved_and_moved_back_remembers_the_ids_it_left(settings):
    generate_landing(settings, scale=0.02, seed=3, dirt=0, window=("2007-06", "2007-07"))
    folder = settings.landing_dir / "ndelius"
    june = (folder / "ndelius_disposals_2007-06.csv").read_text().splitlines()
    header = june[0].split(",")
    offender, version = header.index("OFFENDER_ID"), header.index("ROW_VERSION")
    moved, kept, other = (line.split(",") for line in june[1:4])
    assert len({moved[offender], kept[offender], other[offender]}) == 3
    # GIVEN July's file carries new versions of two June sentences: one moved to another
    # offender (a record linked to the wrong person, corrected), one with the same ids
    for row in (moved, kept):
        row[version] = str(int(row[version]) + 1)
    old_offender, moved[offender] = moved[offender], other[offender]
    july = folder / "ndelius_disposals_2007-07.csv"
    delivered = july.read_text()
    july.write_text(delivered + ",".join(moved) + "\n" + ",".join(kept) + "\n")
    with connect(settings, autocommit=True) as conn:
        ensure_schema(conn)
        load_file(conn, folder / "ndelius_disposals_2007-06.csv", ndelius.DISPOSALS)
        second = load_file(conn, july, ndelius.DISPOSALS)
        # WHEN July is loaded, THEN the offender the moved sentence left is remembered with
        # July's load time (the models rebuilding offenders take the old one too), and
        # nothing else: the ids both versions carry are among the new rows already
        remembered = conn.execute(
            "select key_column, key_value, superseded_at = ("
            "   select max(_loaded_at) from raw.ndelius_disposals where _load_id = %s)"
            " from audit.superseded_keys where feed = 'ndelius_disposals'",
            [second.load_id],
        ).fetchall()
        # WHEN July is corrected again, leaving the moved sentence out (the move was the
        # mistake): staging falls back to June's version, under the old offender again
        july.write_text(delivered + ",".join(kept) + "\n")
        third = load_file(conn, july, ndelius.DISPOSALS)
        # THEN the old offender is remembered with the correction's load time (they gain
        # the sentence back, though no row loaded since carries them)
        undone = conn.execute(
            "select superseded_at = ("
            "   select max(_loaded_at) from raw.ndelius_disposals where _load_id = %s)"
            " from audit.superseded_keys where feed = 'ndelius_disposals'"
            " and key_column = 'offender_id' and key_value = %s",
            [third.load_id, old_offender],
        ).fetchall()
    assert second.status == "loaded" and third.status == "loaded"
    assert remembered == [("offender_id", old_offender, True)]
    assert undone == [(True,)]


def test_a_load_killed_mid_copy_leaves_nothing_and_a_rerun_completes(settings):
    generate_landing(settings, scale=0.02, seed=5, dirt=0, window=("2007-01", "2007-01"))
    path = settings.landing_dir / "ndelius" / "ndelius_events_2007-01.csv"

    def die():
        raise KeyboardInterrupt("killed after COPY, before commit")

    with connect(settings, autocommit=True) as conn:
        ensure_schema(conn)
        with pytest.raises(KeyboardInterrupt):
            load_file(conn, path, ndelius.EVENTS, after_copy=die)
        assert conn.execute("select count(*) from raw.ndelius_events").fetchone()[0] == 0
        assert conn.execute("select count(*) from audit.file_loads").fetchone()[0] == 0
        assert path.exists(), "the file stays in landing until its load commits"
        result = load_file(conn, path, ndelius.EVENTS)
        assert result.status == "loaded"
        count = conn.execute("select count(*) from raw.ndelius_events").fetchone()[0]
    assert count == result.rows_loaded > 0


def test_a_file_that_breaks_the_loader_does_not_stop_the_others(settings, monkeypatch):
    generate_landing(settings, scale=0.02, seed=7, dirt=0, window=("2006-01", "2006-03"))
    import ingestion.runner as runner

    real = runner.load_file

    def flaky(conn, path, feed, **kw):
        if path.name == "ndelius_events_2006-01.csv":
            raise OSError("disk read error")
        return real(conn, path, feed, **kw)

    monkeypatch.setattr(runner, "load_file", flaky)
    with connect(settings, autocommit=True) as conn:
        with pytest.raises(runner.IngestionError, match="1 of 3"):
            load_feed(conn, settings.landing_dir, "ndelius_events")
        loaded = conn.execute(
            "select count(*) from audit.file_loads where feed='ndelius_events'"
        ).fetchone()[0]
    assert loaded == 2


def test_a_file_the_loader_fails_on_is_recorded_and_stops_nothing_but_fails_the_run(
    settings, monkeypatch
):
    from ingestion import validation

    generate_landing(settings, scale=0.02, seed=37, dirt=0, window=("2006-04", "2006-06"))
    real = validation.GxValidator.validate
    calls = []

    def breaks_on_the_second_file(self, schema, table):
        calls.append(table)
        if len(calls) == 2:
            raise RuntimeError("GX could not run")
        return real(self, schema, table)

    monkeypatch.setattr(validation.GxValidator, "validate", breaks_on_the_second_file)
    with connect(settings, autocommit=True) as conn:
        # WHEN the loader itself fails on one of three files
        with pytest.raises(runner_error(), match="1 of 3") as raised:
            load_feed(conn, settings.landing_dir, "ndelius_events")
        rows = conn.execute(
            "select file_name, status, reason, rows_in from audit.file_loads order by load_id"
        ).fetchall()
    # THEN the other two load, the failed one is recorded (it cannot block the feed run
    # after run) and the run fails naming it
    assert [r[1] for r in rows] == ["loaded", "rejected", "loaded"]
    assert "the loader failed on this file (RuntimeError)" in rows[1][2]
    assert rows[1][3] is None
    assert rows[1][0] in str(raised.value)
    assert (settings.landing_dir / "ndelius" / "rejected" / rows[1][0]).exists()


def runner_error():
    from ingestion.runner import IngestionError

    return IngestionError


def _quarantine(conn, load_id):
    return conn.execute(
        "select line_number, field, value, reason from audit.quarantine where load_id = %s"
        " order by 1, 2",
        [load_id],
    ).fetchall()


def _load_edited(settings, path, edits):
    """Load ``path`` after setting fields of its records ({record: {column: value}},
    record 1 the first after the header); returns the result and its quarantine rows."""
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    for index, values in edits.items():
        row = lines[index].split(",")
        for column, value in values.items():
            row[header.index(column)] = value
        lines[index] = ",".join(row)
    path.write_text("\n".join(lines) + "\n")
    with connect(settings, autocommit=True) as conn:
        ensure_schema(conn)
        result = load_file(conn, path)
        return result, _quarantine(conn, result.load_id)


def test_chunked_parallel_loading_gives_the_same_result_as_one_chunk(settings):
    generate_landing(settings, scale=0.05, seed=13, dirt=0.05, window=("2008-01", "2008-03"))
    folder = settings.landing_dir / "oasys"
    path = max(folder.glob("oasys_objectives_*.csv"), key=lambda p: p.stat().st_size)
    twin = settings.landing_dir / "twin"
    twin.mkdir()
    # the same rows under another period, so the registry sees a new file
    copy = twin / path.name.replace(path.name[-11:-4], "2010-01")
    copy.write_bytes(path.read_bytes() + b"\n")
    with connect(settings, autocommit=True) as conn:
        ensure_schema(conn)
        one = load_file(conn, path, move=False)
        # WHEN the same rows load in small chunks, two COPYs at a time
        many = load_file(conn, copy, move=False, chunk_rows=40, read_bytes=2048)
        chunks = conn.execute(
            "select count(*) from pg_inherits where inhparent = to_regclass(%s)",
            [f"raw.oasys_objectives__{many.load_id}"],
        ).fetchone()[0]
        assert chunks > 3
        assert (one.rows_in, one.rows_loaded, one.rows_quarantined) == (
            many.rows_in,
            many.rows_loaded,
            many.rows_quarantined,
        )
        assert _quarantine(conn, one.load_id) == _quarantine(conn, many.load_id)
        lines = conn.execute(
            "select _load_id, array_agg(_line_number order by _line_number)"
            " from raw.oasys_objectives group by 1 order by 1"
        ).fetchall()
        assert lines[0][1] == lines[1][1]


def test_an_item_score_out_of_range_is_quarantined_by_the_grouped_rule(settings):
    generate_landing(settings, scale=0.02, seed=17, dirt=0, window=("2007-05", "2007-05"))
    path = settings.landing_dir / "oasys" / "oasys_assessments_2007-05.csv"
    result, got = _load_edited(settings, path, {1: {"S8_3": "3"}})
    assert result.rows_quarantined == 1
    assert got == [
        (2, "s8_3", "3", "out of range [0, 2] (expect_multicolumn_values_to_be_between)")
    ]


def test_one_expectation_per_rule_still_names_every_failing_column(settings):
    """The suite checks each kind of rule with one GX expectation over all its columns; a
    row breaking two columns of each kind is quarantined once per column, each with its
    own reason, and the expectation GX ran."""
    generate_landing(settings, scale=0.02, seed=23, dirt=0, window=("2007-05", "2007-05"))
    path = settings.landing_dir / "ndelius" / "ndelius_offenders_2007-05.csv"
    broken = {
        "CRN": "X1",  # pattern
        "POSTCODE": "NOT A POSTCODE",  # pattern
        "GENDER": "Q",  # code
        "ETHNICITY": "ZZ",  # code
        "DATE_OF_BIRTH": "1850-01-01",  # range (a date)
        "PREVIOUS_SANCTIONS": "900",  # range (a number)
    }
    # and two required fields missing in another row
    result, got = _load_edited(settings, path, {1: broken, 2: {"FIRST_NAME": "", "SURNAME": ""}})
    assert result.rows_quarantined == 2
    assert got == [
        (
            2,
            "crn",
            "X1",
            "does not match the expected format (expect_multicolumn_values_to_match_regexes)",
        ),
        (
            2,
            "date_of_birth",
            "1850-01-01",
            "out of range [1900-01-01, 2000-12-31] (expect_multicolumn_values_to_be_within_bounds)",
        ),
        (2, "ethnicity", "ZZ", "unknown code (expect_multicolumn_values_to_be_in_sets)"),
        (2, "gender", "Q", "unknown code (expect_multicolumn_values_to_be_in_sets)"),
        (
            2,
            "postcode",
            "NOT A POSTCODE",
            "does not match the expected format (expect_multicolumn_values_to_match_regexes)",
        ),
        (
            2,
            "previous_sanctions",
            "900",
            "out of range [0, 200] (expect_multicolumn_values_to_be_within_bounds)",
        ),
        (
            3,
            "first_name",
            None,
            "required field is missing (expect_multicolumn_values_to_not_be_null)",
        ),
        (
            3,
            "surname",
            None,
            "required field is missing (expect_multicolumn_values_to_not_be_null)",
        ),
    ]


def test_a_load_killed_between_chunk_copies_leaves_nothing_and_a_rerun_completes(
    settings, monkeypatch
):
    from ingestion import staging

    generate_landing(settings, scale=0.02, seed=19, dirt=0, window=("2008-02", "2008-02"))
    path = settings.landing_dir / "oasys" / "oasys_objectives_2008-02.csv"
    real_stage = staging.Stager.stage
    calls = []

    def dies_on_the_third_chunk(self, chunk, n):
        calls.append(n)
        if len(calls) == 3:
            raise KeyboardInterrupt("killed while copying")
        return real_stage(self, chunk, n)

    with connect(settings, autocommit=True) as conn:
        ensure_schema(conn)
        monkeypatch.setattr(staging.Stager, "stage", dies_on_the_third_chunk)
        with pytest.raises(KeyboardInterrupt):
            load_file(conn, path, chunk_rows=10, read_bytes=512)
        assert conn.execute("select count(*) from raw.oasys_objectives").fetchone()[0] == 0
        assert conn.execute("select count(*) from audit.file_loads").fetchone()[0] == 0
        assert path.exists()
        monkeypatch.setattr(staging.Stager, "stage", real_stage)
        results = load_feed(conn, settings.landing_dir, "oasys_objectives", period="2008-02")
        left = conn.execute(
            "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            " where n.nspname = 'landing'"
        ).fetchone()[0]
        count = conn.execute("select count(*) from raw.oasys_objectives").fetchone()[0]
    assert [r.status for r in results] == ["loaded"]
    assert count == results[0].rows_loaded > 0
    assert left == 0, "no staging table or sequence is left behind"


def test_an_optional_code_of_spaces_only_loads_as_empty_not_as_a_bad_code(settings):
    generate_landing(settings, scale=0.02, seed=23, dirt=0, window=("2007-04", "2007-04"))
    path = settings.landing_dir / "ndelius" / "ndelius_offenders_2007-04.csv"
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    # GIVEN a row whose optional ethnicity and ward codes are spaces only
    row = lines[1].split(",")
    row[header.index("ETHNICITY")] = "   "
    row[header.index("WARD_CODE")] = " "
    lines[1] = ",".join(row)
    path.write_text("\n".join(lines) + "\n")
    with connect(settings, autocommit=True) as conn:
        ensure_schema(conn)
        result = load_file(conn, path)
        # THEN the row loads with both fields empty (null), and the fix is recorded
        assert result.rows_quarantined == 0
        loaded = conn.execute(
            "select ethnicity, ward_code from raw.ndelius_offenders where _line_number = 2"
        ).fetchone()
        fixes = conn.execute(
            "select count(*) from audit.load_fixes where fix = 'stray spaces removed'"
        ).fetchone()[0]
    assert loaded == (None, None)
    assert fixes >= 1


# -- hostile deliveries ---------------------------------------------------------------------
def test_a_file_without_a_header_line_leaves_no_personal_data_in_its_reason(settings):
    generate_landing(settings, scale=0.02, seed=29, dirt=0, window=("2007-05", "2007-05"))
    folder = settings.landing_dir / "ndelius"
    lines = (folder / "ndelius_offenders_2007-05.csv").read_text().splitlines()
    # GIVEN the offenders file without its header line, and again with an unterminated
    # quote opening its header
    headless = folder / "ndelius_offenders_2007-06.csv"
    headless.write_text("\n".join(lines[1:]) + "\n")
    quoted = folder / "ndelius_offenders_2007-07.csv"
    quoted.write_text('"' + "\n".join(lines) + "\n")
    first_row = [v for v in lines[1].split(",") if len(v) > 2]  # CRN, names, DOB, postcode
    with connect(settings, autocommit=True) as conn:
        ensure_schema(conn)
        # WHEN they are loaded
        results = [load_file(conn, p) for p in (headless, quoted)]
        reasons = [r[0] for r in conn.execute("select reason from audit.file_loads")]
    # THEN both are rejected, saying why, and no delivered value is in any reason
    assert [r.status for r in results] == ["rejected", "rejected"]
    assert "no header line" in results[0].reason
    assert "quote" in results[1].reason
    assert first_row
    assert not [(v, r) for v in first_row for r in reasons if v.upper() in r.upper()]


@pytest.mark.parametrize("folder", ["processed", "rejected"])
def test_a_done_folder_linked_outside_landing_moves_nothing_out(settings, tmp_path, folder):
    generate_landing(settings, scale=0.02, seed=31, dirt=0, window=("2006-01", "2006-01"))
    system = settings.landing_dir / "ndelius"
    path = system / "ndelius_events_2006-01.csv"
    if folder == "rejected":
        path.write_text("")  # a file the loader rejects
    # GIVEN the folder the file would move to is a link to a folder outside landing
    outside = tmp_path / "outside"
    outside.mkdir()
    (system / folder).symlink_to(outside)
    with connect(settings, autocommit=True) as conn:
        # WHEN the feed is loaded
        with pytest.raises(runner_error()) as raised:
            load_feed(conn, settings.landing_dir, "ndelius_events")
        recorded = conn.execute("select count(*) from audit.file_loads").fetchone()[0]
    # THEN nothing left landing, nothing was recorded, and the run names the folder
    assert list(outside.iterdir()) == []
    assert path.exists()
    assert recorded == 0
    assert f"{system / folder} is a symbolic link" in str(raised.value)


def test_a_link_for_the_landing_folders_rejected_moves_no_stray_out(settings, tmp_path):
    settings.landing_dir.mkdir(parents=True)
    stray = settings.landing_dir / "notes.txt"
    stray.write_text("not a delivery")
    outside = tmp_path / "outside"
    outside.mkdir()
    (settings.landing_dir / "rejected").symlink_to(outside)
    with connect(settings, autocommit=True) as conn:
        ensure_schema(conn)
        with pytest.raises(runner_error(), match="rejected is a symbolic link"):
            load_all(conn, settings.landing_dir)
    assert list(outside.iterdir()) == []
    assert stray.exists()


def test_a_file_where_processed_should_be_fails_the_path_before_it_is_recorded(settings):
    generate_landing(settings, scale=0.02, seed=31, dirt=0, window=("2006-01", "2006-01"))
    system = settings.landing_dir / "ndelius"
    path = system / "ndelius_events_2006-01.csv"
    (system / "processed").write_text("a file, not a folder")
    with connect(settings, autocommit=True) as conn:
        with pytest.raises(runner_error(), match="processed is not a folder"):
            load_feed(conn, settings.landing_dir, "ndelius_events")
        recorded = conn.execute("select count(*) from audit.file_loads").fetchone()[0]
        # WHEN the folder is put right THEN the next run loads the file
        (system / "processed").unlink()
        results = load_feed(conn, settings.landing_dir, "ndelius_events")
    assert recorded == 0
    assert [r.status for r in results] == ["loaded"]
    assert (system / "processed" / path.name).exists()


def test_a_dangling_link_named_like_a_file_is_rejected_like_any_link(settings):
    generate_landing(settings, scale=0.02, seed=31, dirt=0, window=("2006-01", "2006-01"))
    system = settings.landing_dir / "ndelius"
    (system / "ndelius_events_2006-02.csv").symlink_to("/nonexistent/x")
    with connect(settings, autocommit=True) as conn:
        results = load_feed(conn, settings.landing_dir, "ndelius_events")
    by_name = {r.file_name: r for r in results}
    dangling = by_name["ndelius_events_2006-02.csv"]
    assert (dangling.status, dangling.rows_in) == ("rejected", None)
    assert "symbolic link" in dangling.reason
    assert by_name["ndelius_events_2006-01.csv"].status == "loaded"
    assert (system / "rejected" / "ndelius_events_2006-02.csv").is_symlink()


def _events_in_raw(conn):
    return conn.execute(
        "select _load_id, count(*) from raw.ndelius_events group by 1 order by 1"
    ).fetchall()


@pytest.mark.parametrize("redelivery", ["header only", "every row quarantined"])
def test_a_revision_that_loads_no_rows_does_not_wipe_the_month(settings, redelivery):
    generate_landing(settings, scale=0.02, seed=37, dirt=0, window=("2007-04", "2007-04"))
    folder = settings.landing_dir / "ndelius"
    lines = (folder / "ndelius_events_2007-04.csv").read_text().splitlines()
    with connect(settings, autocommit=True) as conn:
        ensure_schema(conn)
        first = load_file(conn, folder / "ndelius_events_2007-04.csv")
        # GIVEN a re-delivery of the month that loads nothing
        header = lines[0].split(",")
        if redelivery == "header only":
            rows = []
        else:
            at = header.index("CONVICTION_DATE")
            rows = [
                ",".join(f if i != at else "not a date" for i, f in enumerate(line.split(",")))
                for line in lines[1:]
            ]
        again = folder / "ndelius_events_2007-04_r2.csv"
        again.write_text("\n".join([lines[0], *rows]) + "\n")
        # WHEN it is loaded
        second = load_file(conn, again)
        status = conn.execute(
            "select status from audit.file_loads where load_id = %s", [first.load_id]
        ).fetchone()[0]
        raw = _events_in_raw(conn)
        quarantined = conn.execute(
            "select count(distinct line_number) from audit.quarantine where load_id = %s",
            [second.load_id],
        ).fetchone()[0]
    # THEN it is rejected, the month keeps the earlier load's rows, and its rows are counted
    assert first.rows_loaded > 0
    assert second.status == "rejected"
    assert "revision loads no rows" in second.reason
    assert f"earlier load {first.load_id}" in second.reason
    assert (second.rows_in, second.rows_loaded) == (len(rows), 0)
    assert second.rows_quarantined == quarantined == len(rows)
    assert status == "loaded"
    assert raw == [(first.load_id, first.rows_loaded)]
    assert (folder / "rejected" / again.name).exists()
    assert_conservation(settings)


def test_an_older_revision_after_a_newer_one_is_rejected_and_the_newer_kept(settings):
    generate_landing(settings, scale=0.02, seed=41, dirt=0, window=("2007-02", "2007-02"))
    folder = settings.landing_dir / "ndelius"
    original = folder / "ndelius_events_2007-02.csv"
    kept = original.read_text()
    original.unlink()
    lines = kept.splitlines()
    # GIVEN the corrected revision (one row fewer) loaded first
    newer = folder / "ndelius_events_2007-02_r2.csv"
    newer.write_text("\n".join(lines[:-1]) + "\n")
    with connect(settings, autocommit=True) as conn:
        ensure_schema(conn)
        second = load_file(conn, newer)
        # WHEN the original arrives after it
        original.write_text(kept)
        first = load_file(conn, original)
        status = conn.execute(
            "select status from audit.file_loads where load_id = %s", [second.load_id]
        ).fetchone()[0]
        raw = _events_in_raw(conn)
    # THEN the original is rejected and the revision's rows stay
    assert first.status == "rejected"
    assert f"older than revision 2 already loaded (load {second.load_id})" in first.reason
    assert first.rows_in == len(lines) - 1
    assert status == "loaded"
    assert raw == [(second.load_id, len(lines) - 2)]
    assert (folder / "rejected" / original.name).exists()
    assert_conservation(settings)


def test_a_quote_or_line_end_that_folds_rows_together_rejects_the_file_counting_each_row(
    settings,
):
    generate_landing(settings, scale=0.02, seed=43, dirt=0, window=("2005-04", "2005-04"))
    folder = settings.landing_dir / "ndelius"
    source = folder / "ndelius_offenders_2005-04.csv"
    header, *rows = source.read_text().splitlines()
    source.unlink()
    lines = [header, *(rows * (200 // len(rows) + 1))[:200]]  # 200 rows, keys repeating
    at = header.split(",").index("FIRST_NAME")

    def named(index: int, value: str) -> str:
        row = lines[index].split(",")
        row[at] = value
        return ",".join(row)

    # GIVEN a first name whose quote never closes; one that closes 100 rows later; and rows
    # ending in CR only after a header ending in LF
    unclosed, closed_late, cr_rows = (folder / f"ndelius_offenders_2005-0{m}.csv" for m in "567")
    unclosed.write_text("\n".join([*lines[:3], named(3, '"Zeph'), *lines[4:]]) + "\n")
    edited = [*lines[:12], named(12, '"Zeph'), *lines[13:112], named(112, 'Quat"'), *lines[113:]]
    closed_late.write_text("\n".join(edited) + "\n")
    cr_rows.write_bytes((lines[0] + "\n" + "\r".join(lines[1:]) + "\r").encode())
    with connect(settings, autocommit=True) as conn:
        ensure_schema(conn)
        # WHEN they are loaded
        results = [load_file(conn, p) for p in (unclosed, closed_late, cr_rows)]
    # THEN each is rejected naming the line, every physical row counted, none loaded
    assert [r.status for r in results] == ["rejected"] * 3
    assert [(r.rows_in, r.rows_loaded) for r in results] == [(200, 0)] * 3
    assert "quoted field on line 4 does not close" in results[0].reason
    assert "quoted field on line 13 does not close" in results[1].reason
    assert "line endings change after the header: from line 2" in results[2].reason
    assert not [r for r in results if "Zeph" in r.reason or "Quat" in r.reason]
    assert all((folder / "rejected" / p.name).exists() for p in (unclosed, closed_late, cr_rows))
    assert_conservation(settings)


def test_a_rejected_file_sent_again_under_a_corrected_name_loads(settings):
    generate_landing(settings, scale=0.02, seed=47, dirt=0, window=("2007-12", "2007-12"))
    folder = settings.landing_dir / "ndelius"
    good = folder / "ndelius_events_2007-12.csv"
    content = good.read_bytes()
    good.unlink()
    # GIVEN the month's file rejected for its name (2007-13: not a real month)
    typo = folder / "ndelius_events_2007-13.csv"
    typo.write_bytes(content)
    with connect(settings, autocommit=True) as conn:
        ensure_schema(conn)
        first = load_file(conn, typo)
        # WHEN the same bytes come again under the corrected name
        good.write_bytes(content)
        second = load_file(conn, good)
        raw = _events_in_raw(conn)
    # THEN they load: the same content as a rejected file is no duplicate
    assert first.status == "rejected"
    assert second.status == "loaded"
    assert second.rows_loaded == second.rows_in == len(content.splitlines()) - 1
    assert raw == [(second.load_id, second.rows_loaded)]
    assert_conservation(settings)


@pytest.mark.parametrize("resent_as", ["the revision's name", "the same name"])
def test_a_superseded_file_sent_again_is_rejected_and_the_newer_load_kept(settings, resent_as):
    generate_landing(settings, scale=0.02, seed=53, dirt=0, window=("2007-01", "2007-01"))
    folder = settings.landing_dir / "ndelius"
    original = folder / "ndelius_events_2007-01.csv"
    kept = original.read_text()
    lines = kept.splitlines()
    # GIVEN the original loaded, then superseded by a correction (one row fewer) sent as
    # _r2, or under the same name (as a workbook is corrected)
    revision = "ndelius_events_2007-01_r2.csv" if resent_as == "the revision's name" else None
    newer = folder / (revision or original.name)
    with connect(settings, autocommit=True) as conn:
        ensure_schema(conn)
        first = load_file(conn, original)
        newer.write_text("\n".join(lines[:-1]) + "\n")
        second = load_file(conn, newer)
        # WHEN the original's bytes come again under the original's name
        original.write_text(kept)
        third = load_file(conn, original)
        statuses = conn.execute("select status from audit.file_loads order by load_id").fetchall()
        raw = _events_in_raw(conn)
    # THEN they are rejected (not a duplicate: counted, in rejected/), the correction kept
    assert [s for (s,) in statuses] == ["superseded", "loaded", "rejected"]
    assert first.load_id < second.load_id < third.load_id
    assert third.rows_in == len(lines) - 1
    assert raw == [(second.load_id, len(lines) - 2)]
    assert (folder / "rejected" / original.name).exists()
    assert_conservation(settings)


def _one_events_file(settings, seed: int, month: str):  # type: ignore[no-untyped-def]
    """A month's generated events file alone in its folder, and its lines."""
    generate_landing(settings, scale=0.02, seed=seed, dirt=0, window=(month, month))
    folder = settings.landing_dir / "ndelius"
    for other in folder.glob("*.csv"):
        if not other.name.startswith("ndelius_events_"):
            other.unlink()
    path = folder / f"ndelius_events_{month}.csv"
    return path, path.read_text().splitlines(keepends=True)


def test_a_file_still_being_delivered_is_left_in_landing_until_it_is_complete(settings):
    path, lines = _one_events_file(settings, 59, "2007-03")
    folder = path.parent
    half = len(lines) // 2
    # GIVEN half the file written by a writer that still holds it open, and uploads in
    # flight under the usual temporary names
    uploads = [folder / f"ndelius_events_2007-04.csv{s}" for s in (".part", ".tmp", ".partial")]
    uploads.append(folder / ".ndelius_events_2007-05.csv")
    for upload in uploads:
        upload.write_text("".join(lines))
    with path.open("w") as writer, connect(settings, autocommit=True) as conn:
        writer.write("".join(lines[:half]))
        writer.flush()
        # WHEN ingestion runs during the pause
        during = load_feed(conn, settings.landing_dir, "ndelius_events")
        recorded = conn.execute("select count(*) from audit.file_loads").fetchone()[0]
        # THEN nothing is picked up or recorded, and every path stays in landing
        assert (during, recorded) == ([], 0)
        assert path.exists() and all(u.exists() for u in uploads)
        writer.write("".join(lines[half:]))
    with connect(settings, autocommit=True) as conn:
        # WHEN the writer has finished, THEN the next run loads every row
        after = load_feed(conn, settings.landing_dir, "ndelius_events")
    assert [(r.file_name, r.status, r.rows_loaded) for r in after] == [
        (path.name, "loaded", len(lines) - 1)
    ]
    assert all(u.exists() for u in uploads)
    assert_conservation(settings)


def test_a_file_written_in_parts_waits_for_the_quiet_period(settings):
    import time

    from warehouse.pipeline import ingest_feed

    path, lines = _one_events_file(settings, 61, "2007-06")
    # GIVEN an uploader that wrote half the file and closed it (it reopens for the rest:
    # no process holds the file open in between)
    path.write_text("".join(lines[: len(lines) // 2]))
    # and another half-written file under a name that matches no feed, its modification
    # time set in 2099 (as `rsync -t` keeps a sender's)
    stray = path.with_name("ndelius_notes.csv")
    stray.write_text("NOTE\n")
    os.utime(stray, (4_070_908_800, 4_070_908_800))
    quiet = settings.model_copy(update={"landing_quiet_seconds": 30})
    # WHEN ingestion runs in the pause with a quiet period of 30 s
    assert ingest_feed(quiet, "ndelius_events") == []
    with connect(settings) as conn:
        assert conn.execute("select count(*) from audit.file_loads").fetchone() == (0,)
    assert path.exists() and stray.exists()
    # and the uploader finishes
    with path.open("a") as rest:
        rest.write("".join(lines[len(lines) // 2 :]))
    time.sleep(1.2)
    # THEN a run after both have been quiet long enough loads every row, and records the
    # stray (its future modification time does not hold it back)
    after = ingest_feed(settings.model_copy(update={"landing_quiet_seconds": 1}), "ndelius_events")
    assert sorted((r.file_name, r.status, r.rows_loaded) for r in after) == [
        (path.name, "loaded", len(lines) - 1),
        (stray.name, "rejected", 0),
    ]


def test_a_file_name_that_is_not_utf8_is_rejected_and_the_others_still_load(settings):
    generate_landing(settings, scale=0.02, seed=61, dirt=0, window=("2007-06", "2007-06"))
    folder = settings.landing_dir / "ndelius"
    for other in folder.glob("*.csv"):
        if not other.name.startswith("ndelius_events_"):
            other.unlink()
    # GIVEN a delivered file whose name is not UTF-8 beside the month's events file
    bad = os.path.join(os.fsencode(folder), b"bad\xffname.csv")
    with open(bad, "wb") as f:
        f.write(b"A,B\n1,2\n")
    with connect(settings, autocommit=True) as conn:
        ensure_schema(conn)
        # WHEN the feed runs (twice: the second run has nothing left to do)
        results = load_feed(conn, settings.landing_dir, "ndelius_events")
        again = load_feed(conn, settings.landing_dir, "ndelius_events")
    # THEN the events load, and the stray is rejected without its bytes in the reason
    by_status = {r.status: r for r in results}
    assert sorted(by_status) == ["loaded", "rejected"]
    rejected = by_status["rejected"]
    assert rejected.reason.startswith("file name is not UTF-8 text (12 bytes")
    assert "bad" not in rejected.reason and "name.csv" not in rejected.reason
    assert rejected.rows_in == 1
    assert again == []
    assert os.listdir(os.fsencode(folder / "rejected")) == [b"bad\xffname.csv"]
    assert_conservation(settings)


def test_a_long_stray_name_delivered_twice_is_moved_both_times(settings):
    folder = settings.landing_dir / "ndelius"
    folder.mkdir(parents=True)
    name = "x" * 246 + ".csv"  # 250 bytes: no room for ".load<id>" as it is
    with connect(settings, autocommit=True) as conn:
        ensure_schema(conn)
        results = []
        for _ in range(2):
            # GIVEN the stray delivered (again)
            (folder / name).write_text("A,B\n1,2\n")
            # WHEN a feed runs
            results += load_feed(conn, settings.landing_dir, "ndelius_events")
        recorded = conn.execute("select count(*) from audit.file_loads").fetchone()[0]
    # THEN each delivery is recorded once and moved, the second under a cut name that
    # keeps its load id
    assert [r.status for r in results] == ["rejected", "rejected"]
    assert recorded == 2
    assert not (folder / name).exists()
    moved = sorted(os.listdir(folder / "rejected"), key=len)
    assert moved[0] == name
    assert moved[1].endswith(f".load{results[1].load_id}")
    assert len(moved[1]) == 255


def test_an_empty_quoted_required_text_is_missing_even_on_an_upper_case_line(settings):
    generate_landing(settings, scale=0.02, seed=67, dirt=0, window=("2007-08", "2007-08"))
    path = settings.landing_dir / "ndelius" / "ndelius_offenders_2007-08.csv"
    lines = path.read_text().splitlines()
    at = lines[0].split(",").index("FIRST_NAME")
    # GIVEN a row in upper case without a space (nothing on it for the space and case
    # fixes; a postcode may omit its space) whose required first name is an empty quoted
    # field
    row = lines[1].upper().replace(" ", "").split(",")
    row[at] = '""'
    lines[1] = ",".join(row)
    path.write_text("\n".join(lines) + "\n")
    with connect(settings, autocommit=True) as conn:
        ensure_schema(conn)
        # WHEN it is loaded
        result = load_file(conn, path)
        quarantined = _quarantine(conn, result.load_id)
    # THEN the row is quarantined as missing its first name, like an empty field
    assert result.rows_quarantined == 1
    assert [(line, field) for line, field, _, _ in quarantined] == [(2, "first_name")]
    assert "required field is missing" in quarantined[0][3]


@pytest.mark.parametrize(
    "value", ["ZEPH\x1bYRINA", "ZEPH\x7fYRINA", "ZEPH\tYRINA", "ZEPH\u202eANIRYH", "\u2066ZEPH"]
)
def test_a_control_or_bidi_character_in_a_text_field_quarantines_the_row_naming_it(settings, value):
    generate_landing(settings, scale=0.02, seed=71, dirt=0, window=("2007-09", "2007-09"))
    path = settings.landing_dir / "ndelius" / "ndelius_offenders_2007-09.csv"
    # GIVEN a first name holding a control or bidirectional-override character
    result, quarantined = _load_edited(settings, path, {2: {"FIRST_NAME": value}})
    # THEN its row is quarantined naming the field, the others load
    assert result.status == "loaded"
    assert result.rows_quarantined == 1
    assert [(line, field) for line, field, _, _ in quarantined] == [(3, "first_name")]
    assert "control character or a bidirectional override" in quarantined[0][3]


def test_rows_of_another_month_are_quarantined_not_loaded_as_the_files_month(settings):
    generate_landing(settings, scale=0.02, seed=73, dirt=0, window=("2008-06", "2008-06"))
    path = settings.landing_dir / "gmac" / "gmac_crime_2008-06.csv"
    # GIVEN June 2008's crime file holding two rows of other months
    edits = {1: {"PERIOD": "2006-04"}, 3: {"PERIOD": "2008-07"}}
    result, quarantined = _load_edited(settings, path, edits)
    # THEN those rows are quarantined naming the field and both periods; June's rows load
    assert result.status == "loaded"
    assert result.rows_quarantined == 2
    assert [(line, field, value) for line, field, value, _ in quarantined] == [
        (2, "period", "2006-04"),
        (4, "period", "2008-07"),
    ]
    assert "not in the file's period 2008-06" in quarantined[0][3]
    with connect(settings) as conn:
        months = conn.execute("select distinct period from raw.gmac_crime").fetchall()
    assert months == [("2008-06",)]


def test_a_ledger_row_outside_its_financial_year_is_quarantined(settings):
    from openpyxl import load_workbook

    generate_landing(settings, scale=0.02, seed=79, dirt=0, window=("2007-04", "2008-03"))
    path = settings.landing_dir / "finance" / "finance_ledger_2007-08.xlsx"
    book = load_workbook(path)
    sheet = book["Ledger"]
    at = [c.value for c in sheet[1]].index("PERIOD") + 1
    # GIVEN the 2007/08 ledger with one row of April 2008 (the next year's first month)
    sheet.cell(row=2, column=at, value="2008-04")
    book.save(path)
    with connect(settings, autocommit=True) as conn:
        ensure_schema(conn)
        result = load_file(conn, path)
        quarantined = _quarantine(conn, result.load_id)
        months = conn.execute("select distinct period from raw.finance_ledger order by 1")
        months = [m for (m,) in months.fetchall()]
    # THEN that row is quarantined; the year's twelve months, March 2008 the last, load
    assert result.status == "loaded"
    assert [(line, field, value) for line, field, value, _ in quarantined] == [
        (2, "period", "2008-04")
    ]
    assert months == [f"2007-{m:02d}" for m in range(4, 13)] + ["2008-01", "2008-02", "2008-03"]


def _validator_connections(monkeypatch) -> list:  # type: ignore[no-untyped-def]
    """(connection, backend pid) of each connection ingestion.validation opens (GX's own
    engine aside), kept: one left open shows as not closed."""
    import ingestion.validation as validation

    opened = []
    real_connect = validation.psycopg.connect

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        conn = real_connect(*args, **kwargs)
        if sys._getframe(1).f_code.co_filename == validation.__file__:
            opened.append((conn, conn.info.backend_pid))
        return conn

    monkeypatch.setattr(validation.psycopg, "connect", counted)
    return opened


def _gx_found_rows_in(conn, results) -> set[int]:  # type: ignore[no-untyped-def]
    return {
        r.load_id
        for r in results
        if any("(expect_" in reason for *_, reason in _quarantine(conn, r.load_id))
    }


def test_a_feeds_files_share_one_suspects_connection_which_is_closed_after(settings, monkeypatch):
    # GIVEN three months of a feed, its files with rows its GX suite fails
    generate_landing(settings, scale=0.1, seed=29, dirt=0.3, window=("2008-01", "2008-03"))
    opened = _validator_connections(monkeypatch)
    with connect(settings, autocommit=True) as conn:
        ensure_schema(conn)
        # WHEN the feed loads
        results = load_feed(conn, settings.landing_dir, "ndelius_offenders")
        # THEN each file's failing rows were found, through one connection for all the files
        assert len(results) == 3 and len(_gx_found_rows_in(conn, results)) == 3, results
    # and it is closed once the feed is loaded
    assert len(opened) == 1 and opened[0][0].closed
    # and a file loaded on its own closes the one it opened
    generate_landing(settings, scale=0.1, seed=29, dirt=0.3, window=("2008-04", "2008-04"))
    with connect(settings, autocommit=True) as conn:
        alone = load_file(conn, settings.landing_dir / "ndelius" / "ndelius_offenders_2008-04.csv")
        assert _gx_found_rows_in(conn, [alone])
    assert len(opened) == 2 and opened[1][0].closed


def test_a_suspects_connection_that_died_between_files_is_opened_again(settings, monkeypatch):
    # GIVEN two months of a feed with rows its GX suite fails
    generate_landing(settings, scale=0.1, seed=29, dirt=0.3, window=("2008-01", "2008-02"))
    opened = _validator_connections(monkeypatch)

    def end_the_kept_session(result) -> None:  # type: ignore[no-untyped-def]
        # as a server's idle_session_timeout or pg_terminate_backend would, between files
        with connect(settings, autocommit=True) as other:
            for _, pid in opened:
                other.execute("select pg_terminate_backend(%s)", [pid])

    with connect(settings, autocommit=True) as conn:
        ensure_schema(conn)
        # WHEN the feed loads and the validator's connection is ended after the first file
        results = load_feed(
            conn, settings.landing_dir, "ndelius_offenders", on_file=end_the_kept_session
        )
        # THEN the second file's failing rows are found on a new connection, and both load
        assert [r.status for r in results] == ["loaded", "loaded"], results
        assert len(_gx_found_rows_in(conn, results)) == 2
    assert len(opened) == 2
