"""Superset on the local warehouse: `make superset` (serve) and `make bi-check` (check).

Superset runs in its own virtualenv (``.venv-superset``: it pins SQLAlchemy 1.4 and pandas
2.1, which Airflow's cannot share), with SQLite metadata in ``$WAREHOUSE_HOME/superset``,
the JSNA dashboard imported from ``bi/superset/bundle`` and the warehouse connected as
``bi_reader``. This module only drives it (subprocesses and its REST API): nothing here
imports Superset.

    python -m warehouse.superset setup    # metadata, admin, bundle, connection
    python -m warehouse.superset serve    # setup, then serve http://127.0.0.1:8088
    python -m warehouse.superset check    # setup, start, every chart's data via the API, stop
    python -m warehouse.superset export   # a running instance's dashboard -> the bundle

Secrets: Superset's secret key and the admin password are generated once into
``$WAREHOUSE_HOME/secrets`` (or given as ``SUPERSET_SECRET_KEY`` / ``SUPERSET_ADMIN_PASSWORD``);
the ``bi_reader`` password is the one ``warehouse access`` set (``WAREHOUSE_BI_PASSWORD_BI_READER``
or the local secret file). They reach Superset through its environment, never a command line.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from urllib.parse import quote

from warehouse import secret_files
from warehouse.access import READER
from warehouse.settings import PROJECT_ROOT, Settings, get_settings

BI_DIR = PROJECT_ROOT / "bi" / "superset"
BUNDLE_DIR = BI_DIR / "bundle"
CONFIG_FILE = BI_DIR / "superset_config.py"
SETUP_SCRIPT = BI_DIR / "setup_superset.py"
VENV_BIN = PROJECT_ROOT / ".venv-superset" / "bin"
HOST = "127.0.0.1"
PORT = int(os.environ.get("SUPERSET_PORT", "8088"))
ADMIN = "admin"
# what Superset must not see: the pipeline's login (as given, and as the tools get it:
# Settings.tool_env) and the partners' keys
_WITHHELD = ("WAREHOUSE_DSN", "WAREHOUSE_PASSWORD", "PGPASSWORD", "WAREHOUSE_PGPASSWORD")


def _withheld(name: str) -> bool:
    return name in _WITHHELD or "SHARE_KEY" in name or name.startswith("AIRFLOW_CONN_")


class SupersetError(RuntimeError):
    pass


def home(settings: Settings) -> Path:
    return settings.home / "superset"


def _secret(settings: Settings, env: str, name: str) -> str:
    return os.environ.get(env) or secret_files.read_or_create(settings.secrets_dir / name, 32)


def admin_password(settings: Settings) -> str:
    return _secret(settings, "SUPERSET_ADMIN_PASSWORD", "superset_admin_password")


def reader_password(settings: Settings) -> str:
    """bi_reader's password as `warehouse access` set it; never made up here."""
    env = os.environ.get(f"WAREHOUSE_BI_PASSWORD_{READER.upper()}")
    if env:
        return env
    found = secret_files.read(settings.secrets_dir / f"{READER}_password")
    if not found:
        raise SupersetError(
            f"no {READER} password: build the local warehouse first (make run), or set "
            f"WAREHOUSE_BI_PASSWORD_{READER.upper()}"
        )
    return found


LOOPBACK = ("127.0.0.1", "::1", "localhost")


def warehouse_uri(settings: Settings) -> str:
    """The bi_reader connection: TLS required against a warehouse on another host (one on
    this machine's loopback, e.g. the local warehouse, is reached without a network)."""
    info = settings.conninfo()
    uri = (
        f"postgresql://{READER}:{quote(reader_password(settings), safe='')}"
        f"@{info.host}:{info.port}/{quote(info.dbname, safe='')}"
    )
    return uri if settings.is_local or info.host in LOOPBACK else uri + "?sslmode=require"


def environment(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not _withheld(k)}
    env.update(
        SUPERSET_HOME=str(home(settings)),
        SUPERSET_CONFIG_PATH=str(CONFIG_FILE),
        SUPERSET_SECRET_KEY=_secret(settings, "SUPERSET_SECRET_KEY", "superset_secret_key"),
        SUPERSET_ADMIN_PASSWORD=admin_password(settings),
        SUPERSET_WAREHOUSE_URI=warehouse_uri(settings),
        FLASK_APP="superset",
        SUPERSET_LOG_LEVEL="warning",
    )
    return env


def _run(args: list[str], env: dict[str, str], what: str) -> None:
    began = time.monotonic()
    result = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    print(f"  {what}: {time.monotonic() - began:.0f} s", flush=True)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
        raise SupersetError(f"{what} failed (exit {result.returncode}):\n{tail}")


