"""The default dataset end to end (generate -> validated ingestion -> dbt build -> Soda),
then the calibration figures of ../shared/calibration.md out of the marts, and the
incremental facts after one more day of files.

One warehouse for the session (``default_warehouse`` in conftest.py): the build takes
minutes, and the sharing and access tests read it too.
"""

from __future__ import annotations

import pytest

from warehouse.calibration import measure, table
from warehouse.db import connect
from warehouse.pipeline import ingest_feed
from warehouse.quality import verify_contracts
from warehouse.settings import Settings
from warehouse.transform import run_dbt

pytestmark = pytest.mark.integration


def test_every_mart_builds_with_dbt_tests_and_soda_contracts_passing(default_warehouse):
    # run_dbt raised in the fixture if any model, unit test or data test failed
    report = verify_contracts(default_warehouse)
    with connect(default_warehouse) as conn:
        marts = {
            name
            for (name,) in conn.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            )
        }
    assert marts <= set(report.results), (
        f"marts without a Soda contract: {marts - set(report.results)}"
    )
    assert report.checks_failed == 0 and report.checks_passed > 0


def test_calibration_figures_come_back_out_of_the_marts(default_warehouse, capsys):
    with connect(default_warehouse) as conn:
        figures = measure(conn, default_warehouse.scale)
    with capsys.disabled():
        print("\n" + table(figures))
    missed = [f"{f.name}: target {f.target}, actual {f.actual}" for f in figures if not f.ok]
    assert not missed, "calibration figures out of tolerance:\n" + "\n".join(missed)


def _fingerprint(settings: Settings, table: str) -> tuple[int, str]:
    with connect(settings) as conn:
        return conn.execute(
            f"select count(*), md5(coalesce(string_agg(t::text, '|' order by t::text), ''))"
            f" from (select * from marts.{table}) t"
        ).fetchone()


def test_an_incremental_build_after_a_redelivery_equals_a_full_rebuild(default_warehouse):
    settings = default_warehouse
    processed = settings.landing_dir / "ndelius" / "processed"
    original = (processed / "ndelius_disposals_2009-03.csv").read_text().splitlines()
    header = original[0].split(",")
    start, ended, reason, version = (
        header.index(c)
        for c in ("START_DATE", "TERMINATION_DATE", "TERMINATION_REASON", "ROW_VERSION")
    )
    # GIVEN a corrected re-delivery of March 2009: twenty sentences ended early
    lines, changed = [original[0]], 0
    for line in original[1:]:
        fields = line.split(",")
        if changed < 20 and len(fields) == len(header) and fields[start] and not fields[ended]:
            fields[ended], fields[reason] = fields[start], "REVOKED"
            fields[version] = str(int(fields[version]) + 1)
            changed += 1
        lines.append(",".join(fields))
    assert changed == 20
    inbox = settings.landing_dir / "ndelius" / "ndelius_disposals_2009-03_r3.csv"
    inbox.write_text("\n".join(lines) + "\n")
    before = _fingerprint(settings, "fct_caseload_monthly")
    # WHEN it is loaded and the daily (incremental) build runs
    ingest_feed(settings, "ndelius_disposals")
    run_dbt(settings, "build")
    incremental = {
        t: _fingerprint(settings, t) for t in ("fct_caseload_monthly", "fct_assessment_needs")
    }
    # THEN the incremental facts changed, and equal a full rebuild of the same data
    assert incremental["fct_caseload_monthly"] != before
    run_dbt(settings, "build", "--full-refresh")
    full = {t: _fingerprint(settings, t) for t in ("fct_caseload_monthly", "fct_assessment_needs")}
    assert incremental == full
