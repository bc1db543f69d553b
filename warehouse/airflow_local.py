"""Run the real Airflow DAGs in-process (``dag.test()``) with SQLite metadata in .warehouse/.

Used by ``warehouse run`` and the tests. ``configure`` must run before anything imports
Airflow, because Airflow reads its configuration at import time.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from warehouse import secret_files
from warehouse.settings import PROJECT_ROOT, Settings

DAGS_DIR = PROJECT_ROOT / "dags"


def airflow_env(settings: Settings) -> dict[str, str]:
    home = settings.airflow_home
    return {
        **settings.tool_env(),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("AIRFLOW_LOG_LEVEL", "WARNING"),
        # dbt and airflow live beside this interpreter, activated or not
        "PATH": os.pathsep.join((str(Path(sys.executable).parent), os.environ.get("PATH", ""))),
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")) if p
        ),
    }


def configure(settings: Settings) -> None:
    # the metadata database holds connections and logs: readable by this user only
    secret_files.private_dir(settings.airflow_home)
    os.environ.update(airflow_env(settings))
    if str(PROJECT_ROOT) not in sys.path:
        sys.path.insert(0, str(PROJECT_ROOT))


def metadata_url(settings: Settings) -> str:
    """The metadata database this process uses: Airflow binds its engine when first
    imported, so once it is imported a later ``configure`` does not move it."""
    loaded = sys.modules.get("airflow.settings")
    url = getattr(loaded, "SQL_ALCHEMY_CONN", None) if loaded else None
    return url or airflow_env(settings)["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]


def migrate(settings: Settings) -> None:
    """``airflow db migrate`` once per Airflow version and metadata database (a marker file
    remembers it)."""
    import hashlib
    import importlib.metadata

    url = metadata_url(settings)
    version = importlib.metadata.version("apache-airflow-core")
    digest = hashlib.sha256(url.encode()).hexdigest()[:12]
    marker = settings.airflow_home / f".migrated-{version}-{digest}"
    if marker.exists():
        return
    env = {**os.environ, **airflow_env(settings), "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": url}
    airflow = str(Path(sys.executable).parent / "airflow")
    result = subprocess.run(
        [airflow, "db", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{result.stderr[-4000:]}")
    secret_files.private_dir(settings.airflow_home)
    marker.touch()


def prepare_in_background(settings: Settings) -> subprocess.Popen[bytes]:
    """``airflow db migrate`` (first run) and a ``dbt parse`` for the warehouse (the graph
    the transform DAG is built from, cached by project hash, and the build's partial
    parse: a full parse was ~6 s of the build's first run), in another process: ``make
    run`` does this while the generator writes the feeds (~8 s on a first run)."""
    return subprocess.Popen(
        [sys.executable, "-m", "warehouse.airflow_local", "--prepare"],
        env={**os.environ, **airflow_env(settings)},
        stdin=subprocess.DEVNULL,
    )


def load_dags() -> dict[str, Any]:
    """Every DAG in ``dags/`` by id; raises if any file fails to import."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_DIR))
    _raise_import_errors(bag)
    return dict(bag.dags)


def _raise_import_errors(bag: Any) -> None:
    if bag.import_errors:
        errors = "\n".join(f"{path}: {err}" for path, err in bag.import_errors.items())
        raise RuntimeError(f"DAG import errors:\n{errors}")


@contextlib.contextmanager
def dag_files_parsed_once() -> Iterator[None]:
    """Inside this block, ``dag.test()`` parses the DAG files once per metadata database.

    Each ``dag.test()`` re-parses every file of the DAG bundle and writes every DAG to the
    metadata database (apache/airflow#64884: so that sibling DAGs exist), ~2.7 s per call
    here, ~45 s of a ``make run`` that tests 18 DAGs. The files do not change during a
    run: the first call's bag is kept and its DAGs written once; later calls reuse them.
    Keyed by the metadata database, so a test's fresh Airflow home is parsed and written.
    A block inside another is the outer one's."""
    from airflow import settings as airflow_settings
    from airflow.dag_processing import dagbag

    if getattr(dagbag.BundleDagBag, "parsed_once", False):
        yield
        return
    real_bag, real_sync = dagbag.BundleDagBag, dagbag.sync_bag_to_db
    bags: dict[tuple[str, str], Any] = {}
    synced: set[tuple[str, int]] = set()

    def bag(*args: Any, **kwargs: Any) -> Any:
        key = (str(airflow_settings.SQL_ALCHEMY_CONN), str(kwargs.get("dag_folder")))
        if key not in bags:
            bags[key] = real_bag(*args, **kwargs)
        return bags[key]

    bag.parsed_once = True  # type: ignore[attr-defined]

    def sync(bag: Any, *args: Any, **kwargs: Any) -> None:
        key = (str(airflow_settings.SQL_ALCHEMY_CONN), id(bag))
        if key not in synced:
            with _one_process_at_a_time(str(airflow_settings.SQL_ALCHEMY_CONN)):
                real_sync(bag, *args, **kwargs)
            synced.add(key)

    dagbag.BundleDagBag, dagbag.sync_bag_to_db = bag, sync  # type: ignore[misc,assignment]
    try:
        yield
    finally:
        dagbag.BundleDagBag, dagbag.sync_bag_to_db = real_bag, real_sync  # type: ignore[misc]


def warm_up() -> dict[str, Any]:
    """What a process's first ``dag.test()`` does before its first task, done now: the DAG
    files parsed and written to the metadata database (the bag ``dag_files_parsed_once``
    then keeps: call this inside that block, once ``migrate`` has run), and Airflow's
    in-process execution API built and answering (its versioned routes are generated on
    the first request). ~5 s of a process's first DAG run here, which ``make run`` spends
    while the generator writes the feeds. Returns every DAG by id, from that one parse
    (``load_dags`` would parse the files again); raises if any file fails to import."""
    import httpx
    from airflow.dag_processing import dagbag
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.sdk.execution_time.supervisor import in_process_api_server
    from airflow.utils.session import create_session

    manager = DagBundlesManager()
    with create_session() as session:
        manager.sync_bundles_to_db(session=session)
    dags: dict[str, Any] = {}
    for bundle in manager.get_all_dag_bundles():  # as dag.test() reads and writes them
        if not bundle.is_initialized:
            bundle.initialize()
        bag = dagbag.BundleDagBag(
            dag_folder=bundle.path, bundle_path=bundle.path, bundle_name=bundle.name
        )
        _raise_import_errors(bag)
        dagbag.sync_bag_to_db(bag, bundle.name, bundle.version)
        dags.update(bag.dags)
    api = in_process_api_server()  # the one dag.test() uses (cached)
    with httpx.Client(transport=api.transport, base_url="http://in-process.invalid./") as client:
        client.get("/health").raise_for_status()
    return dags


@contextlib.contextmanager
def _one_process_at_a_time(database_url: str) -> Iterator[None]:
    """A lock on the metadata database's DAG sync, across processes: two processes writing
    the same DAGs at once both insert their assets (a unique-constraint failure); one after
    the other, the second finds them there. The lock file sits beside a SQLite database;
    for a server, in the temporary folder, named after the database's URL."""
    import fcntl
    import hashlib
    import tempfile

    if database_url.startswith("sqlite:///"):
        path = Path(database_url.removeprefix("sqlite:///").split("?", 1)[0] + ".sync-lock")
    else:
        digest = hashlib.sha256(database_url.encode()).hexdigest()[:16]
        path = Path(tempfile.gettempdir()) / f"warehouse-dag-sync-{os.getuid()}-{digest}.lock"
    with path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


if __name__ == "__main__":  # `--exports` for `make airflow`; `--prepare` for `make run`
    import shlex

    from warehouse.settings import get_settings

    _settings = get_settings()
    secret_files.private_dir(_settings.airflow_home)
    if "--prepare" in sys.argv:
        from warehouse.dbt_graph import load_graph
        from warehouse.transform import parse

        migrate(_settings)
        # one parse: the transform DAG's graph, and the build's partial parse, from it
        load_graph(_settings.graph_cache_dir, manifest=parse(_settings))
    else:
        for _key, _value in airflow_env(_settings).items():
            print(f"export {_key}={shlex.quote(_value)}")
