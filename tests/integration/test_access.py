"""District scoping attacked as a hostile district login would: every role it can reach,
every connection option, every function it can call. Each attack must fail."""

from __future__ import annotations

import psycopg
import pytest

from tests.integration.conftest import BI_PASSWORD, bi_roles
from warehouse.access import BI_LIMITS, READER
from warehouse.db import connect

pytestmark = pytest.mark.integration

DISTRICT_LOGINS = [r for r in bi_roles() if r != READER]


def _connect(settings, role: str, **kwargs) -> psycopg.Connection:  # type: ignore[no-untyped-def]
    info = settings.conninfo()
    return psycopg.connect(
        host=info.host,
        port=info.port,
        dbname=info.dbname,
        user=role,
        password=BI_PASSWORD,
        autocommit=True,
        **kwargs,
    )


def _district_tables(settings) -> list[str]:  # type: ignore[no-untyped-def]
    with connect(settings) as conn:
        return [
            t
            for (t,) in conn.execute(
                """select table_name from information_schema.columns
                where table_schema = 'marts' and column_name = 'la_code' order by 1"""
            )
        ]


@pytest.fixture(scope="module")
def own_codes(default_warehouse) -> dict[str, str]:
    with connect(default_warehouse) as conn:
        return dict(conn.execute("select role_name, la_code from access.district_logins"))


@pytest.mark.parametrize("login", DISTRICT_LOGINS)
def test_no_district_login_reaches_another_district_by_role_option_or_function(
    default_warehouse, own_codes, login
):
    own = own_codes[login]
    tables = _district_tables(default_warehouse)
    with _connect(default_warehouse, login) as conn:
        # ATTACK 1: become the group role (or any role) the login is a member of
        for role in ("bi_district", READER, "pipeline"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"set role {role}")
        # ATTACK 2: ask the scoping functions about other logins or districts
        assert conn.execute(
            "select access.can_see_district('E08000001', 'bi_reader')"
        ).fetchone() == (own == "E08000001",)
        assert conn.execute(
            "select access.sees_all_districts(), access.own_district()"
        ).fetchone() == (False, own)
        others = conn.execute(
            "select count(*) filter (where access.can_see_district(la_code, %s)) "
            "from (select distinct la_code from marts.dim_district) d",
            [READER],
        ).fetchone()[0]
        assert others <= 1
        # ATTACK 3: read every mart carrying a district: only its own rows come back
        for table in tables:
            seen = {r[0] for r in conn.execute(f"select distinct la_code from marts.{table}")}
            assert seen <= {own}, (login, table, seen)
        # and its BI limits are in force
        assert (
            conn.execute("show statement_timeout").fetchone()[0] == BI_LIMITS["statement_timeout"]
        )
    # ATTACK 4: connect with the group role as a connection option
    with pytest.raises(psycopg.OperationalError):
        _connect(default_warehouse, login, options="-c role=bi_district").close()


def test_an_unmapped_role_sees_no_district_rows(default_warehouse):
    # GIVEN a new login granted SELECT on the marts but never mapped to a district
    with connect(default_warehouse, autocommit=True) as conn:
        conn.execute("drop role if exists bi_newcomer")
        conn.execute(f"create role bi_newcomer login password '{BI_PASSWORD}' in role bi_district")
    try:
        with _connect(default_warehouse, "bi_newcomer") as conn:
            rows = conn.execute("select count(*) from marts.fct_caseload_monthly").fetchone()[0]
        # THEN the default is deny
        assert rows == 0
    finally:
        with connect(default_warehouse, autocommit=True) as conn:
            conn.execute("drop role bi_newcomer")


def test_bi_reader_still_sees_every_district(default_warehouse):
    query = "select count(*), count(distinct la_code) from marts.fct_caseload_monthly"
    with connect(default_warehouse) as conn:
        everything = conn.execute(query).fetchone()
    with _connect(default_warehouse, READER) as conn:
        assert conn.execute(query).fetchone() == everything
    assert everything[1] >= 10
