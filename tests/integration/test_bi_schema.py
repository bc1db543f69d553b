"""What a BI tool sees of the marts: a comment on every table and column, a foreign key for
every fact-to-dimension relation (surviving a dimension's rebuild), and one grain per table,
so that ``sum()`` over an additive column gives the whole the marts report elsewhere
(issue 15, points 1-3)."""

from __future__ import annotations

import re

import pytest
import yaml

from warehouse.db import connect
from warehouse.settings import PROJECT_ROOT
from warehouse.transform import DbtFailed, run_dbt

pytestmark = pytest.mark.integration

MARTS_DIR = PROJECT_ROOT / "dbt_project" / "models" / "marts"
REF = re.compile(r"""ref\(['"](\w+)['"]\)""")


def _declared_foreign_keys() -> set[tuple[str, str, str, str]]:
    """(mart, column, dimension, dimension column) of every contract foreign key."""
    out = set()
    for path in sorted(MARTS_DIR.glob("*/_*__models.yml")):
        for model in yaml.safe_load(path.read_text())["models"]:
            for col in model["columns"]:
                for c in col.get("constraints", []):
                    if c["type"] == "foreign_key":
                        target = REF.fullmatch(c["to"])
                        assert target, f"{model['name']}.{col['name']}: to must be a ref()"
                        out.add((model["name"], col["name"], target[1], c["to_columns"][0]))
    return out


def _foreign_keys(conn) -> set[tuple[str, str, str, str]]:  # type: ignore[no-untyped-def]
    rows = conn.execute(
        """select fact.relname, fact_col.attname, dim.relname, dim_col.attname
        from pg_constraint as c
        join pg_class as fact on fact.oid = c.conrelid
        join pg_namespace as n on n.oid = fact.relnamespace
        join pg_class as dim on dim.oid = c.confrelid
        join pg_attribute as fact_col
            on fact_col.attrelid = c.conrelid and fact_col.attnum = c.conkey[1]
        join pg_attribute as dim_col
            on dim_col.attrelid = c.confrelid and dim_col.attnum = c.confkey[1]
        where c.contype = 'f' and n.nspname = 'marts'"""
    ).fetchall()
    return set(rows)


def test_every_mart_table_and_column_has_a_comment(default_warehouse):
    with connect(default_warehouse) as conn:
        tables = conn.execute(
            """select c.relname, obj_description(c.oid, 'pg_class') is not null
            from pg_class as c join pg_namespace as n on n.oid = c.relnamespace
            where n.nspname = 'marts' and c.relkind in ('r', 'v', 'm', 'p')"""
        ).fetchall()
        columns = conn.execute(
            """select c.relname || '.' || a.attname
            from pg_class as c
            join pg_namespace as n on n.oid = c.relnamespace
            join pg_attribute as a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
            where n.nspname = 'marts' and c.relkind in ('r', 'v', 'm', 'p')
                and col_description(c.oid, a.attnum) is null
            order by 1"""
        ).fetchall()
    assert tables, "no marts"
    assert [t for t, described in tables if not described] == []
    assert [c for (c,) in columns] == []


def test_every_declared_relation_is_a_foreign_key_in_postgresql(default_warehouse):
    declared = _declared_foreign_keys()
    with connect(default_warehouse) as conn:
        actual = _foreign_keys(conn)
    assert declared, "no foreign keys declared"
    assert declared - actual == set(), "declared in dbt, missing in PostgreSQL"


def _declared_column_constraints(kind: str) -> set[tuple[str, str]]:
    """(mart, column) of every contract constraint of ``kind`` (not_null, primary_key)."""
    out = set()
    for path in sorted(MARTS_DIR.glob("*/_*.yml")):  # the analytics results' yml too
        for model in yaml.safe_load(path.read_text()).get("models") or []:
            for col in model.get("columns") or []:
                if any(c["type"] == kind for c in col.get("constraints", [])):
                    out.add((model["name"], col["name"]))
    return out


def test_every_contract_primary_key_and_not_null_is_in_postgresql(default_warehouse):
    # the tables are created in bulk and constrained after (macros/create_table.sql)
    with connect(default_warehouse) as conn:
        keys = set(
            conn.execute(
                """select c.relname, a.attname from pg_constraint as k
                join pg_class as c on c.oid = k.conrelid
                join pg_namespace as n on n.oid = c.relnamespace
                join pg_attribute as a on a.attrelid = k.conrelid and a.attnum = any(k.conkey)
                where k.contype = 'p' and n.nspname = 'marts'"""
            ).fetchall()
        )
        not_null = set(
            conn.execute(
                """select c.relname, a.attname from pg_attribute as a
                join pg_class as c on c.oid = a.attrelid
                join pg_namespace as n on n.oid = c.relnamespace
                where n.nspname = 'marts' and c.relkind = 'r' and a.attnotnull"""
            ).fetchall()
        )
    declared_keys = _declared_column_constraints("primary_key")
    assert len(declared_keys) > 40, declared_keys
    assert declared_keys - keys == set(), "declared primary keys missing in PostgreSQL"
    assert _declared_column_constraints("not_null") - not_null == set()


