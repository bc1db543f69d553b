"""The access matrix (warehouse/access_matrix.yml) against the dbt contracts and docs/access.md:
a new mart without an entry, a person-level mart for an aggregate-only role, a scope on a
mart without its columns, or a stale docs/access.md table each fail here, before any build."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from warehouse.access import (
    ACCESS_DOC,
    MATRIX_FILE,
    SCOPES,
    MatrixError,
    load_matrix,
    readme_with_matrix,
    render_markdown,
)
from warehouse.marts import mart_columns, person_level_marts

MATRIX = load_matrix()


def test_every_dbt_mart_has_an_entry_and_every_entry_is_a_dbt_mart():
    in_dbt, in_matrix = set(mart_columns()), set(MATRIX.marts)
    assert not in_dbt - in_matrix, f"marts without an access-matrix entry: {in_dbt - in_matrix}"
    assert not in_matrix - in_dbt, f"matrix entries for no dbt mart: {in_matrix - in_dbt}"


def test_a_mart_is_person_level_exactly_when_its_contract_has_a_person_key():
    person = set(person_level_marts())
    declared = {m for m, level in MATRIX.levels.items() if level == "person"}
    assert declared == person, (
        f"declared person-level but no person key: {declared - person}; "
        f"person key but not declared person-level: {person - declared}"
    )


def test_no_person_level_mart_is_readable_by_a_role_without_person_level_access():
    for mart in person_level_marts():
        for role, spec in MATRIX.roles.items():
            if not spec.get("person_level"):
                assert MATRIX.marts[mart][role] == "none", (mart, role)


def test_district_logins_read_aggregates_only():
    readable = {m for m, s in MATRIX.marts.items() if SCOPES[s["bi_district"]].using}
    assert readable and all(MATRIX.levels[m] != "person" for m in readable)


def test_each_scope_has_the_columns_its_policy_needs():
    columns = mart_columns()
    for mart, scopes in MATRIX.marts.items():
        for role, scope in scopes.items():
            missing = set(SCOPES[scope].columns) - set(columns[mart])
            assert not missing, f"{mart}.{role}: scope {scope} needs {missing}"


def test_district_logins_see_no_unscoped_mart_that_carries_a_district():
    # a mart with la_code readable by district logins must be scoped by it
    columns = mart_columns()
    for mart, scopes in MATRIX.marts.items():
        if "la_code" in columns[mart]:
            allowed = ("none", "own_district", "own_district_and_gm")
            assert scopes["bi_district"] in allowed, mart


@pytest.mark.parametrize(
    "change, error",
    [
        ({"bi_district": "all"}, "person-level mart for an aggregate-only role"),
        ({"bi_district": "everything"}, "unknown scope"),
        ({"level": "secret"}, "level 'secret'"),
        ({"bi_other": "all"}, "names roles"),
    ],
)
def test_a_matrix_granting_too_much_or_unknown_is_refused(tmp_path: Path, change, error):
    # GIVEN the matrix with one entry of a person-level mart changed
    raw = yaml.safe_load(MATRIX_FILE.read_text())
    raw["marts"]["dim_offender"].update(change)
    path = tmp_path / "matrix.yml"
    path.write_text(yaml.safe_dump(raw))
    # THEN loading it fails, naming the mart
    with pytest.raises(MatrixError, match=error):
        load_matrix(path)


def test_the_readme_shows_the_matrix():
    text = ACCESS_DOC.read_text()
    assert render_markdown() in text and readme_with_matrix(text) == text, (
        "docs/access.md: the access matrix table is stale: run `.venv/bin/python -m warehouse.access`"
    )


def test_a_mart_view_is_readable_only_by_roles_that_read_what_it_selects_from():
    # a mart view is security_invoker (so the policies of its tables apply): a role that
    # reads the view must read every mart it selects from, or it reads nothing
    import re

    from warehouse.access import PROJECT_ROOT

    for path in (PROJECT_ROOT / "dbt_project" / "models" / "marts").rglob("*.sql"):
        text = path.read_text()
        if not re.search(r"materialized\s*=\s*['\"]view['\"]", text):
            continue
        for parent in re.findall(r"ref\(\s*['\"](\w+)['\"]\s*\)", text):
            for role, scope in MATRIX.marts[path.stem].items():
                if SCOPES[scope].using and parent in MATRIX.marts:
                    assert SCOPES[MATRIX.marts[parent][role]].using, (path.stem, parent, role)
