"""The default dataset, built once per test session (several modules read it)."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.default_build import (
    BI_PASSWORD,
    SHARE_KEY,
    bi_roles,
    default_env,
    ensure_built,
    throwaway_cluster,
)
from warehouse.localdb import LocalPostgres
from warehouse.settings import Settings

__all__ = ["BI_PASSWORD", "SHARE_KEY", "SHARE_PERIOD", "bi_roles"]  # the tests import these

SHARE_PERIOD = "2008-09"  # the period the sharing tests deliver


@pytest.fixture(scope="session")
def default_server(session_dir: Path, shared_dir: Path) -> Iterator[LocalPostgres]:
    """The PostgreSQL holding this process's default warehouse.

    The default warehouse is built once per test run, in a cluster of its own that is then
    stopped, by a builder process that the first test process to collect a test needing it
    starts (tests/conftest.py), so the tests that do not need it run meanwhile (``make
    test`` runs two test processes, ``pytest -n 2``). Each process copies that cluster's files and the warehouse's home and starts
    its copy (seconds). No process sees another's sessions, roles, deliveries or Airflow
    runs, and ``CREATE DATABASE ... TEMPLATE`` copies for tests that change the warehouse
    come from a cluster only this process uses."""
    built = shared_dir / "default"
    try:  # normally built already, or being built, by the run's builder process
        ensure_built(built)
    except RuntimeError as exc:
        pytest.fail(str(exc))
    own = session_dir / "default"
    # cp -a keeps the data folder's owner (the server's unprivileged user) and modes
    subprocess.run(["cp", "-a", str(built), str(own)], check=True)
    server = throwaway_cluster(own / "pg")
    try:
        server.start()
        yield server
    finally:
        server.destroy()
        shutil.rmtree(own, ignore_errors=True)


@pytest.fixture(scope="session")
def default_warehouse(default_server: LocalPostgres, session_dir: Path) -> Iterator[Settings]:
    """The default dataset (scale 1, default seed and dirt), ingested, built and its
    analytics steps run (e.g. partner record linkage), with the
    BI logins (test passwords) and the DAT's pseudonymisation key in the environment."""
    with pytest.MonkeyPatch.context() as mp:
        yield default_env(mp, default_server, session_dir / "default" / "home")


@pytest.fixture(scope="session")
def period_deliveries(default_warehouse) -> dict:
    """`warehouse share --all --period 2008-09` on the default warehouse (two agreements at
    a time, as the CLI), once per session: the sharing tests read the files and the
    disclosure attack attacks them (a JSNA pack takes seconds to render, and each CSP gets
    one). test_sharing shares some again one by one and finds the same bytes."""
    from warehouse.sharing.agreements import all_agreements
    from warehouse.sharing.extract import share_all

    deliveries = {}
    for agreement, outcome in share_all(default_warehouse, all_agreements(), SHARE_PERIOD):
        if isinstance(outcome, Exception):
            raise outcome
        deliveries[agreement.id] = outcome
    return deliveries


@contextlib.contextmanager
def _copy_of(source: Settings, server: LocalPostgres, name: str, home: Path) -> Iterator[Settings]:
    """A copy of the built ``source`` warehouse: the database by ``CREATE DATABASE ...
    TEMPLATE`` (a file copy: seconds, against minutes to rebuild) and the landing folder by
    copying it; dropped afterwards."""
    with server.connect(autocommit=True) as conn:
        conn.execute(  # a template must have no other sessions
            "select pg_terminate_backend(pid) from pg_stat_activity"
            " where datname = %s and pid <> pg_backend_pid()",
            [source.conninfo().dbname],
        )
        owner = source.conninfo().user
        conn.execute(
            f"create database {name} template {source.conninfo().dbname}"
            f" owner {owner} strategy file_copy"
        )
    info = source.conninfo()
    try:
        shutil.copytree(source.landing_dir, home / "landing", symlinks=True)
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv(
                "WAREHOUSE_DSN",
                f"postgresql://{info.user}:{info.password}@{info.host}:{info.port}/{name}",
            )
            mp.setenv("WAREHOUSE_HOME", str(home))
            yield Settings()
    finally:
        with server.connect(autocommit=True) as conn:
            conn.execute(f"drop database if exists {name} with (force)")


@pytest.fixture
def warehouse_copy(default_warehouse, default_server, _db_counter, tmp_path) -> Iterator[Settings]:
    """A copy of the built default warehouse, for a test that changes it."""
    _db_counter[0] += 1
    name, home = f"copy_{_db_counter[0]}", tmp_path / "home"
    with _copy_of(default_warehouse, default_server, name, home) as s:
        yield s


@pytest.fixture(scope="module")
def module_warehouse_copy(
    default_warehouse, default_server, _db_counter, tmp_path_factory
) -> Iterator[Settings]:
    """One copy of the built default warehouse for the tests of a module, which change it in
    turn (e.g. a daily run, then a full rebuild of the same data)."""
    _db_counter[0] += 1
    home = tmp_path_factory.mktemp("copy-home")
    with _copy_of(default_warehouse, default_server, f"copy_{_db_counter[0]}", home) as s:
        yield s


@pytest.fixture(scope="session")
def fresh_warehouse(pg_server):  # type: ignore[no-untyped-def]
    """``fresh_warehouse(name, home, monkeypatch)``: settings for a new, empty database
    with its own home folder (for module-scoped fixtures; tests use ``settings``)."""

    def make(name: str, home: Path, mp: pytest.MonkeyPatch) -> Settings:
        password = "pipeline-test-password"
        pg_server.ensure_database(name, "pipeline", password)
        host, port = pg_server.host, pg_server.port
        mp.setenv("WAREHOUSE_DSN", f"postgresql://pipeline:{password}@{host}:{port}/{name}")
        mp.setenv("WAREHOUSE_HOME", str(home))
        return Settings()

    return make
