"""The default dataset end to end (generate -> validated ingestion -> dbt build -> Soda),
then the calibration figures of ../shared/calibration.md out of the marts (the daily run
after one more day of files is in test_transform_daily_run.py).

One warehouse for the session (``default_warehouse`` in conftest.py): the build takes
minutes, and the sharing and access tests read it too.
"""

from __future__ import annotations

import json
import re

import pytest

from warehouse.calibration import measure
from warehouse.db import connect
from warehouse.display import calibration_table
from warehouse.quality import ANALYTICS_CONTRACTS_DIR, verify_contracts
from warehouse.transform import parse, run_dbt

pytestmark = pytest.mark.integration


def test_every_mart_builds_with_dbt_tests_and_soda_contracts_passing(default_warehouse):
    # run_dbt raised in the fixture if any model, unit test or data test failed
    report = verify_contracts(default_warehouse)
    analytics = verify_contracts(default_warehouse, folder=ANALYTICS_CONTRACTS_DIR)
    with connect(default_warehouse) as conn:
        marts = {
            name
            for (name,) in conn.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            )
        }
    contracts = set(report.results) | set(analytics.results)
    assert marts <= contracts, f"marts without a Soda contract: {marts - contracts}"
    assert report.checks_failed == 0 and report.checks_passed > 0
    assert analytics.checks_failed == 0 and analytics.checks_passed > 0


def test_calibration_figures_come_back_out_of_the_marts(default_warehouse, capsys):
    with connect(default_warehouse) as conn:
        figures = measure(conn, default_warehouse.scale)
    with capsys.disabled():
        print("\n" + calibration_table(figures))
    missed = [f"{f.name}: target {f.target}, actual {f.actual}" for f in figures if not f.ok]
    assert not missed, "calibration figures out of tolerance:\n" + "\n".join(missed)


def test_no_reoffending_rate_is_shown_for_an_incomplete_cohort(default_warehouse):
    """Issue 14: the reporting marts hold complete cohorts only (every member's follow-up
    and waiting period ended by the data end date); the person-level fact keeps the others,
    flagged; the district profile names the cohort its rates come from."""
    with connect(default_warehouse) as conn:
        complete = {
            year
            for (year,) in conn.execute(
                """select cohort_year from marts.fct_reoffending_cohort group by 1
                having bool_and(is_follow_up_complete)"""
            )
        }
        incomplete = {
            year
            for (year,) in conn.execute(
                """select cohort_year from marts.fct_reoffending_cohort group by 1
                having not bool_and(is_follow_up_complete)"""
            )
        }
        summary = {
            y for (y,) in conn.execute("select cohort_year from marts.fct_reoffending_summary")
        }
        profile = conn.execute(
            """select financial_year, reoffending_cohort_year, reoffending_binary_rate
            from marts.jsna_district_profile"""
        ).fetchall()
    assert incomplete and complete  # the default data ends inside a follow-up
    assert summary == complete
    for year, cohort, rate in profile:
        assert rate is None or (cohort in complete and cohort <= year), (year, cohort)


def _subplans(node: dict) -> list[str]:
    """SubPlans (re-run per outer row) in an EXPLAIN (format json) plan; InitPlans (run
    once) and hashed SubPlans (one hash table) are fine."""
    found = []
    name = node.get("Subplan Name", "")
    if node.get("Parent Relationship") == "SubPlan" and not name.startswith("hashed"):
        found.append(f"{name}: {node['Node Type']} of ~{node.get('Plan Rows')} rows")
    for child in node.get("Plans", []):
        found += _subplans(child)
    return found


def test_no_incremental_model_plans_a_subquery_rerun_per_row(default_warehouse, tmp_path):
    # GIVEN each incremental model compiled as the daily run compiles it (its table exists)
    run_dbt(
        default_warehouse,
        "compile",
        "--select",
        "config.materialized:incremental,resource_type:model",
        "--target-path",
        str(tmp_path),
    )
    compiled = sorted((tmp_path / "compiled").rglob("models/**/*.sql"))
    assert len(compiled) >= 6
    # WHEN PostgreSQL plans it THEN no subquery is re-run per row: such a plan only works
    # while the subquery's rows fit in work_mem (it ran for 20+ minutes at scale 16)
    with connect(default_warehouse) as conn:
        for path in compiled:
            sql = path.read_text()
            # a model rebuilt by keys reads the keys its pre-hook stages
            # (stage_changed_keys): staged here from its own table, every key changed
            for key, staged in set(re.findall(r"select (\w+) from (\w+)__changed_keys", sql)):
                conn.execute(
                    f"create temp table if not exists {staged}__changed_keys as"
                    f" select distinct {key} from {_schema_of(conn, staged)}.{staged}"
                )
                conn.execute(f"analyze {staged}__changed_keys")
            plan = conn.execute("explain (format json) " + sql).fetchone()[0]
            assert _subplans(plan[0]["Plan"]) == [], path.stem


