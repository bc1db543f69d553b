"""The access matrix (warehouse/access_matrix.yml), checked cell by cell as each login, and
attacked as a hostile district login would: every role it can reach, every connection
option, every function and table it can see. Each attack must fail.

The expected rows of a cell come from the same YAML: the scope's policy expression with
the login's own district in place of ``access.own_district()``, counted as the owner."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from psycopg import sql

from tests.integration.conftest import BI_PASSWORD, bi_roles
from warehouse.access import (
    BI_CONNECTION_LIMIT,
    BI_LIMITS,
    DISTRICT_GROUP,
    GREATER_MANCHESTER,
    OWN,
    READER,
    connection_limit,
    district_codes,
    ensure_access,
    load_matrix,
)
from warehouse.db import connect
from warehouse.localdb import TEMP_FILE_LIMIT
from warehouse.settings import Settings
from warehouse.transform import DbtFailed, run_dbt

pytestmark = pytest.mark.integration

MATRIX = load_matrix()
LOGINS = bi_roles()  # bi_reader and the ten district logins
DISTRICT_LOGINS = [r for r in LOGINS if r != READER]
CELLS = [(login, mart) for login in LOGINS for mart in sorted(MATRIX.marts)]


def matrix_role(login: str) -> str:
    """The matrix's role for a login: bi_reader itself, or the district group."""
    return READER if login == READER else DISTRICT_GROUP


OWN_CODES: dict[str, str | None] = {READER: None, **district_codes()}


def _connect(settings, role: str, **kwargs) -> psycopg.Connection:  # type: ignore[no-untyped-def]
    info = settings.conninfo()
    return psycopg.connect(
        host=info.host,
        port=info.port,
        dbname=info.dbname,
        user=role,
        password=BI_PASSWORD,
        autocommit=kwargs.pop("autocommit", True),
        **kwargs,
    )


def expected_rows(owner_conn, login: str, mart: str) -> int | None:  # type: ignore[no-untyped-def]
    """Rows the matrix lets ``login`` read in ``mart`` (None: no SELECT at all)."""
    using = MATRIX.scope(mart, matrix_role(login)).using
    if using is None:
        return None
    where = using.replace(OWN, sql.Literal(OWN_CODES[login]).as_string(owner_conn))
    return owner_conn.execute(f"select count(*) from marts.{mart} where {where}").fetchone()[0]


def observed_rows(conn, mart: str) -> int | None:  # type: ignore[no-untyped-def]
    """Rows a login's connection reads from ``mart`` (None: permission denied)."""
    try:
        return conn.execute(f"select count(*) from marts.{mart}").fetchone()[0]
    except psycopg.errors.InsufficientPrivilege as e:
        # no SELECT on the mart; any other refusal (a policy's function, say) is a fault
        if e.diag.message_primary != f"permission denied for table {mart}":
            raise
        return None


def foreign_rows(conn, login: str, mart: str) -> int:  # type: ignore[no-untyped-def]
    """Rows of another district that ``conn`` reads from ``mart`` under its scope."""
    scope = MATRIX.marts[mart][matrix_role(login)]
    own = OWN_CODES[login]
    if scope == "own_district":
        query = "select count(*) from marts.{} where la_code is distinct from %s"
    elif scope == "own_district_and_gm":
        query = (
            "select count(*) from marts.{} "
            f"where la_code is distinct from %s and la_code <> '{GREATER_MANCHESTER}'"
        )
    else:
        return 0
    return conn.execute(sql.SQL(query).format(sql.Identifier(mart)), [own]).fetchone()[0]


