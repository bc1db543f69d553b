"""BI access: the roles the project creates, and what each may read.

- ``pipeline`` (the warehouse owner): owns raw, staging and marts; runs every job.
- ``bi_reader``: a login for BI tools; USAGE and SELECT on ``marts`` only.
- ``bi_<district>`` logins (members of the ``bi_district`` group): SELECT on ``marts``, and
  PostgreSQL row-level security on every mart carrying a district shows each only its own
  local authority's rows. dbt re-applies grants and policies after each mart it builds
  (``access.protect`` from a post-hook), so they survive rebuilds.

Passwords: locally generated once and kept in ``$WAREHOUSE_HOME/secrets/`` (git-ignored);
against an external warehouse they come from ``WAREHOUSE_BI_PASSWORD_<ROLE>``; a role
without one is created without login (an existing role keeps its login and password, e.g.
``bi_reader`` from ``docker/warehouse-init.sql``).
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from psycopg import errors, sql

from warehouse import secret_files
from warehouse.db import connect
from warehouse.settings import PROJECT_ROOT, Settings

ACCESS_SQL = Path(__file__).parent / "sql" / "access.sql"
LA_SEED = PROJECT_ROOT / "dbt_project" / "seeds" / "ref_local_authorities.csv"
READER = "bi_reader"
DISTRICT_GROUP = "bi_district"


@dataclass(frozen=True)
class Login:
    role: str
    la_code: str | None  # None: every district
    password: str | None  # None: no login (no password configured)


def district_role(la_name: str) -> str:
    """``Bolton`` -> ``bi_bolton``; ``Trafford`` -> ``bi_trafford``."""
    return "bi_" + re.sub(r"[^a-z0-9]+", "_", la_name.lower()).strip("_")


def _districts() -> list[tuple[str, str]]:
    import csv

    with LA_SEED.open(newline="") as f:
        return [(r["la_code"], r["la_name"]) for r in csv.DictReader(f)]


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
    """Create the roles, the district mapping and the policies on every existing mart."""
    found = logins(settings)
    with connect(settings, autocommit=True) as conn:
        conn.execute(ACCESS_SQL.read_text())
        _ensure_role(conn, DISTRICT_GROUP, None)
        for login in found:
            _ensure_role(conn, login.role, login.password)
            if login.password is not None:  # a role we manage (others keep their settings)
                _limit(conn, login.role)
            if login.la_code:
                # inherit the group's grants, but never SET ROLE to it (nor connect with
                # options=-c role=...): the login stays itself, and RLS keys on the login
                conn.execute(
                    sql.SQL("grant {} to {} with inherit true, set false").format(
                        sql.Identifier(DISTRICT_GROUP), sql.Identifier(login.role)
                    )
                )
            conn.execute(
                """insert into access.district_logins (role_name, la_code) values (%s, %s)
                on conflict (role_name) do update set la_code = excluded.la_code""",
                [login.role, login.la_code or "*"],
            )
        for role in (READER, DISTRICT_GROUP):
            ident = sql.Identifier(role)
            conn.execute(sql.SQL("grant usage on schema access to {}").format(ident))
            for function in (
                "can_see_district(text, name)",
                "sees_all_districts()",
                "own_district()",
            ):
                conn.execute(
                    sql.SQL("grant execute on function access.{} to {}").format(
                        sql.SQL(function), ident
                    )
                )
            conn.execute(
                sql.SQL("grant connect on database {} to {}").format(
                    sql.Identifier(settings.conninfo().dbname), ident
                )
            )
        conn.execute("create schema if not exists marts")
        for role in (READER, DISTRICT_GROUP):
            conn.execute(sql.SQL("grant usage on schema marts to {}").format(sql.Identifier(role)))
        relations = conn.execute(
            """select c.oid::regclass::text from pg_class c
            join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = 'marts' and c.relkind in ('r', 'v', 'p', 'm')"""
        ).fetchall()
        for (rel,) in relations:
            _protect(conn, rel)
    return found


# A BI query is cut off after this long, and an open transaction left idle after this: a
# dashboard cannot hold a mart's lock against the nightly build for minutes. (A login may
# lift its own defaults; the build's lock_timeout is what keeps it from waiting.)
BI_LIMITS = {"statement_timeout": "5min", "idle_in_transaction_session_timeout": "2min"}


def _limit(conn, role: str) -> None:  # type: ignore[no-untyped-def]
    for setting, value in BI_LIMITS.items():
        conn.execute(
            sql.SQL("alter role {} set {} = {}").format(
                sql.Identifier(role), sql.Identifier(setting), sql.Literal(value)
            )
        )


def _protect(conn, rel: str, attempts: int = 3) -> None:  # type: ignore[no-untyped-def]
    """``access.protect(rel)``; retried when it loses a deadlock (to autovacuum, say)."""
    for attempt in range(1, attempts + 1):
        try:
            conn.execute("select access.protect(%s::regclass)", [rel])
            return
        except errors.DeadlockDetected:
            if attempt == attempts:
                raise
            time.sleep(attempt)
