"""dbt's unique and not_null tests on PostgreSQL answer from the catalogue when a validated
constraint proves them (dbt_project/macros/constraint_backed_tests.sql): no scan while the
constraint holds, and the full check the moment it does not. The marts' foreign keys are
declared NOT ENFORCED (dbt_project/macros/foreign_keys.sql): their relationships tests are
the proof, on an incremental fact its latest build's rows plus the rows holding a key a
dimension's rebuild lost (audit.lost_dimension_keys)."""

from __future__ import annotations

import json

import pytest

from warehouse.db import connect
from warehouse.transform import DbtFailed, run_dbt

pytestmark = pytest.mark.integration

# a test of each kind a constraint proves: a table mart's primary key, an incremental
# mart's NOT NULL key (its tests read the latest build's rows); and an incremental mart's
# foreign key, which its test proves
UNIQUE = "unique_fct_convictions_conviction_id"
NOT_NULL = "not_null_fct_caseload_monthly_caseload_month_id"
RELATIONSHIPS = "relationships_fct_assessment_items_item_code__item_code__ref_dim_oasys_item_"
TESTS = (UNIQUE, NOT_NULL, RELATIONSHIPS)
PROVED = (UNIQUE, NOT_NULL)


def _compiled(settings) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Each test of the last dbt run: name -> its SQL as run."""
    results = json.loads((settings.home / "dbt-target" / "run_results.json").read_text())
    return {r["unique_id"].split(".")[2]: r["compiled_code"] for r in results["results"]}


def test_a_test_a_constraint_proves_reads_no_row_of_the_mart(module_warehouse_copy):
    settings = module_warehouse_copy
    report = run_dbt(settings, "test", "--select", *PROVED)
    assert report.count("test", "pass") == len(PROVED)
    compiled = _compiled(settings)
    for name, mart in zip(PROVED, ("fct_convictions", "fct_caseload_monthly"), strict=True):
        with connect(settings) as conn:
            plan = "\n".join(
                r[0]
                for r in conn.execute(
                    "explain (analyze, costs off, timing off, summary off) " + compiled[name]
                )
            )
        # the test is about the mart, and no scan of it runs (PostgreSQL may also drop the
        # scan when planning: `caseload_month_id is null` on a NOT NULL column)
        assert f'"marts"."{mart}"' in compiled[name]
        scans = [line for line in plan.splitlines() if f"on {mart}" in line and "Scan" in line]
        read = [line for line in scans if "never executed" not in line]
        assert read == [], plan


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
            "alter table marts.fct_caseload_monthly alter column caseload_month_id drop not null"
        )
        # (rows of a build after the one whose tests passed: the tests of an incremental
        # mart read the rows built since they last passed)
        later = ", built_at = built_at + interval '1 second' where ctid = "
        conn.execute(
            """insert into marts.fct_convictions
            select * from marts.fct_convictions order by conviction_id limit 1"""
        )
        conn.execute(
            "update marts.fct_convictions set conviction_id = conviction_id"
            + later
            + "any(select ctid from marts.fct_convictions where conviction_id ="
            " (select min(conviction_id) from marts.fct_convictions))"
        )
        conn.execute(
            "update marts.fct_caseload_monthly set caseload_month_id = null"
            + later
            + "(select min(ctid) from marts.fct_caseload_monthly)"
        )
        conn.execute(
            "update marts.fct_assessment_items set item_code = '99.9'"
            + later
            + "(select min(ctid) from marts.fct_assessment_items)"
        )
    # WHEN the tests run
    with pytest.raises(DbtFailed) as failed:
        run_dbt(module_warehouse_copy, "test", "--select", *TESTS)
    # THEN each of them fails
    for name in TESTS:
        assert name in str(failed.value), str(failed.value)


def test_a_key_a_dimensions_rebuild_loses_is_found_in_an_incremental_facts_older_rows(
    warehouse_copy,
):
    # GIVEN one OASys item whose fact rows an earlier build wrote, before the fact's tests
    # last passed: they do not read them again
    with connect(warehouse_copy) as conn:
        (item,) = conn.execute("select min(item_code) from marts.dim_oasys_item").fetchone()
        conn.execute(
            "update marts.fct_assessment_items set built_at = built_at - interval '1 day'"
            " where item_code = %s",
            (item,),
        )
        conn.execute(
            "create table public.saved_item as"
            " select * from reference.ref_oasys_items where item_code = %s",
            (item,),
        )
        # WHEN the item leaves the reference data and the dimension is rebuilt alone
        conn.execute("delete from reference.ref_oasys_items where item_code = %s", (item,))
    with pytest.raises(DbtFailed) as failed:
        run_dbt(warehouse_copy, "build", "--select", "dim_oasys_item")
    # THEN the build fails on the fact's relationships test (dbt runs the tests of every
    # model a rebuilt one is related to), the ledger holding the key the dimension lost
    assert RELATIONSHIPS in str(failed.value), str(failed.value)
    with connect(warehouse_copy) as conn:
        assert conn.execute(
            "select dimension, key_column, key_value from audit.lost_dimension_keys"
        ).fetchall() == [("marts.dim_oasys_item", "item_code", item)]
        # WHEN the item comes back
        conn.execute("insert into reference.ref_oasys_items table public.saved_item")
    report = run_dbt(warehouse_copy, "build", "--select", "dim_oasys_item")
    # THEN the key leaves the ledger and the test passes again
    assert [status for uid, (status, _) in report.nodes.items() if RELATIONSHIPS in uid] == ["pass"]
    with connect(warehouse_copy) as conn:
        assert conn.execute("select count(*) from audit.lost_dimension_keys").fetchone() == (0,)


def test_a_failing_test_of_an_incremental_fact_fails_again_after_a_newer_build(warehouse_copy):
    # GIVEN a fact row a build wrote with an item no dimension holds (the key is NOT
    # ENFORCED: PostgreSQL takes the write), and the relationships test failing on it
    with connect(warehouse_copy) as conn:
        (item,) = conn.execute(
            "update marts.fct_assessment_items as broken set item_code = '99.9',"
            " built_at = broken.built_at + interval '1 second'"
            " from marts.fct_assessment_items as kept"
            " where broken.ctid = (select min(ctid) from marts.fct_assessment_items)"
            " and kept.ctid = broken.ctid returning kept.item_code"
        ).fetchone()
    with pytest.raises(DbtFailed, match=RELATIONSHIPS):
        run_dbt(warehouse_copy, "test", "--select", RELATIONSHIPS)
    # WHEN a newer build writes rows of its own
    with connect(warehouse_copy) as conn:
        conn.execute(
            "update marts.fct_assessment_items set built_at = built_at + interval '1 minute'"
            " where ctid = (select max(ctid) from marts.fct_assessment_items)"
        )
    # THEN the test still reads the row it failed on (not only the latest build's)
    with pytest.raises(DbtFailed, match=RELATIONSHIPS):
        run_dbt(warehouse_copy, "test", "--select", RELATIONSHIPS)
    # and once the row is mended it passes, and from then on reads only later rows
    with connect(warehouse_copy) as conn:
        conn.execute(
            "update marts.fct_assessment_items set item_code = %s where item_code = '99.9'",
            (item,),
        )
    run_dbt(warehouse_copy, "test", "--select", RELATIONSHIPS)
    compiled = _compiled(warehouse_copy)[RELATIONSHIPS]
    with connect(warehouse_copy) as conn:
        (latest,) = conn.execute("select max(built_at) from marts.fct_assessment_items").fetchone()
        (proven,) = conn.execute(
            "select proven_until from audit.test_proofs where test_id like %s",
            (f"%.{RELATIONSHIPS}.%",),
        ).fetchone()
    assert proven == latest and "built_at > timestamptz" in compiled
