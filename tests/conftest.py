"""Shared fixtures. Integration tests run against a throwaway PostgreSQL started here.

Airflow reads its configuration when first imported, so its environment (a temporary
AIRFLOW_HOME with SQLite metadata) is set at import time of this file, before any test
module imports Airflow.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="warehouse-tests-"))
_SESSION_DIR.chmod(0o755)  # the server may run as an unprivileged user (see localdb)
os.environ["WAREHOUSE_HOME"] = str(_SESSION_DIR / "home")
os.environ.pop("WAREHOUSE_DSN", None)
for _key in ("DO_NOT_TRACK", "GX_ANALYTICS_ENABLED", "SODA_CORE_TELEMETRY_ENABLED"):
    os.environ[_key] = {"DO_NOT_TRACK": "1"}.get(_key, "false")

from warehouse import airflow_local  # noqa: E402
from warehouse.localdb import LocalPostgres, free_port  # noqa: E402
from warehouse.settings import Settings  # noqa: E402

airflow_local.configure(Settings())


@pytest.fixture(scope="session")
def pg_server() -> Iterator[LocalPostgres]:
    """A throwaway PostgreSQL on a free port with password logins; removed afterwards."""
    server = LocalPostgres(
        root=_SESSION_DIR / "pg",
        host="127.0.0.1",
        port=free_port(),
        password="test-only-password",
        fast_unsafe=True,
    )
    server.start()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture(scope="session")
def _db_counter() -> list[int]:
    return [0]


@pytest.fixture
def settings(
    pg_server: LocalPostgres, _db_counter: list[int], tmp_path: Path, monkeypatch
) -> Settings:
    """Settings for a fresh, empty database (WAREHOUSE_DSN) with its own landing folder."""
    _db_counter[0] += 1
    dbname = f"test_{_db_counter[0]}"
    password = "pipeline-test-password"
    pg_server.ensure_database(dbname, "pipeline", password)
    dsn = f"postgresql://pipeline:{password}@{pg_server.host}:{pg_server.port}/{dbname}"
    monkeypatch.setenv("WAREHOUSE_DSN", dsn)
    monkeypatch.setenv("WAREHOUSE_HOME", str(tmp_path / "home"))
    return Settings()
