"""Shared fixtures. Integration tests run against a throwaway PostgreSQL started here.

Airflow reads its configuration when first imported, so its environment (a temporary
AIRFLOW_HOME with SQLite metadata) is set at import time of this file, before any test
module imports Airflow.

``make test`` runs two test processes (``pytest -n 2``, pytest-xdist), each with its own
folder, PostgreSQL and Airflow metadata; they share one folder (``WAREHOUSE_TESTS_SHARED``,
made by the controlling process, inherited by the workers it starts)
where the default warehouse is built once, by a process of its own started as soon as a test
process has collected a test that needs it (tests/integration/default_build.py). A test module
(or group, GROUPS) runs whole in one process; the modules that do not need the default
warehouse run while it is built.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="warehouse-tests-"))
_SESSION_DIR.chmod(0o755)  # the server may run as an unprivileged user (see localdb)
# an xdist worker uses its controller's shared folder; any other process makes a new one
_OWNS_SHARED = "PYTEST_XDIST_WORKER" not in os.environ
if _OWNS_SHARED:
    os.environ["WAREHOUSE_TESTS_SHARED"] = tempfile.mkdtemp(prefix="warehouse-tests-shared-")
_SHARED_DIR = Path(os.environ["WAREHOUSE_TESTS_SHARED"])
_SHARED_DIR.chmod(0o755)
os.environ["WAREHOUSE_HOME"] = str(_SESSION_DIR / "home")
# one parsed dbt graph for every warehouse the tests make (it depends on the project only)
os.environ["WAREHOUSE_DBT_GRAPH_CACHE"] = str(_SHARED_DIR / "dbt-graph")
os.environ.pop("WAREHOUSE_DSN", None)
for _key in ("DO_NOT_TRACK", "GX_ANALYTICS_ENABLED", "SODA_CORE_TELEMETRY_ENABLED"):
    os.environ[_key] = {"DO_NOT_TRACK": "1"}.get(_key, "false")

from warehouse import airflow_local  # noqa: E402
from warehouse.localdb import LocalPostgres, free_port  # noqa: E402
from warehouse.settings import Settings  # noqa: E402

airflow_local.configure(Settings())


# Modules that run in one process, in this order; the longest group first. The first is
# the run's longest chain: the ingestion DAGs (while the default warehouse is built), the DAG
# wiring on a copy of it, then the whole transform DAG (the daily run; run before the
# ingestion DAGs, its Airflow runs once left the ingestion-DAG test reading a metadata
# database its helper process had not written to; the cause inside Airflow is not found). The
# second shares one `warehouse share --all` (fixture period_deliveries) instead of running it
# in each process: the JSNA packs it delivers to the partnerships are those test_jsna_pack
# reads.
GROUPS = (
    ("tests/integration/test_pipeline_dags.py", "tests/integration/test_transform_daily_run.py"),
    (
        "tests/integration/test_sharing.py",
        "tests/integration/test_disclosure_attack.py",
        "tests/integration/test_jsna_pack.py",
    ),
)
GROUP_OF = {module: group[0] for group in GROUPS for module in group}


def pytest_collection_modifyitems(config, items) -> None:  # type: ignore[no-untyped-def]
    """Modules in this order: the first group, those that do not use the default warehouse
    (they run while it is built), the other groups (long, so not left for last), then the
    rest; each module's tests in file order."""
    modules: dict[str, list] = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::", 1)[0], []).append(item)
    first = [m for m in GROUPS[0] if m in modules]
    grouped = [m for group in GROUPS[1:] for m in group if m in modules]
    rest = [m for m in modules if m not in first and m not in grouped]
    users = [m for m in rest if any(map(_uses_default, modules[m]))]
    others = [m for m in rest if m not in users]
    order = first + others + grouped + users
    items[:] = [item for module in order for item in modules[module]]


def pytest_collection_finish(session) -> None:  # type: ignore[no-untyped-def]
    """Start building the default warehouse now, in a process of its own, if a selected test
    needs it: it is built while the tests that do not need it run (one builder per run,
    whichever test process gets here first; tests/integration/default_build.py)."""
    if session.config.option.collectonly or not any(map(_uses_default, session.items)):
        return
    from tests.integration.default_build import start_building

    start_building(_SHARED_DIR / "default")


def _uses_default(item) -> bool:  # type: ignore[no-untyped-def]
    return "default_warehouse" in getattr(item, "fixturenames", ())


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):  # type: ignore[no-untyped-def]
    """``--dist loadfile`` keeping the collection's module order and GROUPS."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class ModuleScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = super()._split_scope(nodeid)
            return GROUP_OF.get(module, module)

    config.option.loadscopereorder = False
    return ModuleScheduling(config, log)


def pytest_unconfigure(config) -> None:  # type: ignore[no-untyped-def]
    shutil.rmtree(_SESSION_DIR, ignore_errors=True)
    if _OWNS_SHARED:  # every test process has finished: a builder still running is not needed
        if (_SHARED_DIR / "default.started").exists():
            from tests.integration.default_build import stop_building

            stop_building(_SHARED_DIR / "default")
        shutil.rmtree(_SHARED_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def session_dir() -> Path:
    """This test process's folder (any user can enter it: the servers run as ``nobody``)."""
    return _SESSION_DIR


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The folder every process of this test run shares."""
    return _SHARED_DIR


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
