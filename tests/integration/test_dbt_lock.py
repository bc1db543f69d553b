"""One dbt command that writes or tests a warehouse at a time (warehouse/transform.py,
``_one_invocation_at_a_time``): a test's proof and a dimension's lost keys are recorded
assuming no other build commits in between (dbt_project/macros/incremental.sql)."""

from __future__ import annotations

import threading
import time

import pytest

from warehouse.db import connect
from warehouse.transform import INVOCATION_LOCK, run_dbt

pytestmark = pytest.mark.integration


def _waiting_for_the_lock(settings) -> int:  # type: ignore[no-untyped-def]
    with connect(settings, autocommit=True) as conn:
        (waiting,) = conn.execute(
            "select count(*) from pg_locks where locktype = 'advisory' and not granted"
            " and objid = %s and database = (select oid from pg_database"
            " where datname = current_database())",
            (INVOCATION_LOCK,),
        ).fetchone()
    return waiting


def test_a_dbt_command_that_writes_the_warehouse_waits_for_the_one_running(settings):
    # GIVEN another invocation holding the warehouse's dbt lock
    holder = connect(settings, autocommit=True)
    holder.execute("select pg_advisory_lock(%s)", (INVOCATION_LOCK,))
    finished = threading.Event()
    failed: list[BaseException] = []

    def seed() -> None:
        try:
            run_dbt(settings, "seed", "--select", "ref_ethnicity")
        except BaseException as exc:  # reported below
            failed.append(exc)
        finally:
            finished.set()

    try:
        # WHEN a seed starts
        threading.Thread(target=seed, daemon=True).start()
        deadline = time.monotonic() + 60
        while not _waiting_for_the_lock(settings) and time.monotonic() < deadline:
            assert not finished.is_set(), f"ran beside the other invocation: {failed}"
            time.sleep(0.2)
        # THEN it waits for the lock, and writes nothing meanwhile
        assert _waiting_for_the_lock(settings) == 1
        with connect(settings) as conn:
            assert conn.execute("select to_regclass('reference.ref_ethnicity')").fetchone() == (
                None,
            )
    finally:
        holder.close()
    # and runs once the other one ends
    assert finished.wait(timeout=300) and not failed, failed
    with connect(settings) as conn:
        assert conn.execute("select count(*) from reference.ref_ethnicity").fetchone()[0] > 0


def test_a_command_that_runs_nodes_reports_them_in_run_results_and_leaves_the_manifests(settings):
    import json

    from warehouse.transform import parse

    # GIVEN the warehouse's project parsed (as `make run` prepares it): its manifests
    manifest = parse(settings)
    semantic = manifest.with_name("semantic_manifest.json")
    written = {path: path.read_bytes() for path in (manifest, semantic)}
    # WHEN a command that runs nodes runs (twice: the second one's results replace the first's)
    run_dbt(settings, "seed", "--select", "ref_ethnicity")
    run_dbt(settings, "seed", "--select", "ref_courts")
    # THEN run_results.json is that command's, for whoever debugs a build
    results = json.loads(manifest.with_name("run_results.json").read_text())
    ran = {r["unique_id"] for r in results["results"] if r["unique_id"].startswith("seed.")}
    assert ran == {"seed.probation_warehouse.ref_courts"}
    assert results["args"]["which"] == "seed"
    # and the manifests (which `mf query` reads) are parse's, not written again (~1.1 s a
    # command)
    assert {path: path.read_bytes() for path in written} == written
