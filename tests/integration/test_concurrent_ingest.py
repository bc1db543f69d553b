"""Two ingestion runs at once, and a file that changes while it is read."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ingestion.ddl import ensure_schema
from ingestion.loader import load_file
from warehouse.db import connect
from warehouse.pipeline import assert_conservation, generate_landing

pytestmark = pytest.mark.integration

WAREHOUSE = Path(sys.executable).with_name("warehouse")


def test_two_warehouse_ingest_runs_at_once_both_succeed_and_load_each_file_once(settings):
    # GIVEN a dirty delivery of every feed for two months (empty files, bad headers too)
    report = generate_landing(
        settings, scale=0.02, seed=29, dirt=0.05, window=("2007-02", "2007-03")
    )
    (settings.landing_dir / "ndelius" / "ndelius_events 2007-02.csv").write_text("x\n")
    with connect(settings, autocommit=True) as conn:
        ensure_schema(conn)
    # WHEN two `warehouse ingest` processes run over the same landing folder at once
    runs = [
        subprocess.Popen(
            [str(WAREHOUSE), "ingest"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=os.environ.copy(),
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=900)[0] for run in runs]
    # THEN both exit 0, and every delivered path is recorded once, loaded once
    assert [run.returncode for run in runs] == [0, 0], outputs
    with connect(settings) as conn:
        names = [r[0] for r in conn.execute("select file_name from audit.file_loads")]
        staging_left = conn.execute(
            "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            " where n.nspname = 'landing'"
        ).fetchone()[0]
        partitions = conn.execute(
            "select count(*) from audit.file_loads f where status = 'loaded'"
            " and to_regclass('raw.' || f.feed || '__' || f.load_id) is null"
        ).fetchone()[0]
    assert sorted(names) == sorted([*report.files, "ndelius_events 2007-02.csv"])
    assert staging_left == 0
    assert partitions == 0
    assert_conservation(settings)


def test_a_file_changed_while_read_is_left_for_a_later_run_and_loads_with_its_final_hash(
    settings, monkeypatch
):
    from ingestion.reading import RecordReader

    generate_landing(settings, scale=0.02, seed=31, dirt=0, window=("2008-04", "2008-04"))
    path = settings.landing_dir / "oasys" / "oasys_objectives_2008-04.csv"
    extra = path.read_text().splitlines()[-1] + "\n"
    real_read = RecordReader._read
    reads = []

    def appends_while_reading(self):
        reads.append(1)
        if len(reads) == 2:  # a supplier's process still writing the file
            with path.open("a") as f:
                f.write(extra.replace(extra.split(",")[0], "9999999", 1))
        return real_read(self)

    monkeypatch.setattr(RecordReader, "_read", appends_while_reading)
    with connect(settings, autocommit=True) as conn:
        ensure_schema(conn)
        # WHEN the file grows while the loader reads it
        first = load_file(conn, path, chunk_rows=10, read_bytes=512)
        monkeypatch.setattr(RecordReader, "_read", real_read)
        # THEN nothing is recorded or loaded, and the file stays in landing
        assert first.status == "skipped"
        assert conn.execute("select count(*) from audit.file_loads").fetchone()[0] == 0
        assert conn.execute("select count(*) from raw.oasys_objectives").fetchone()[0] == 0
        assert path.exists()
        # AND the next run loads it, recording the hash of the bytes it loaded
        second = load_file(conn, path, move=False)
        sha = conn.execute(
            "select sha256 from audit.file_loads where load_id = %s", [second.load_id]
        ).fetchone()[0]
    assert second.status == "loaded"
    assert sha == hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_schema_check_of_one_feeds_run_waits_on_no_other_feeds_load(settings):
    # GIVEN another feed's load in progress: it has written audit.quarantine and
    # audit.file_loads rows in its open transaction
    with connect(settings, autocommit=True) as conn:
        ensure_schema(conn)
    with connect(settings) as loading, connect(settings) as starting:
        loading.execute("lock table audit.quarantine, audit.file_loads in row exclusive mode")
        # WHEN a run of another feed starts, and checks the schema first
        starting.execute("set lock_timeout = '2s'")
        ensure_schema(starting)  # THEN it does not wait (a lock wait times out and fails)
        # and a changed schema (a new version) is still made, once the load commits
        loading.rollback()
        starting.execute("update audit.schema_version set digest = repeat('0', 64)")
        starting.commit()
        ensure_schema(starting)
        digest = starting.execute("select digest from audit.schema_version").fetchall()
    assert [d for (d,) in digest if d != "0" * 64] and len(digest) == 1