def violations(settings, login: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Every cell of ``login``'s matrix row where what it reads differs from the matrix."""
    found = []
    with connect(settings) as owner, _connect(settings, login) as conn:
        for mart in sorted(MATRIX.marts):
            want, got = expected_rows(owner, login, mart), observed_rows(conn, mart)
            if got != want:
                found.append(f"{login} reads {got} rows of {mart}, the matrix says {want}")
            elif got is not None and foreign_rows(conn, login, mart):
                found.append(f"{login} reads another district's rows of {mart}")
    return found


# -- the matrix, cell by cell ---------------------------------------------------------------
@pytest.mark.parametrize("login, mart", CELLS)
def test_each_login_reads_each_mart_exactly_as_the_matrix_says(default_warehouse, login, mart):
    with connect(default_warehouse) as owner, _connect(default_warehouse, login) as conn:
        want = expected_rows(owner, login, mart)
        got = observed_rows(conn, mart)
        assert got == want, f"{login} reads {got} rows of {mart}; the matrix says {want}"
        if want is not None:
            assert foreign_rows(conn, login, mart) == 0


def test_the_district_logins_together_read_every_district_row_of_their_marts(
    default_warehouse,
):
    # the scoped cells are not vacuous: what the ten logins read adds up to every row
    # carrying one of their districts
    scoped = [m for m, s in MATRIX.marts.items() if s[DISTRICT_GROUP] == "own_district"]
    codes = [OWN_CODES[login] for login in DISTRICT_LOGINS]
    with connect(default_warehouse) as owner:
        want = {
            m: owner.execute(
                f"select count(*) from marts.{m} where la_code = any(%s)", [codes]
            ).fetchone()[0]
            for m in scoped
        }
    got = dict.fromkeys(scoped, 0)
    for login in DISTRICT_LOGINS:
        with _connect(default_warehouse, login) as conn:
            for m in scoped:
                got[m] += observed_rows(conn, m) or 0
    assert got == want and all(want.values())


def test_district_logins_read_no_person_level_mart_and_bi_reader_reads_them_all(
    default_warehouse,
):
    person = sorted(m for m, level in MATRIX.levels.items() if level == "person")
    assert "dim_offender" in person and "fct_assessment_needs" in person
    with _connect(default_warehouse, "bi_bolton") as conn:
        assert all(observed_rows(conn, m) is None for m in person)
    with _connect(default_warehouse, READER) as conn:
        assert all(observed_rows(conn, m) for m in person)


# -- attacks by every district login --------------------------------------------------------
def _access_objects(settings) -> tuple[list[tuple[str, int]], list[str]]:  # type: ignore[no-untyped-def]
    """Every function in schema access (name, argument count) and every table or view."""
    with connect(settings) as conn:
        functions = conn.execute(
            """select p.proname, p.pronargs from pg_proc p
            join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'access'"""
        ).fetchall()
        tables = [
            t
            for (t,) in conn.execute(
                """select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
                where n.nspname = 'access' and c.relkind in ('r', 'v', 'm', 'p')"""
            )
        ]
    return functions, tables


@pytest.mark.parametrize("login", DISTRICT_LOGINS)
def test_no_district_login_widens_its_access_by_role_option_or_function(default_warehouse, login):
    own = OWN_CODES[login]
    other = next(r for r in DISTRICT_LOGINS if r != login)
    functions, tables = _access_objects(default_warehouse)
    assert {"own_district", "protect"} <= {f for f, _ in functions}
    assert {"district_logins", "mart_access"} <= set(tables)
    with _connect(default_warehouse, login) as conn:
        # ATTACK 1: become a role it is a member of (the group), or any other role
        for role in (DISTRICT_GROUP, READER, other, "pipeline", "postgres"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql.SQL("set role {}").format(sql.Identifier(role)))
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql.SQL("set session authorization {}").format(sql.Identifier(role)))
        assert conn.execute("select session_user, current_user").fetchone() == (login, login)
        # ATTACK 2: call every function in schema access (NULL arguments will do: the
        # privilege is checked first); only own_district() runs, and answers its own district
        for name, nargs in functions:
            call = sql.SQL("select access.{}({})").format(
                sql.Identifier(name), sql.SQL(", ").join([sql.NULL] * nargs)
            )
            if name == "own_district":
                assert conn.execute(call).fetchone() == (own,)
            else:
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(call)
        # ... and no SECURITY DEFINER function anywhere but own_district() is callable
        definers = conn.execute(
            """select p.oid::regprocedure::text from pg_proc p
            join pg_namespace n on n.oid = p.pronamespace
            where p.prosecdef and n.nspname not in ('pg_catalog', 'information_schema')
                and has_function_privilege(p.oid, 'execute')"""
        ).fetchall()
        assert definers == [("access.own_district()",)]
        # ATTACK 3: read the mapping and the matrix
        for table in tables:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql.SQL("select * from access.{}").format(sql.Identifier(table)))
        # ATTACK 4: read the policies and role settings (public catalogs): no district code
        # or login in them, so they map nobody to a district
        codes = {c for c in OWN_CODES.values() if c}
        catalog = " ".join(
            str(row)
            for query in (
                "select policyname, roles, qual from pg_policies where schemaname = 'marts'",
                "select setconfig from pg_db_role_setting",
            )
            for row in conn.execute(query)
        )
        assert not [c for c in codes if c in catalog]
        assert not [r for r in DISTRICT_LOGINS if r in catalog]
        # after all of it, the login still reads exactly its matrix row
    assert violations(default_warehouse, login) == []
    # ATTACK 5: connect as the group, bi_reader or another login through a startup option
    for option in (
        f"-c role={DISTRICT_GROUP}",
        f"-c role={READER}",
        f"-c role={other}",
        f"-c session_authorization={READER}",
    ):
        try:
            conn = _connect(default_warehouse, login, options=option)
        except psycopg.OperationalError:
            continue  # refused at connection: the attack failed
        with conn:
            identity = conn.execute("select session_user, current_user").fetchone()
            assert identity == (login, login), (option, identity)
            assert observed_rows(conn, "dim_offender") is None