def test_every_table_rebuilt_by_assessment_has_an_index_led_by_its_key(default_warehouse):
    """A daily run deletes the keys an incremental model rebuilds before inserting them. Keyed
    by assessment (or below), they are mostly new assessments, few of the table's rows: the
    key's index finds them, where a scan read the whole table (at scale 16 the scored needs'
    558k keys: ~10 s of 3 GB scanned, 1.8 s through the index). Keyed by offender, a day's
    keys are about a third of the offenders: the scan is the cheaper delete (an index on
    offender_id made each of the seven deletes it was tried on slower, measured)."""
    # GIVEN the project's incremental models rebuilt by a key other than the offender
    manifest = json.loads(parse(default_warehouse).read_text())
    keys = {
        (node["schema"], node["alias"]): node["config"]["unique_key"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
        and node["config"].get("materialized") == "incremental"
        and node["config"]["unique_key"] != "offender_id"
    }
    assert len(keys) >= 6
    # WHEN the built warehouse's indexes are read (the first column of each)
    with connect(default_warehouse) as conn:
        leading = set(
            conn.execute(
                "select n.nspname, c.relname, a.attname from pg_index as i"
                " join pg_class as c on c.oid = i.indrelid"
                " join pg_namespace as n on n.oid = c.relnamespace"
                " join pg_attribute as a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]"
            ).fetchall()
        )
    # THEN each of their tables has one led by its key
    missing = [f"{s}.{t} ({key})" for (s, t), key in keys.items() if (s, t, key) not in leading]
    assert sorted(missing) == []


# one table of each kind a build writes: an intermediate table, a model outside the
# intermediate and marts folders, a mart (the contract's bulk path), an incremental rebuilt
# by keys, an incremental by delete+insert, a snapshot, a seed
ANALYSED = {
    "intermediate.int_tier_records_ranged",
    "intermediate.metricflow_time_spine",
    "reference.ref_need_areas",
    "marts.fct_court_reports",
    "marts.fct_reoffending_cohort",
    "marts.fct_assessment_needs",
    "snapshots.snap_ndelius__offenders",
}


def _analyses(settings) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """ANALYZE statements run on each table of ANALYSED (autovacuum's are counted apart)."""
    with connect(settings) as conn:
        rows = conn.execute(
            "select schemaname || '.' || relname, analyze_count from pg_stat_user_tables"
            " where schemaname || '.' || relname = any(%s)",
            [sorted(ANALYSED)],
        ).fetchall()
    return dict(rows)


def test_every_table_a_build_writes_is_analysed_before_the_models_that_read_it(warehouse_copy):
    # GIVEN a copy of the built warehouse: a new database, where no table was analysed yet
    assert _analyses(warehouse_copy) == dict.fromkeys(ANALYSED, 0)
    # WHEN a build writes one table of each kind
    report = run_dbt(
        warehouse_copy,
        "build",
        "--select",
        *(name.split(".")[1] for name in ANALYSED),
        "--exclude-resource-type",
        "test",
        "unit_test",
    )
    built = [
        uid
        for uid, (status, _) in report.nodes.items()
        if uid.split(".")[0] in ("model", "snapshot", "seed") and status == "success"
    ]
    assert len(built) == len(ANALYSED) and not report.failures
    # THEN the build itself analysed each (its post-hook, inside the model's transaction):
    # the models built next are planned on statistics, whatever autovacuum's timing (a
    # mart planned on none ran for 376 s instead of 6 at scale 16)
    assert _analyses(warehouse_copy) == dict.fromkeys(ANALYSED, 1)


def _schema_of(conn, table: str) -> str:  # type: ignore[no-untyped-def]
    (schema,) = conn.execute(
        "select table_schema from information_schema.tables"
        " where table_name = %s and table_schema in ('intermediate', 'marts')",
        [table],
    ).fetchone()
    return str(schema)


def test_soda_sessions_are_named_and_aggregate_without_sorting_whole_rows(settings, monkeypatch):
    # GIVEN the Soda data source the contracts are verified with (expectations/soda/)
    from soda_core.common.data_source_impl import DataSourceImpl
    from soda_core.common.yaml import DataSourceYamlSource

    from warehouse.soda_contracts import SODA_DIR

    for name, value in settings.tool_env().items():  # what apply_tool_env() exports
        monkeypatch.setenv(name, value)
    source = DataSourceImpl.from_yaml_source(
        DataSourceYamlSource.from_file_path(str(SODA_DIR / "datasource.yml"))
    )
    # WHEN it connects to the warehouse
    source.open_connection()
    try:
        shown = {
            name: source.execute_query(f"show {name}").rows[0][0]
            for name in ("enable_presorted_aggregate", "application_name")
        }
    finally:
        source.close_connection()
    # THEN its session is named in pg_stat_activity, and a contract's one aggregate query
    # sorts only a duplicate check's key, not whole rows
    assert shown == {"enable_presorted_aggregate": "off", "application_name": "warehouse-soda"}
