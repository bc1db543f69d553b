"""BI access: the roles the project creates, and what each may read.

What each role reads, and which rows, is declared once in ``access_matrix.yml`` (role x
mart x row scope). ``ensure_access`` loads it into ``access.mart_access``;
``access.protect()`` (``sql/access.sql``), which each mart's dbt post-hook calls, grants
and writes the row-level-security policies from that table, so they survive rebuilds; the
unit and integration tests read the same file.

- ``pipeline`` (the warehouse owner): owns raw, staging and marts; runs every job.
- ``bi_reader``: trust analysts; person-level and aggregate marts, every row.
- ``bi_<district>`` logins (members of the ``bi_district`` group, without SET): aggregate
  and reference marts only, their own local authority's rows.

Passwords: locally generated once and kept in ``$WAREHOUSE_HOME/secrets/`` (git-ignored);
against an external warehouse they come from ``WAREHOUSE_BI_PASSWORD_<ROLE>``; a role
without one is created without login (an existing role keeps its login and password, e.g.
``bi_reader`` from ``docker/warehouse-init.sql``).
"""

from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import errors, sql

from warehouse import secret_files
from warehouse.db import connect
from warehouse.settings import PROJECT_ROOT, Settings

ACCESS_SQL = Path(__file__).parent / "sql" / "access.sql"
MATRIX_FILE = Path(__file__).parent / "access_matrix.yml"
ACCESS_DOC = PROJECT_ROOT / "docs" / "access.md"  # holds the generated matrix table
LA_SEED = PROJECT_ROOT / "dbt_project" / "seeds" / "ref_local_authorities.csv"
log = logging.getLogger(__name__)

READER = "bi_reader"
DISTRICT_GROUP = "bi_district"


@dataclass(frozen=True)
class Login:
    role: str
    la_code: str | None  # None: every district
    password: str | None  # None: no login (no password configured)


@dataclass(frozen=True)
class Scope:
    """A row scope of the matrix: the policy expression, and the columns it needs."""

    using: str | None  # None: no SELECT at all
    columns: tuple[str, ...] = ()
    doc: str = ""


OWN = "(select access.own_district())"  # an InitPlan: once per query, not once per row
GREATER_MANCHESTER = "E11000001"  # the area's comparator rows (jsna_indicators)
SCOPES: dict[str, Scope] = {
    "all": Scope("true", doc="every row"),
    "own_district": Scope(f"la_code = {OWN}", ("la_code",), "own district (`la_code`)"),
    "own_district_and_gm": Scope(
        f"la_code = {OWN} or la_code = '{GREATER_MANCHESTER}'",
        ("la_code",),
        "own district + Greater Manchester rows",
    ),
    "none": Scope(None, doc="no access"),
}
LEVELS = ("person", "aggregate", "reference")


class MatrixError(ValueError):
    pass


@dataclass(frozen=True)
class Matrix:
    roles: dict[str, dict[str, object]]  # role -> {who, person_level}
    marts: dict[str, dict[str, str]]  # mart -> role -> scope name
    levels: dict[str, str]  # mart -> person / aggregate / reference

    def scope(self, mart: str, role: str) -> Scope:
        return SCOPES[self.marts[mart][role]]


def load_matrix(path: Path = MATRIX_FILE) -> Matrix:
    """The access matrix, checked for shape: every mart names a level and every role, with a
    known scope, and a person-level mart is readable only by a role with ``person_level``.
    (That the marts are exactly dbt's, and that the levels match their contracts, is the
    drift test's job: tests/unit/test_access_matrix.py.)"""
    import yaml

    raw = yaml.safe_load(path.read_text())
    roles = dict(raw["roles"])
    marts: dict[str, dict[str, str]] = {}
    levels: dict[str, str] = {}
    problems = []
    for mart, entry in raw["marts"].items():
        entry = dict(entry)
        level = entry.pop("level", None)
        if level not in LEVELS:
            problems.append(f"{mart}: level {level!r} is not one of {', '.join(LEVELS)}")
        if set(entry) != set(roles):
            problems.append(f"{mart}: names roles {sorted(entry)}, the matrix has {sorted(roles)}")
        for role, scope in entry.items():
            if scope not in SCOPES:
                problems.append(f"{mart}.{role}: unknown scope {scope!r}")
            elif (
                level == "person"
                and SCOPES[scope].using is not None
                and not roles.get(role, {}).get("person_level")
            ):
                problems.append(f"{mart}.{role}: person-level mart for an aggregate-only role")
        marts[mart], levels[mart] = entry, level
    if problems:
        raise MatrixError(f"{path.name}: " + "; ".join(problems))
    return Matrix(roles=roles, marts=marts, levels=levels)