@pytest.mark.parametrize("login", [READER, "bi_bolton"])
def test_no_bi_login_can_keep_data_in_a_large_object(default_warehouse, login):
    # ATTACK: store figures in a large object (it outlives the session) and grant it to
    # another role, around the access matrix; or fill the disk with them
    with _connect(default_warehouse, login, autocommit=True) as conn:
        for call in (
            "select lo_from_bytea(0, convert_to('41892 offenders', 'UTF8'))",
            "select lo_creat(-1)",
            "select lo_create(0)",
            "select lo_put(1, 0, 'x')",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(call)
        (kept,) = conn.execute("select count(*) from pg_largeobject_metadata").fetchone()
        assert kept == 0


@pytest.mark.parametrize("login", [READER, "bi_bolton"])
def test_no_bi_login_can_take_the_pipelines_locks(default_warehouse, login):
    # ATTACK: take the loader's lock on a feed and keep the session open: every load of the
    # feed (and of every feed, with the commit lock) waits until the login disconnects
    with _connect(default_warehouse, login, autocommit=True) as conn:
        for call in (
            "select pg_advisory_lock(hashtext('feed:offenders'))",
            "select pg_try_advisory_lock(hashtext('feed:offenders'))",
            "select pg_advisory_lock_shared(hashtext('feed:offenders'))",
            "select pg_advisory_lock(1, 2)",
            "select pg_try_advisory_lock_shared(1, 2)",
            "select pg_advisory_xact_lock(hashtext('warehouse.ensure_schema'))",
            "select pg_try_advisory_xact_lock_shared(7)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(call)
        callable_locks = conn.execute(
            "select array_agg(oid::regprocedure::text) from pg_proc"
            " where proname ~ 'advisory' and proname !~ 'unlock'"
            " and has_function_privilege(oid, 'execute')"
        ).fetchone()[0]
        assert callable_locks is None
        (held,) = conn.execute(
            "select count(*) from pg_locks where locktype = 'advisory' and pid = pg_backend_pid()"
        ).fetchone()
        assert held == 0


def test_bi_reader_cannot_become_anyone_else_either(default_warehouse):
    with _connect(default_warehouse, READER) as conn:
        for role in (DISTRICT_GROUP, "bi_bolton", "pipeline"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql.SQL("set role {}").format(sql.Identifier(role)))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select * from access.district_logins")


# -- default deny, and a stray grant undone --------------------------------------------------
def test_an_unmapped_or_hand_granted_role_sees_no_row(warehouse_copy):
    # GIVEN a new member of bi_district that is not mapped to a district, and a new login
    # granted SELECT on a mart by hand
    with connect(warehouse_copy, autocommit=True) as conn:
        conn.execute(f"create role bi_newcomer login password '{BI_PASSWORD}'")
        conn.execute("grant bi_district to bi_newcomer with inherit true, set false")
        conn.execute(f"create role bi_stranger login password '{BI_PASSWORD}'")
        conn.execute("grant usage on schema marts to bi_stranger")
        conn.execute("grant select on marts.jsna_district_profile to bi_stranger")
    # THEN neither sees a row: no district for the first, no policy for the second
    with _connect(warehouse_copy, "bi_newcomer") as conn:
        assert observed_rows(conn, "jsna_district_profile") == 0
        assert conn.execute("select access.own_district()").fetchone() == (None,)
        assert observed_rows(conn, "dim_offender") is None
    with _connect(warehouse_copy, "bi_stranger") as conn:
        assert observed_rows(conn, "jsna_district_profile") == 0
    # and the next `warehouse access` revokes the hand-made grant
    ensure_access(warehouse_copy)
    with _connect(warehouse_copy, "bi_stranger") as conn:
        assert observed_rows(conn, "jsna_district_profile") is None


def test_a_person_level_mart_granted_to_district_logins_is_caught_then_revoked(warehouse_copy):
    # GIVEN someone grants a person-level mart to the district group, with a policy, and
    # makes a district login a member of bi_reader
    with connect(warehouse_copy, autocommit=True) as conn:
        conn.execute("grant select on marts.dim_offender to bi_district")
        conn.execute("create policy by_hand on marts.dim_offender for select using (true)")
        conn.execute("grant bi_reader to bi_bury")
    # THEN the matrix check finds it (the attack tests can fail) ...
    assert any("dim_offender" in v for v in violations(warehouse_copy, "bi_bolton"))
    assert any("fct_convictions" in v for v in violations(warehouse_copy, "bi_bury"))
    # ... and protect() (every rebuild, every `warehouse access`) takes it back
    ensure_access(warehouse_copy)
    assert violations(warehouse_copy, "bi_bolton") == []
    assert violations(warehouse_copy, "bi_bury") == []
    with _connect(warehouse_copy, "bi_bury") as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("set role bi_reader")


def test_a_mart_left_by_an_earlier_version_without_its_scope_column_is_withheld(settings):
    # GIVEN a district-scoped mart as an earlier version built it: no la_code, and granted
    (mart,) = [m for m, s in MATRIX.marts.items() if s[DISTRICT_GROUP] == "own_district"][:1]
    ensure_access(settings)  # the roles exist
    with connect(settings, autocommit=True) as conn:
        conn.execute(f"create table marts.{mart} (cohort_year int)")
        conn.execute(f"grant select on marts.{mart} to {DISTRICT_GROUP}, {READER}, public")
    # WHEN `warehouse access` runs (the transform DAG's first task) before the build
    ensure_access(settings)
    # THEN it does not fail, and no one but the owner reads the old table until rebuilt
    with connect(settings) as conn:
        readers = conn.execute(
            "select r from unnest(array['public', %s, %s]) r"
            " where has_table_privilege(r, %s, 'select')",
            [DISTRICT_GROUP, READER, f"marts.{mart}"],
        ).fetchall()
    assert readers == []


def test_a_district_login_sees_only_its_district_even_after_a_rebuild(warehouse_copy):
    # GIVEN marts rebuilt from scratch (a rebuilt table has lost its grants and policies)
    run_dbt(
        warehouse_copy, "run", "--full-refresh", "--select", "dim_district", "fct_caseload_monthly+"
    )
    # THEN every login reads exactly its matrix row again
    for login in ("bi_manchester", "bi_wigan", READER):
        assert violations(warehouse_copy, login) == []


# -- timeouts ------------------------------------------------------------------------------
def test_every_managed_bi_login_has_statement_and_idle_transaction_timeouts(default_warehouse):
    with connect(default_warehouse) as conn:
        settings = dict(
            conn.execute(
                """select r.rolname, s.setconfig from pg_db_role_setting s
                join pg_roles r on r.oid = s.setrole where s.setdatabase = 0"""
            ).fetchall()
        )
    for login in LOGINS:
        assert {f"{k}={v}" for k, v in BI_LIMITS.items()} <= set(settings.get(login) or []), login
        with _connect(default_warehouse, login) as conn:
            for setting, value in BI_LIMITS.items():
                assert conn.execute(f"show {setting}").fetchone() == (value,), (login, setting)


def test_a_bi_login_cannot_take_every_connection(warehouse_copy):
    from warehouse.access import _limit

    with connect(warehouse_copy, autocommit=True) as conn:
        limits = dict(
            conn.execute(
                "select rolname, rolconnlimit from pg_roles where rolname = any(%s)", [LOGINS]
            ).fetchall()
        )
        assert limits == {login: connection_limit(login) for login in LOGINS}
        # all of them together leave the pipeline a quarter of the server
        (slots,) = conn.execute(
            "select current_setting('max_connections')::int"
            " - current_setting('superuser_reserved_connections')::int"
        ).fetchone()
        assert sum(limits.values()) <= slots - 20
        # a login of its own (a managed login's limits), so that no other test's is taken
        conn.execute(f"create role bi_greedy login password '{BI_PASSWORD}'")
        _limit(conn, "bi_greedy")
    held: list[psycopg.Connection] = []
    try:
        # ATTACK: open sessions until the server refuses (it refused everyone at 100)
        with pytest.raises(psycopg.OperationalError, match="too many connections for role"):
            for _ in range(BI_CONNECTION_LIMIT + 5):
                held.append(_connect(warehouse_copy, "bi_greedy"))
        assert len(held) == BI_CONNECTION_LIMIT
        # and raise its own limit
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            held[0].execute("alter role bi_greedy connection limit -1")
        # THEN the pipeline still connects
        with connect(warehouse_copy) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
    finally:
        for c in held:
            c.close()
        with connect(warehouse_copy, autocommit=True) as conn:
            conn.execute("drop role bi_greedy")


@pytest.mark.parametrize("login", [READER, "bi_bolton"])
def test_a_bi_login_cannot_lift_the_cap_on_its_temporary_files(default_warehouse, login):
    # ATTACK: lift the cap, then sort a cross join of marts until the disk is full
    with _connect(default_warehouse, login) as conn:
        assert conn.execute("show temp_file_limit").fetchone() == (TEMP_FILE_LIMIT,)
        for attempt in (
            "set temp_file_limit = -1",
            "alter role current_user set temp_file_limit = -1",
            "select set_config('temp_file_limit', '-1', false)",
            # temporary tables do not count towards the cap
            "create temp table filler as select repeat('x', 1000) from generate_series(1, 10)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(attempt)
    # nor does the cap hold in another database: the login cannot connect to one
    info = default_warehouse.conninfo()
    for dbname in ("postgres", "template1"):
        with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
            psycopg.connect(
                host=info.host, port=info.port, dbname=dbname, user=login, password=BI_PASSWORD
            )
    # the pipeline's builds are not capped
    with connect(default_warehouse) as conn:
        assert conn.execute("show temp_file_limit").fetchone() == ("-1",)


def _hold(settings, mart: str, release: threading.Event) -> threading.Thread:  # type: ignore[no-untyped-def]
    """A BI login reading ``mart`` in an open transaction (AccessShareLock) until released."""
    ready = threading.Event()

    def run() -> None:
        with _connect(settings, READER, autocommit=False) as conn:
            conn.execute(f"select count(*) from marts.{mart}").fetchone()
            ready.set()
            release.wait(timeout=120)
            conn.rollback()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(timeout=10)
    return thread


def _release_after_a_wait(settings, mart: str, release: threading.Event) -> None:  # type: ignore[no-untyped-def]
    """Set ``release`` 1.5 s after a session starts waiting for a lock on ``mart``."""
    with connect(settings, autocommit=True) as conn:
        deadline = time.monotonic() + 60
        while (
            time.monotonic() < deadline
            and not conn.execute(
                """select count(*) from pg_locks l join pg_class c on c.oid = l.relation
            where not l.granted and c.relname = %s""",
                [mart],
            ).fetchone()[0]
        ):
            time.sleep(0.05)
    time.sleep(1.5)
    release.set()


@pytest.fixture
def quick_locks(warehouse_copy, monkeypatch) -> Settings:  # type: ignore[no-untyped-def]
    """The copy with a 1 s lock_timeout and 2 retries 0.5 s then 1 s apart."""
    monkeypatch.setenv("WAREHOUSE_DBT_LOCK_TIMEOUT", "1s")
    monkeypatch.setenv("WAREHOUSE_DBT_LOCK_RETRIES", "2")
    monkeypatch.setenv("WAREHOUSE_DBT_LOCK_BACKOFF", "0.5")
    return Settings()


def test_a_bi_query_delays_a_mart_build_but_never_holds_it(quick_locks):
    # GIVEN a BI login holding dim_tier in an open transaction, ended 1.5 s after the
    # build starts waiting for it (longer than the build's 1 s lock_timeout)
    release = threading.Event()
    holder = _hold(quick_locks, "dim_tier", release)
    threading.Thread(
        target=_release_after_a_wait, args=(quick_locks, "dim_tier", release), daemon=True
    ).start()
    # WHEN the mart is built
    started = time.monotonic()
    report = run_dbt(quick_locks, "build", "--select", "dim_tier")
    # THEN its first swap timed out, and a retry built it once the BI transaction ended
    node = "model.probation_warehouse.dim_tier"
    assert report.lock_retries.get(node, 0) >= 1
    assert report.nodes[node][0] == "success"
    assert time.monotonic() - started < 60
    holder.join(timeout=10)


def _held_for_ever(settings, login: str, mart: str) -> psycopg.Connection:  # type: ignore[no-untyped-def]
    """A session of ``login`` holding ``mart`` in a transaction it never ends, both of its
    timeouts lifted (a login may)."""
    conn = _connect(settings, login, autocommit=False)
    conn.execute("set statement_timeout = 0")
    conn.execute("set idle_in_transaction_session_timeout = 0")
    conn.execute(sql.SQL("select count(*) from marts.{}").format(sql.Identifier(mart))).fetchone()
    return conn


def test_a_bi_session_that_never_lets_go_is_ended_before_the_builds_last_attempt(
    quick_locks, default_warehouse
):
    # GIVEN bi_reader holding dim_tier in a transaction that never ends, its statement
    # timeout lifted (a login may); bi_bolton holding another mart; and bi_reader holding
    # dim_tier in the database this one was copied from (the same table oids)
    holder = _held_for_ever(quick_locks, READER, "dim_tier")
    bystander = _connect(quick_locks, "bi_bolton", autocommit=False)
    bystander.execute("select count(*) from marts.dim_date").fetchone()
    elsewhere = _connect(default_warehouse, READER, autocommit=False)
    elsewhere.execute("select count(*) from marts.dim_tier").fetchone()
    try:
        # WHEN the mart is built (1 s lock waits, 2 retries 0.5 s then 1 s apart)
        started = time.monotonic()
        report = run_dbt(quick_locks, "build", "--select", "dim_tier")
        # THEN the first two attempts waited for it, the last ended its session and built
        node = "model.probation_warehouse.dim_tier"
        assert report.nodes[node][0] == "success" and report.lock_retries[node] == 2
        assert report.ended_sessions == [READER]
        assert 3.5 <= time.monotonic() - started < 60  # it did wait: 2 x 1 s + 0.5 + 1 s
        with pytest.raises(psycopg.OperationalError):
            holder.execute("select 1")
        # and BI sessions holding nothing the build waited for are left alone
        assert bystander.execute("select 1").fetchone() == (1,)
        assert elsewhere.execute("select 1").fetchone() == (1,)
        # the pipeline may end a BI login's sessions, never act as it
        with connect(quick_locks) as owner, pytest.raises(psycopg.errors.InsufficientPrivilege):
            owner.execute(f"set role {READER}")
    finally:
        for conn in (holder, bystander, elsewhere):
            conn.close()


def test_settings_a_login_gives_itself_are_cleared_by_the_next_access_run(warehouse_copy):
    # GIVEN bi_reader storing person-level rows in its own default search_path (any login
    # reads pg_roles), and bi_bolton turning row security off for itself in this database
    # (every query of anyone sharing the login then fails on a mart)
    dbname = warehouse_copy.conninfo().dbname
    smuggled = "10/F/25-29/00BMGB/4 42/M/30-39/00BMGK/3"
    with _connect(warehouse_copy, READER) as reader:
        reader.execute(
            sql.SQL("alter role {} set search_path = {}, public").format(
                sql.Identifier(READER), sql.Identifier(smuggled)
            )
        )
    with _connect(warehouse_copy, "bi_bolton") as bolton:
        bolton.execute(
            sql.SQL("alter role bi_bolton in database {} set row_security = off").format(
                sql.Identifier(dbname)
            )
        )
    with _connect(warehouse_copy, "bi_bury") as bury:
        (config,) = bury.execute(
            "select rolconfig from pg_roles where rolname = %s", [READER]
        ).fetchone()
        assert any(smuggled in c for c in config)  # the attack as it stood
    with _connect(warehouse_copy, "bi_bolton") as bolton, pytest.raises(psycopg.Error):
        bolton.execute("select count(*) from marts.dim_district").fetchone()
    # WHEN `warehouse access` runs (as before every build)
    ensure_access(warehouse_copy)
    # THEN each login has its limits and nothing else, anywhere, and works again
    expected = sorted(f"{k}={v}" for k, v in BI_LIMITS.items())
    with _connect(warehouse_copy, "bi_bury") as bury:
        settings = bury.execute(
            "select setrole::regrole::text, setdatabase, setconfig from pg_db_role_setting"
            " where setrole in (to_regrole(%s), to_regrole('bi_bolton'))",
            [READER],
        ).fetchall()
    assert sorted((r, d, sorted(c)) for r, d, c in settings) == [
        ("bi_bolton", 0, expected),
        (READER, 0, expected),
    ]
    with _connect(warehouse_copy, "bi_bolton") as bolton:
        assert bolton.execute("select count(*) from marts.dim_district").fetchone() == (1,)


def test_a_bi_transaction_left_open_past_the_limit_is_ended_by_the_next_access_run(
    warehouse_copy, monkeypatch
):
    # GIVEN bi_bolton's snapshot kept open (its timeouts lifted) without touching a mart,
    # which keeps vacuum from removing any row a build deletes, for longer than the limit;
    # bi_bury in a transaction just begun, bi_wigan idle outside one
    # (the limit leaves `warehouse access` seconds of its own before it looks, on a busy
    # machine, so the young transaction stays young)
    monkeypatch.setenv("WAREHOUSE_BI_MAX_TRANSACTION", "8s")
    settings = Settings()
    old = _connect(settings, "bi_bolton", autocommit=False)
    old.execute("set statement_timeout = 0")
    old.execute("set idle_in_transaction_session_timeout = 0")
    old.execute("set transaction isolation level repeatable read")
    old.execute("select 1").fetchone()
    time.sleep(9)
    young = _connect(settings, "bi_bury", autocommit=False)
    young.execute("select 1").fetchone()
    idle = _connect(settings, "bi_wigan")
    try:
        with connect(settings) as conn:
            (pinned,) = conn.execute(
                "select count(*) from pg_stat_activity where usename = 'bi_bolton'"
                " and backend_xmin is not null"
            ).fetchone()
        assert pinned == 1  # the attack as it stood
        # WHEN `warehouse access` runs (as before every build)
        ensure_access(settings)
        # THEN the old transaction's session is gone, the others are not
        with pytest.raises(psycopg.OperationalError):
            old.execute("select 1")
        assert young.execute("select 1").fetchone() == (1,)
        assert idle.execute("select 1").fetchone() == (1,)
    finally:
        for conn in (old, young, idle):
            conn.close()


def test_a_bi_session_on_a_fact_is_ended_before_its_dimensions_last_attempt(quick_locks):
    # GIVEN bi_bolton holding fct_unit_costs for ever (its foreign keys point at dim_service,
    # whose rebuild drops them from the table it replaces: a lock on the fact), and bi_bury
    # holding dim_tier, which nothing links to dim_service
    holder = _held_for_ever(quick_locks, "bi_bolton", "fct_unit_costs")
    bystander = _held_for_ever(quick_locks, "bi_bury", "dim_tier")
    try:
        # WHEN dim_service is built THEN its last attempt ended the session on the fact
        report = run_dbt(quick_locks, "build", "--select", "dim_service")
        node = "model.probation_warehouse.dim_service"
        assert report.nodes[node][0] == "success" and report.lock_retries[node] == 2
        assert report.ended_sessions == ["bi_bolton"]
        with pytest.raises(psycopg.OperationalError):
            holder.execute("select 1")
        assert bystander.execute("select 1").fetchone() == (1,)
        # and the fact's key to the new dimension is back (its relationships test passed)
        with connect(quick_locks) as conn:
            assert conn.execute(
                "select count(*) from pg_constraint where contype = 'f'"
                " and conrelid = 'marts.fct_unit_costs'::regclass"
                " and confrelid = 'marts.dim_service'::regclass"
            ).fetchall() == [(1,)]
    finally:
        holder.close()
        bystander.close()


def test_a_bi_session_on_a_dimension_cannot_hold_a_facts_rebuild(quick_locks):
    # GIVEN bi_bolton holding dim_district for ever: the table a rebuild of fct_unit_costs
    # replaces has a foreign key to it, and dropping that key locks the dimension (after
    # the commit, with no lock_timeout, the build used to wait for it with no end)
    holder = _held_for_ever(quick_locks, "bi_bolton", "dim_district")
    built = threading.Event()
    rescued = threading.Event()

    def rescue() -> None:  # a build still waiting after this long would wait for ever
        if not built.wait(timeout=120):
            rescued.set()
            holder.close()

    threading.Thread(target=rescue, daemon=True).start()
    try:
        # WHEN the fact is built
        report = run_dbt(quick_locks, "build", "--select", "fct_unit_costs")
        built.set()
        # THEN it waited within its lock_timeout, retried, and its last attempt ended the
        # session on the dimension
        assert not rescued.is_set(), "the build waited on the BI session until rescued"
        node = "model.probation_warehouse.fct_unit_costs"
        assert report.nodes[node][0] == "success" and report.lock_retries[node] == 2
        assert report.ended_sessions == ["bi_bolton"]
        with connect(quick_locks) as conn:
            keys = conn.execute(
                "select confrelid::regclass::text from pg_constraint"
                " where contype = 'f' and conrelid = 'marts.fct_unit_costs'::regclass"
                " order by 1"
            ).fetchall()
        assert keys == [(f"marts.{d}",) for d in ("dim_date", "dim_district", "dim_service")]
    finally:
        built.set()
        holder.close()


def test_a_transaction_of_the_pipeline_itself_fails_the_build_naming_the_mart(quick_locks):
    # GIVEN a session of the pipeline's own login (not a BI login: never ended by a build)
    # holding dim_tier for the whole build
    with connect(quick_locks) as holder:
        holder.execute("select count(*) from marts.dim_tier").fetchone()
        started = time.monotonic()
        # THEN the build gives up after 3 attempts of 1 s (and 1.5 s of backoff) plus dbt's
        # own time, instead of waiting for it
        with pytest.raises(DbtFailed, match="lock timeout on dim_tier"):
            run_dbt(quick_locks, "build", "--select", "dim_tier")
        assert 4.5 <= time.monotonic() - started < 60  # it did wait: 3 x 1 s + 0.5 + 1 s
        assert holder.execute("select 1").fetchone() == (1,)  # and its session was kept
