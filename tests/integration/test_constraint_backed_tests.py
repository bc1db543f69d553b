"""dbt's unique, not_null and relationships tests on PostgreSQL answer from the catalogue
when a validated constraint proves them (dbt_project/macros/constraint_backed_tests.sql):
no scan while the constraint holds, and the full check the moment it does not."""

from __future__ import annotations

import json

import pytest

from warehouse.db import connect
from warehouse.transform import DbtFailed, run_dbt

pytestmark = pytest.mark.integration

# one test of each kind, each on a column whose constraint proves it: a table mart's
# primary key, an incremental mart's NOT NULL key (its tests read the latest build's rows)
# and an incremental mart's foreign key
UNIQUE = "unique_fct_convictions_conviction_id"
NOT_NULL = "not_null_fct_caseload_monthly_caseload_month_id"
RELATIONSHIPS = "relationships_fct_assessment_items_item_code__item_code__ref_dim_oasys_item_"
TESTS = (UNIQUE, NOT_NULL, RELATIONSHIPS)


def _compiled(settings) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Each test of the last dbt run: name -> its SQL as run."""
    results = json.loads((settings.home / "dbt-target" / "run_results.json").read_text())
    return {r["unique_id"].split(".")[2]: r["compiled_code"] for r in results["results"]}


def test_a_test_a_constraint_proves_reads_no_row_of_the_mart(module_warehouse_copy):
    settings = module_warehouse_copy
    report = run_dbt(settings, "test", "--select", *TESTS)
    assert report.count("test", "pass") == len(TESTS)
    compiled = _compiled(settings)
    for name, mart in zip(
        TESTS, ("fct_convictions", "fct_caseload_monthly", "fct_assessment_items"), strict=True
    ):
        with connect(settings) as conn:
            plan = "\n".join(
                r[0]
                for r in conn.execute(
                    "explain (analyze, costs off, timing off, summary off) " + compiled[name]
                )
            )
        scans = [line for line in plan.splitlines() if f"on {mart}" in line and "Scan" in line]
        # (the latest build's time is read from the built_at index: one row)
        read = [line for line in scans if "never executed" not in line and "Backward" not in line]
        assert scans and read == [], plan


def test_without_the_constraint_each_test_finds_the_broken_row(module_warehouse_copy):
    # GIVEN each constraint dropped, and a row breaking what it guaranteed
    with connect(module_warehouse_copy) as conn:
        for table, kind in (
            ("fct_convictions", "p"),
            ("fct_caseload_monthly", "p"),
            ("fct_assessment_items", "f"),
        ):
            (name,) = conn.execute(
                f"""select conname from pg_constraint
                where conrelid = 'marts.{table}'::regclass and contype = '{kind}'
                    and confrelid in (0, 'marts.dim_oasys_item'::regclass)"""
            ).fetchone()
            conn.execute(f"alter table marts.{table} drop constraint {name} cascade")
        conn.execute(
            """insert into marts.fct_convictions
            select * from marts.fct_convictions order by conviction_id limit 1"""
        )
        conn.execute(
            "alter table marts.fct_caseload_monthly alter column caseload_month_id drop not null"
        )
        latest = "built_at = (select max(built_at) from marts.{0})"
        conn.execute(
            "update marts.fct_caseload_monthly set caseload_month_id = null where ctid = "
            "(select min(ctid) from marts.fct_caseload_monthly where "
            + latest.format("fct_caseload_monthly")
            + ")"
        )
        conn.execute(
            "update marts.fct_assessment_items set item_code = '99.9' where ctid = "
            "(select min(ctid) from marts.fct_assessment_items where "
            + latest.format("fct_assessment_items")
            + ")"
        )
    # WHEN the tests run
    with pytest.raises(DbtFailed) as failed:
        run_dbt(module_warehouse_copy, "test", "--select", *TESTS)
    # THEN each of them fails
    for name in TESTS:
        assert name in str(failed.value), str(failed.value)