def test_a_duplicate_key_fails_a_contract_marts_build_naming_its_key(warehouse_copy):
    # GIVEN a duplicated court report in the staging layer a table mart reads (its key then
    # twice)
    with connect(warehouse_copy) as conn:
        conn.execute(
            "alter view staging.stg_ndelius__court_reports rename to stg_court_reports_kept"
        )
        conn.execute(
            """create view staging.stg_ndelius__court_reports as
            select * from staging.stg_court_reports_kept
            union all (
                select * from staging.stg_court_reports_kept where not is_deleted
                order by court_report_id limit 1
            )"""
        )
        before = conn.execute("select count(*) from marts.fct_court_reports").fetchone()
    # WHEN the mart is built
    with pytest.raises(DbtFailed) as failed:
        run_dbt(warehouse_copy, "run", "--select", "fct_court_reports")
    # THEN the build fails on its primary key and the mart keeps its previous rows
    assert "fct_court_reports" in str(failed.value) and "pkey" in str(failed.value), failed.value
    with connect(warehouse_copy) as conn:
        after = conn.execute(
            "select count(*), count(distinct court_report_id) from marts.fct_court_reports"
        ).fetchone()
    assert after == (before[0], before[0]) and before[0] > 0


def _relationships_tests() -> set[tuple[str, str, str, str]]:
    """(mart, column, parent, parent column) of every relationships test on all the rows."""
    out = set()
    for path in sorted(MARTS_DIR.glob("*/_*__models.yml")):
        for model in yaml.safe_load(path.read_text())["models"]:
            for col in model["columns"]:
                for test in col.get("data_tests") or []:
                    if not isinstance(test, dict) or "relationships" not in test:
                        continue
                    spec = test["relationships"]
                    args = spec.get("arguments", spec)
                    parent = REF.fullmatch(args["to"])
                    if parent and not (spec.get("config") or {}).get("where"):
                        out.add((model["name"], col["name"], parent[1], args["field"]))
    return out


def test_every_foreign_key_has_the_relationships_test_that_proves_it():
    # the keys are declared NOT ENFORCED (macros/foreign_keys.sql): PostgreSQL checks no
    # write against them, so a key without its test would be a relation nothing checks
    assert _declared_foreign_keys() - _relationships_tests() == set()


def _dimension_keys() -> dict[str, str]:
    """Primary key column -> dimension, for the single-column keys of the dimensions."""
    keys = {}
    for path in sorted(MARTS_DIR.glob("*/_*__models.yml")):
        for model in yaml.safe_load(path.read_text())["models"]:
            if not model["name"].startswith("dim_"):
                continue
            for col in model["columns"]:
                if any(c["type"] == "primary_key" for c in col.get("constraints", [])):
                    keys[col["name"]] = model["name"]
    return keys


# columns named like a dimension key that are not its members, and why
NOT_DIMENSION_MEMBERS = {
    # the indicator rows of Greater Manchester (E11000001) are no district
    ("jsna_indicators", "la_code"),
}


def test_every_column_named_like_a_dimension_key_is_a_foreign_key_to_it():
    keys = _dimension_keys()
    declared = {(m, c) for m, c, _, _ in _declared_foreign_keys()}
    missing = []
    for path in sorted(MARTS_DIR.glob("*/_*__models.yml")):
        for model in yaml.safe_load(path.read_text())["models"]:
            for col in model["columns"]:
                dim = keys.get(col["name"]) or (
                    "dim_date" if col["name"].endswith("_date_id") else None
                )
                if dim and dim != model["name"] and (model["name"], col["name"]) not in declared:
                    missing.append(f"{model['name']}.{col['name']} -> {dim}")
    missing = [m for m in missing if tuple(m.split(" ")[0].split(".")) not in NOT_DIMENSION_MEMBERS]
    assert missing == []


def test_foreign_keys_come_back_after_a_dimension_is_rebuilt_alone(warehouse_copy):
    # a table swap drops the old dim_district with CASCADE, and the facts' keys to it; the
    # on-run-end hook declares them again (incremental facts keep their tables)
    with connect(warehouse_copy) as conn:
        before = _foreign_keys(conn)
        to_district = {fk for fk in before if fk[2] == "dim_district"}
    assert to_district
    run_dbt(warehouse_copy, "run", "--select", "dim_district")
    with connect(warehouse_copy) as conn:
        assert _foreign_keys(conn) == before
        # declared NOT ENFORCED (macros/foreign_keys.sql): what proves them is each key's
        # relationships test, which finds a fact row with a district no dimension holds
        assert conn.execute(
            "select bool_or(conenforced) from pg_constraint where contype = 'f'"
            " and connamespace = 'marts'::regnamespace"
        ).fetchone() == (False,)
        conn.execute(
            # (built after the tests last passed: they read the rows built since)
            "update marts.fct_convictions set la_code = 'NOWHERE',"
            " built_at = built_at + interval '1 second'"
            " where conviction_id = (select min(conviction_id) from marts.fct_convictions)"
        )
    with pytest.raises(
        DbtFailed, match="relationships_fct_convictions_la_code__la_code__ref_dim_district_"
    ):
        run_dbt(warehouse_copy, "test", "--select", "fct_convictions")
