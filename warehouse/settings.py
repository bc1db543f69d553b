"""One settings object, read from the environment (prefix ``WAREHOUSE_``).

``WAREHOUSE_DSN`` points everything (ingestion, the dbt profile, the Airflow connection,
Great Expectations and Soda) at an external PostgreSQL. Without it the project's local
PostgreSQL is used: it listens on ``WAREHOUSE_HOST``:``WAREHOUSE_PORT`` and its password is
generated on first start and kept in ``$WAREHOUSE_HOME/secrets/`` (git-ignored).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from urllib.parse import quote

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class ConnInfo:
    """Where the warehouse is and how to log in."""

    host: str
    port: int
    user: str
    password: str
    dbname: str

    def url(self, driver: str = "postgresql") -> str:
        """A URL that psql, SQLAlchemy (``driver='postgresql+psycopg'``) and GX accept."""
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        return f"{driver}://{auth}@{self.host}:{self.port}/{quote(self.dbname, safe='')}"

    def kwargs(self) -> dict[str, object]:
        """Keyword arguments for ``psycopg.connect``."""
        return {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "dbname": self.dbname,
        }


class Settings(BaseSettings):
    """Every knob of the platform. Each field is read from ``WAREHOUSE_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="WAREHOUSE_", extra="ignore")

    dsn: str | None = None
    """External PostgreSQL, e.g. ``postgresql://pipeline:secret@db.example:5432/warehouse``."""

    home: Path = PROJECT_ROOT / ".warehouse"
    """Local state: PostgreSQL data, landing folder, outbox, Airflow home (git-ignored)."""

    host: str = "127.0.0.1"
    port: int = 55432
    database: str = "warehouse"
    user: str = "pipeline"

    dbt_lock_timeout: str = "10s"
    """How long a dbt model (and ``warehouse access``) waits for a mart's lock, e.g. behind a
    BI query, before the statement is cancelled (a PostgreSQL interval: ``10s``, ``500ms``)."""
    landing_quiet_seconds: float = 0.0
    """A delivered file changed (written, or renamed into landing) less than this many
    seconds ago is left for the next run: for uploaders that close and reopen a file
    between parts (a file held open for writing is always left)."""

    bi_max_transaction: str = Field(default="30min", pattern=r"^[1-9][0-9]*\s*(s|min|h)$")
    """A BI login's transaction open longer than this (a PostgreSQL interval) is ended by
    the next ``warehouse access`` (before every build): its login lifted its own timeouts,
    and an old snapshot keeps vacuum from removing the builds' dead rows."""

    dbt_lock_retries: int = 3
    """How many times a model whose lock wait timed out is built again."""
    dbt_lock_backoff: float = 15.0
    """Seconds before the first such retry, doubled for each next one: with the defaults a
    BI query delays a mart by at most ~2 min (4 x 10 s waits + 15 + 30 + 60 s pauses)."""

    dbt_graph_cache: Path | None = None
    """Where the parsed dbt graph is kept (default ``<home>/dbt``). It depends on the dbt
    project's files only, cached under their fingerprint, so warehouses may share one: the
    tests do, instead of a ``dbt parse`` (~8 s) for each new warehouse home."""

    seed: int = 20090331
    scale: float = 1.0
    dirt: float = 0.01

    @cached_property
    def graph_cache_dir(self) -> Path:
        return self.dbt_graph_cache or self.home / "dbt"

    @cached_property
    def pgdata(self) -> Path:
        return self.home / "postgres"

    @cached_property
    def landing_dir(self) -> Path:
        return self.home / "landing"

    @cached_property
    def outbox_dir(self) -> Path:
        return self.home / "outbox"

    @cached_property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    @cached_property
    def secrets_dir(self) -> Path:
        return self.home / "secrets"

    @property
    def is_local(self) -> bool:
        return not self.dsn

    def local_password(self, create: bool = False) -> str:
        """The local warehouse's password (generated once, kept outside git)."""
        from warehouse import secret_files

        path = self.secrets_dir / "warehouse_password"
        if not create:
            return secret_files.read(path) or ""
        return secret_files.read_or_create(path)

    def conninfo(self) -> ConnInfo:
        """Connection details for the pipeline role, local or external."""
        if self.dsn:
            from psycopg.conninfo import conninfo_to_dict

            parts = conninfo_to_dict(self.dsn)
            missing = [k for k in ("host", "user", "dbname") if not parts.get(k)]
            if missing:
                raise ValueError(
                    f"WAREHOUSE_DSN must name {', '.join(missing)} "
                    "(GX and Soda need a TCP host, not a Unix socket)"
                )
            return ConnInfo(
                host=str(parts["host"]),
                port=int(parts.get("port") or 5432),
                user=str(parts["user"]),
                password=str(parts.get("password") or ""),
                dbname=str(parts["dbname"]),
            )
        return ConnInfo(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.local_password(),
            dbname=self.database,
        )

    def tool_env(self) -> dict[str, str]:
        """Environment for dbt, Soda, GX and Airflow so they all reach the same warehouse."""
        info = self.conninfo()
        return {
            "WAREHOUSE_PGHOST": info.host,
            "WAREHOUSE_PGPORT": str(info.port),
            "WAREHOUSE_PGUSER": info.user,
            "WAREHOUSE_PGPASSWORD": info.password,
            "WAREHOUSE_PGDATABASE": info.dbname,
            "WAREHOUSE_DBT_LOCK_TIMEOUT": self.dbt_lock_timeout,
            "AIRFLOW_CONN_WAREHOUSE": info.url("postgresql"),
            "DO_NOT_TRACK": "1",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "GX_ANALYTICS_ENABLED": "false",
            "SODA_CORE_TELEMETRY_ENABLED": "false",
        }

    def apply_tool_env(self) -> None:
        os.environ.update(self.tool_env())


def get_settings() -> Settings:
    return Settings()


def code_version() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(PROJECT_ROOT), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        from importlib.metadata import version

        return "probation-warehouse " + version("probation-warehouse")