def setup(settings: Settings) -> dict[str, str]:
    """Metadata migrated, roles, admin, bundle imported, warehouse connected; returns the env."""
    if not (VENV_BIN / "superset").exists():
        raise SupersetError(f"{VENV_BIN}/superset not found: run `make superset-venv`")
    env = environment(settings)
    home(settings).mkdir(parents=True, exist_ok=True)
    # migrating and syncing roles take minutes on a busy machine: once per Superset release
    stamp, release = home(settings) / "initialised", (BI_DIR / "constraints.txt").read_text()
    if not stamp.exists() or stamp.read_text() != release:
        superset = str(VENV_BIN / "superset")
        _run([superset, "db", "upgrade"], env, "superset db upgrade")
        _run([superset, "init"], env, "superset init")
        stamp.write_text(release)
    _run([str(VENV_BIN / "python"), str(SETUP_SCRIPT), str(BUNDLE_DIR)], env, "bundle import")
    return env


def _server_args() -> list[str]:
    return [str(VENV_BIN / "superset"), "run", "-h", HOST, "-p", str(PORT), "--with-threads"]


def serve(settings: Settings) -> None:
    env = setup(settings)
    print(f"Superset on http://{HOST}:{PORT} (user {ADMIN}, password in {settings.secrets_dir})")
    os.execve(_server_args()[0], _server_args(), env)


def start(env: dict[str, str], log: Path, timeout: float = 180.0) -> subprocess.Popen:
    """The server in the background; returns once /health answers."""
    import requests

    with log.open("w") as out:
        proc = subprocess.Popen(_server_args(), env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SupersetError(f"superset run exited ({proc.returncode}); see {log}")
        try:
            if requests.get(f"http://{HOST}:{PORT}/health", timeout=2).ok:
                return proc
        except requests.ConnectionError:
            pass
        time.sleep(1)
    stop(proc)
    raise SupersetError(f"Superset did not answer on port {PORT} within {timeout:.0f} s")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def login(password: str):  # type: ignore[no-untyped-def]
    """A requests session with Superset's JWT (the REST API's own login)."""
    import requests

    session = requests.Session()
    resp = session.post(
        f"http://{HOST}:{PORT}/api/v1/security/login",
        json={"username": ADMIN, "password": password, "provider": "db", "refresh": False},
        timeout=30,
    )
    if not resp.ok:
        raise SupersetError(f"login to Superset failed: HTTP {resp.status_code}")
    session.headers["Authorization"] = f"Bearer {resp.json()['access_token']}"
    return session


def export_bundle(session, target: Path = BUNDLE_DIR) -> int:  # type: ignore[no-untyped-def]
    """Replace ``target`` with the dashboards' export (Superset's own ZIP, root folder dropped)."""
    import json
    import shutil

    base = f"http://{HOST}:{PORT}/api/v1/dashboard/"
    ids = [d["id"] for d in session.get(base, timeout=30).json()["result"]]
    resp = session.get(base + "export/", params={"q": json.dumps(ids)}, timeout=120)
    resp.raise_for_status()
    shutil.rmtree(target, ignore_errors=True)
    with zipfile.ZipFile(io.BytesIO(resp.content)) as bundle:
        for name in bundle.namelist():
            # Superset names each file after the object and its id; the id changes with
            # every import, so it is dropped (the UUID inside identifies the object)
            inside = Path(re.sub(r"_\d+\.yaml$", ".yaml", str(Path(*Path(name).parts[1:]))))
            (target / inside).parent.mkdir(parents=True, exist_ok=True)
            (target / inside).write_bytes(bundle.read(name))
    _neutral_database_uri(target)
    return len(ids)


# the form the bundle keeps: no host of anyone's machine (setup_superset.py sets the real one)
NEUTRAL_URI = "postgresql://bi_reader:XXXXXXXXXX@warehouse:5432/warehouse?sslmode=require"


def _neutral_database_uri(target: Path) -> None:
    import yaml

    for path in (target / "databases").glob("*.yaml"):
        config = yaml.safe_load(path.read_text())
        config["sqlalchemy_uri"] = NEUTRAL_URI
        path.write_text(yaml.safe_dump(config, sort_keys=False))


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "serve"
    settings = get_settings()
    try:
        if command == "setup":
            setup(settings)
        elif command == "serve":
            serve(settings)
        elif command == "export":
            print(f"exported {export_bundle(login(admin_password(settings)))} dashboard(s)")
        else:
            print(f"unknown command {command!r}: setup, serve or export", file=sys.stderr)
            return 2
    except SupersetError as exc:
        print(f"superset: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
