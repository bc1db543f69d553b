"""The default dataset end to end (generate -> validated ingestion -> dbt build -> Soda),
then the calibration figures of ../shared/calibration.md out of the marts, and the
incremental facts after one more day of files.

One warehouse for the session (``default_warehouse`` in conftest.py): the build takes
minutes, and the sharing and access tests read it too.
"""

from __future__ import annotations

import pytest

from warehouse.calibration import measure
from warehouse.db import connect
from warehouse.display import calibration_table
from warehouse.pipeline import ingest_feed
from warehouse.quality import ANALYTICS_CONTRACTS_DIR, verify_contracts
from warehouse.settings import Settings
from warehouse.transform import run_dbt

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


def _fingerprints(
    settings: Settings, only: set[str] | None = None
) -> dict[str, tuple[int, object]]:
    """Row count and checksum of every mart table, or ``only`` those (``built_at`` aside:
    it is when)."""
    from psycopg import sql

    with connect(settings) as conn:
        columns: dict[str, list[str]] = {}
        for table, column in conn.execute(
            "select c.table_name, c.column_name from information_schema.columns c"
            " join information_schema.tables t using (table_schema, table_name)"
            " where c.table_schema = 'marts' and t.table_type = 'BASE TABLE'"
            " and c.column_name <> 'built_at' order by c.table_name, c.ordinal_position"
        ):
            if only is None or table in only:
                columns.setdefault(table, []).append(column)
        # an order-free checksum: the sum of every row's 64-bit hash (no sort of 4 M rows;
        # a row's text, not its jsonb: 5x faster)
        query = sql.SQL(
            "select count(*), coalesce(sum(hashtextextended(row({})::text, 0)::numeric), 0)"
            " from marts.{} t"
        )
        return {
            table: conn.execute(
                query.format(
                    sql.SQL(", ").join(sql.Identifier("t", c) for c in names),
                    sql.Identifier(table),
                )
            ).fetchone()
            for table, names in columns.items()
        }


def _redeliver(settings: Settings, system: str, name: str, edit) -> int:  # type: ignore[no-untyped-def]
    """A corrected re-delivery (``_r3``) of a processed file, its rows changed by ``edit``."""
    original = (settings.landing_dir / system / "processed" / name).read_text().splitlines()
    header = original[0].split(",")
    lines, changed = edit(header, original[1:])
    (settings.landing_dir / system / name.replace(".csv", "_r3.csv")).write_text(
        "\n".join([original[0], *lines]) + "\n"
    )
    return changed


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


def _end_sentences_early(header, rows):  # type: ignore[no-untyped-def]
    """Twenty open sentences end on their start date (REVOKED), as a new row version."""
    start, ended, reason, version = (
        header.index(c)
        for c in ("START_DATE", "TERMINATION_DATE", "TERMINATION_REASON", "ROW_VERSION")
    )
    out, changed = [], 0
    for line in rows:
        fields = line.split(",")
        if changed < 20 and len(fields) == len(header) and fields[start] and not fields[ended]:
            fields[ended], fields[reason] = fields[start], "REVOKED"
            fields[version] = str(int(fields[version]) + 1)
            changed += 1
        out.append(",".join(fields))
    return out, changed


def _moved_to(movers, ward):  # type: ignore[no-untyped-def]
    """An edit adding a new version of each mover, living in ``ward`` of Bolton."""

    def move(header, rows):  # type: ignore[no-untyped-def]
        moved = [
            ",".join(
                "" if v is None else str(v)
                for v in (*m[:9], ward, "E08000001", m[9], m[10], 0, m[11] + 1)
            )
            for m in movers
        ]
        return [*rows, *moved], len(moved)

    return move


def _raise_ete_scores(header, rows):  # type: ignore[no-untyped-def]
    """Twenty assessments with no ETE problem get the top score on four ETE items."""
    items = [header.index(f"S4_{i}") for i in range(1, 5)]
    out, changed = [], 0
    for line in rows:
        fields = line.split(",")
        if changed < 20 and len(fields) == len(header) and fields[items[0]] == "0":
            for i in items:
                fields[i] = "2"
            changed += 1
        out.append(",".join(fields))
    return out, changed


def test_an_incremental_build_after_redeliveries_equals_a_full_rebuild(warehouse_copy):
    settings = warehouse_copy
    with connect(settings) as conn:
        # offenders with assessments in 2008/09, and another district's ward to move them to
        movers = conn.execute(
            "select o.offender_id, o.crn, o.pnc_number, o.first_name, o.surname,"
            " o.date_of_birth, o.gender_code, o.ethnicity_code, o.postcode, o.first_sanction_date,"
            " o.previous_sanctions, o.row_version"
            " from staging.stg_ndelius__offenders o"
            " where o.la_code = 'E08000003' and o.offender_id in ("
            "   select offender_id from marts.fct_need_change"
            "   where latest_financial_year = '2008/09')"
            " order by o.offender_id limit 20"
        ).fetchall()
        (ward,) = conn.execute(
            "select ward_code from reference.ref_wards where la_code = 'E08000001' limit 1"
        ).fetchone()
    assert len(movers) == 20

    # GIVEN corrected re-deliveries of March 2009: twenty sentences ended early, twenty
    # offenders moved from Manchester to Bolton, twenty assessments with higher ETE scores
    assert (
        _redeliver(settings, "ndelius", "ndelius_disposals_2009-03.csv", _end_sentences_early) == 20
    )
    assert (
        _redeliver(settings, "ndelius", "ndelius_offenders_2009-03.csv", _moved_to(movers, ward))
        == 20
    )
    assert _redeliver(settings, "oasys", "oasys_assessments_2009-03.csv", _raise_ete_scores) == 20
    changing = {"fct_caseload_monthly", "fct_assessment_needs", "fct_need_change"}
    before = _fingerprints(settings, changing)
    # WHEN they are loaded and the daily (incremental) build runs
    for feed in ("ndelius_disposals", "ndelius_offenders", "oasys_assessments"):
        ingest_feed(settings, feed)
    # (its data tests aside: they read what it built and change nothing)
    run_dbt(settings, "build", "--exclude", "resource_type:test", "resource_type:unit_test")
    incremental = _fingerprints(settings)
    # THEN the incremental facts changed, and every mart equals a full rebuild of the data
    for mart in sorted(changing):
        assert incremental[mart] != before[mart], f"{mart} did not change"
    # a full rebuild: every incremental model from scratch, and all that reads one (every
    # other model is a table or view that each build makes from scratch anyway), but not
    # the analytics marts, which the analytics steps build (as the daily build leaves them)
    rebuilt = run_dbt(
        settings,
        "run",
        "--full-refresh",
        "--select",
        "config.materialized:incremental+",
        "--exclude",
        "tag:analytics",
    )
    full = _fingerprints(settings, {uid.rsplit(".", 1)[1] for uid in rebuilt.nodes})
    assert len(full) >= 10, sorted(full)  # the incremental facts and what reads them
    assert [t for t in full if incremental[t] != full[t]] == []


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
            plan = conn.execute("explain (format json) " + path.read_text()).fetchone()[0]
            assert _subplans(plan[0]["Plan"]) == [], path.stem