def render_markdown(matrix: Matrix | None = None) -> str:
    """The matrix as the table of docs/access.md (tests/unit/test_access_matrix.py keeps it current)."""
    m = matrix or load_matrix()
    roles = list(m.roles)
    lines = [
        "| mart | level | " + " | ".join(f"`{r}`" for r in roles) + " |",
        "|---|---|" + "---|" * len(roles),
    ]
    for level in LEVELS:
        for mart in sorted(mt for mt, lv in m.levels.items() if lv == level):
            cells = [SCOPES[m.marts[mart][r]].doc for r in roles]
            lines.append(f"| `{mart}` | {level} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


MATRIX_START = "<!-- access-matrix: generated from warehouse/access_matrix.yml -->\n"
MATRIX_END = "<!-- /access-matrix -->\n"


def readme_with_matrix(text: str, matrix: Matrix | None = None) -> str:
    """``text`` (docs/access.md) with the generated table between its markers."""
    head, rest = text.split(MATRIX_START, 1)
    _, tail = rest.split(MATRIX_END, 1)
    return head + MATRIX_START + render_markdown(matrix) + MATRIX_END + tail


def district_role(la_name: str) -> str:
    """``Bolton`` -> ``bi_bolton``; ``Trafford`` -> ``bi_trafford``."""
    return "bi_" + re.sub(r"[^a-z0-9]+", "_", la_name.lower()).strip("_")


def _districts() -> list[tuple[str, str]]:
    import csv

    with LA_SEED.open(newline="") as f:
        return [(r["la_code"], r["la_name"]) for r in csv.DictReader(f)]


def district_codes() -> dict[str, str]:
    """Each district login and its local authority code: ``{"bi_bolton": "E08000001", ...}``."""
    return {district_role(name): code for code, name in _districts()}


def _password(settings: Settings, role: str) -> str | None:
    env = os.environ.get(f"WAREHOUSE_BI_PASSWORD_{role.upper()}")
    if env:
        return env
    if not settings.is_local:
        return None
    return secret_files.read_or_create(settings.secrets_dir / f"{role}_password", 18)


def logins(settings: Settings) -> list[Login]:
    out = [Login(READER, None, _password(settings, READER))]
    for code, name in _districts():
        role = district_role(name)
        out.append(Login(role, code, _password(settings, role)))
    return out


def _ensure_role(conn, role: str, password: str | None) -> None:  # type: ignore[no-untyped-def]
    exists = conn.execute("select 1 from pg_roles where rolname = %s", [role]).fetchone()
    verb = "alter" if exists else "create"
    if password is None:
        if not exists:  # an existing role keeps the login and password it was given
            conn.execute(sql.SQL("create role {} nologin").format(sql.Identifier(role)))
    else:
        conn.execute(
            sql.SQL(verb + " role {} login password {}").format(
                sql.Identifier(role), sql.Literal(password)
            )
        )


def ensure_access(settings: Settings) -> list[Login]:
    """Create the roles, the district mapping and the matrix; protect every existing mart."""
    found = logins(settings)
    matrix = load_matrix()
    with connect(settings, autocommit=True) as conn:
        # a BI query holding a mart must delay this, never hold it (see _protect)
        conn.execute(
            sql.SQL("set lock_timeout = {}").format(sql.Literal(settings.dbt_lock_timeout))
        )
        conn.execute(ACCESS_SQL.read_text())
        _ensure_logins(conn, found)
        _end_stale_transactions(conn, found, settings.bi_max_transaction)
        _district_logins_in_their_group_only(conn, found)
        _write_mappings(conn, found, matrix)
        _grant_schemas(conn, settings, matrix)
        _protect_marts(conn)
    return found


def _ensure_logins(conn: psycopg.Connection, found: list[Login]) -> None:
    """The district group and every login, district logins members of the group."""
    _ensure_role(conn, DISTRICT_GROUP, None)
    for login in found:
        _ensure_role(conn, login.role, login.password)
        if login.password is not None:  # a role we manage (others keep their settings)
            _limit(conn, login.role)
            # the pipeline may end this login's sessions (end_sessions_holding), never act
            # as it: PostgreSQL lets a role signal the sessions of roles whose privileges
            # it has, and the pipeline already owns everything a BI login reads
            conn.execute(
                sql.SQL("grant {} to current_user with inherit true, set false").format(
                    sql.Identifier(login.role)
                )
            )
        if login.la_code:
            # inherit the group's grants, but never SET ROLE to it (nor connect with
            # options=-c role=...): the login stays itself, and RLS keys on the login
            conn.execute(
                sql.SQL("grant {} to {} with inherit true, set false").format(
                    sql.Identifier(DISTRICT_GROUP), sql.Identifier(login.role)
                )
            )


def _district_logins_in_their_group_only(conn: psycopg.Connection, found: list[Login]) -> None:
    """A district login (and its group) is a member of nothing else: a role granted to it
    by hand (bi_reader, say) would widen what it reads."""
    members = [lg.role for lg in found if lg.la_code]
    for role, member in conn.execute(
        """select m.roleid::regrole::text, m.member::regrole::text from pg_auth_members m
        where (m.member::regrole::text = any(%(members)s) and m.roleid::regrole::text <> %(group)s)
            or m.member::regrole::text = %(group)s""",
        {"members": members, "group": DISTRICT_GROUP},
    ).fetchall():
        conn.execute(sql.SQL("revoke {} from {}").format(sql.SQL(role), sql.SQL(member)))


def _write_mappings(conn: psycopg.Connection, found: list[Login], matrix: Matrix) -> None:
    """The district of each district login, and the row scope of each role on each mart."""
    with conn.transaction():
        conn.execute("delete from access.district_logins")
        for login in found:
            if login.la_code:
                conn.execute(
                    "insert into access.district_logins (role_name, la_code) values (%s, %s)",
                    [login.role, login.la_code],
                )
        conn.execute("delete from access.mart_access")
        for mart, scopes in matrix.marts.items():
            for role, scope in scopes.items():
                if SCOPES[scope].using is not None:
                    conn.execute(
                        """insert into access.mart_access (mart, role_name, scope, using_expr)
                        values (%s, %s, %s, %s)""",
                        [mart, role, scope, SCOPES[scope].using],
                    )


def _grant_schemas(conn: psycopg.Connection, settings: Settings, matrix: Matrix) -> None:
    """Each role connects and sees the marts schema; only the district group sees the one
    access function the policies call."""
    dbname = sql.Identifier(settings.conninfo().dbname)
    conn.execute("create schema if not exists marts")
    for role in matrix.roles:
        ident = sql.Identifier(role)
        conn.execute(sql.SQL("grant connect on database {} to {}").format(dbname, ident))
        conn.execute(sql.SQL("grant usage on schema marts to {}").format(ident))
        # nothing in `access` for BI roles but the one function the policies call
        conn.execute(sql.SQL("revoke all on schema access from {}").format(ident))
    group = sql.Identifier(DISTRICT_GROUP)
    conn.execute(sql.SQL("grant usage on schema access to {}").format(group))
    conn.execute(sql.SQL("grant execute on function access.own_district() to {}").format(group))


def _protect_marts(conn: psycopg.Connection) -> None:
    """Grants and row-level security on every relation in marts; old helpers dropped."""
    relations = conn.execute(
        """select c.oid::regclass::text from pg_class c
        join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'marts' and c.relkind in ('r', 'v', 'p', 'm')"""
    ).fetchall()
    for (rel,) in relations:
        _protect(conn, rel)
    # the helpers of earlier versions, now that no policy uses them: each answered
    # about the session's own login only, but one function is the least to trust
    conn.execute("drop function if exists access.can_see_district(text, name)")
    conn.execute("drop function if exists access.sees_all_districts()")


# A BI query is cut off after this long, and an open transaction left idle after this: a
# dashboard cannot hold a mart's lock against the nightly build for minutes. (A login may
# lift its own defaults: the build's lock_timeout keeps it from waiting, and before its last
# attempt at a mart the sessions still holding it are ended: end_sessions_holding.)
BI_LIMITS = {"statement_timeout": "5min", "idle_in_transaction_session_timeout": "2min"}
# Sessions a managed BI login may hold at once: one login opening connections until the
# server refused everyone took every slot (the pipeline, Airflow and the other logins could
# not connect). A login cannot raise its own limit (it takes CREATEROLE). bi_reader serves
# every Superset user (a dashboard of 10 charts, opened by two people at once); all the
# logins together (25 + 10 x 5) leave a quarter of the server's 100 to the pipeline.
BI_CONNECTION_LIMIT = 5
READER_CONNECTION_LIMIT = 25


def connection_limit(role: str) -> int:
    return READER_CONNECTION_LIMIT if role == READER else BI_CONNECTION_LIMIT


def _limit(conn, role: str) -> None:  # type: ignore[no-untyped-def]
    """The login's session cap and timeouts, and no other default: a login may set its own
    (``ALTER ROLE ... SET``, in any database), which every other login can read in
    ``pg_roles`` (person-level rows were passed from bi_reader to a district login in a
    search_path) and which may break the login for everyone sharing it (``row_security =
    off`` fails every query on a mart). PostgreSQL cannot forbid that; every ``warehouse
    access`` (so every build) clears them, in one transaction with the limits set again (a
    session starting between the two would otherwise have none)."""
    with conn.transaction():
        _reset_and_limit(conn, role)


def _reset_and_limit(conn, role: str) -> None:  # type: ignore[no-untyped-def]
    conn.execute(sql.SQL("alter role {} reset all").format(sql.Identifier(role)))
    for (database,) in conn.execute(
        "select d.datname from pg_db_role_setting s join pg_database d on d.oid = s.setdatabase"
        " where s.setrole = to_regrole(%s)",
        [role],
    ).fetchall():
        conn.execute(
            sql.SQL("alter role {} in database {} reset all").format(
                sql.Identifier(role), sql.Identifier(database)
            )
        )
    conn.execute(
        sql.SQL("alter role {} connection limit {}").format(
            sql.Identifier(role), sql.Literal(connection_limit(role))
        )
    )
    for setting, value in BI_LIMITS.items():
        conn.execute(
            sql.SQL("alter role {} set {} = {}").format(
                sql.Identifier(role), sql.Identifier(setting), sql.Literal(value)
            )
        )


def _end_stale_transactions(conn, found: list[Login], older_than: str) -> None:  # type: ignore[no-untyped-def]
    """End the sessions of managed BI logins whose transaction has been open longer than
    ``older_than``: the login lifted its own timeouts (``BI_LIMITS``), and a snapshot that
    old keeps vacuum from removing the rows every build deletes, even when it holds no
    mart (``BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1``, left open)."""
    roles = [login.role for login in found if login.password is not None]
    try:
        ended = [
            role
            for role, done in conn.execute(
                """select a.usename::text, pg_terminate_backend(a.pid, 5000)
                from pg_stat_activity a
                where a.datname = current_database() and a.usename = any(%s)
                    and a.xact_start < clock_timestamp() - %s::interval
                    and a.pid <> pg_backend_pid()""",
                [roles, older_than],
            ).fetchall()
            if done
        ]
    except errors.InsufficientPrivilege:  # a login this pipeline may not signal
        log.warning("cannot end BI transactions open over %s", older_than)
        return
    if ended:
        log.warning(
            "ended %d BI session(s) with a transaction open over %s (%s)",
            len(ended),
            older_than,
            ", ".join(sorted(set(ended))),
        )


def end_sessions_holding(settings: Settings, tables: list[str]) -> list[str]:
    """End the sessions of the BI logins that hold a lock on any of ``tables`` (names in
    this database's ``marts``) or on a mart linked to one of them by a foreign key, either
    way (a rebuild drops the keys of the table it replaces, which locks both of their
    tables: a query on a fact held up its dimension's rebuild), e.g. a query whose login
    lifted its own statement timeout, or a transaction left open: the build's last attempt
    at a mart, after its retries waited for them. Returns the logins whose sessions were
    ended (login names, never what they ran). Sessions are found and ended in one
    statement (a process id is not kept to be reused by another session); a copy of the
    database (``CREATE DATABASE ... TEMPLATE``: the same table oids) on the same server is
    not this one."""
    roles = [login.role for login in logins(settings)]
    with connect(settings, autocommit=True) as conn:
        try:
            ended = conn.execute(
                """with named as (
                    select c.oid from pg_class c
                    join pg_namespace n on n.oid = c.relnamespace
                    where n.nspname = 'marts' and c.relname = any(%s)
                ), needed as (
                    select oid from named
                    union select conrelid from pg_constraint
                    where contype = 'f' and confrelid in (select oid from named)
                    union select confrelid from pg_constraint
                    where contype = 'f' and conrelid in (select oid from named)
                )
                select h.usename, pg_terminate_backend(h.pid, 5000) from (
                    select distinct a.pid, a.usename::text as usename from pg_locks l
                    join pg_class c on c.oid = l.relation
                    join pg_namespace n on n.oid = c.relnamespace
                    join pg_stat_activity a on a.pid = l.pid
                    where l.granted
                        and l.database = (select oid from pg_database
                                          where datname = current_database())
                        and a.datname = current_database()
                        and n.nspname = 'marts' and c.oid in (select oid from needed)
                        and a.usename = any(%s) and a.pid <> pg_backend_pid()
                ) h""",
                [tables, roles],
            ).fetchall()
        except errors.InsufficientPrivilege:  # a login this pipeline did not create
            log.warning("cannot end the BI sessions holding %s", ", ".join(tables))
            return []
    return [role for role, done in ended if done]


def _protect(conn, rel: str, attempts: int = 3) -> None:  # type: ignore[no-untyped-def]
    """``access.protect(rel)``; retried when it loses a deadlock (to autovacuum, say) or
    times out waiting for a lock (a BI query on a mart whose grants must change)."""
    for attempt in range(1, attempts + 1):
        try:
            conn.execute("select access.protect(%s::regclass)", [rel])
            return
        except errors.UndefinedColumn:
            _withhold(conn, rel)
            return
        except (errors.DeadlockDetected, errors.LockNotAvailable):
            if attempt == attempts:
                raise
            time.sleep(attempt)


def _withhold(conn, rel: str) -> None:  # type: ignore[no-untyped-def]
    """No one but its owner reads ``rel``: a mart left by an earlier version that lacks the
    columns its row scope needs now. The build that follows replaces and protects it."""
    grantees = conn.execute(
        """select distinct case when a.grantee = 0 then 'public'
            else quote_ident(pg_get_userbyid(a.grantee)) end
        from pg_class c, aclexplode(c.relacl) a
        where c.oid = %s::regclass and a.grantee <> c.relowner""",
        [rel],
    ).fetchall()
    for (grantee,) in grantees:
        conn.execute(sql.SQL("revoke all on {} from {}").format(sql.SQL(rel), sql.SQL(grantee)))
    log.warning("%s lacks a column its row scope needs: no BI role reads it until rebuilt", rel)


if __name__ == "__main__":  # python -m warehouse.access: rewrite the matrix table in docs/access.md
    ACCESS_DOC.write_text(readme_with_matrix(ACCESS_DOC.read_text()))
