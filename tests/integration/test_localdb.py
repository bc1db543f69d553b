"""The local PostgreSQL starts wherever the clone lives, and says why when it cannot."""

from __future__ import annotations

import random
import shutil
import tempfile
from pathlib import Path

import pytest

from warehouse.localdb import LocalPostgres, LocalPostgresError, free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def deep_folder():  # type: ignore[no-untyped-def]
    """A folder over 150 characters deep that the server's user may enter."""
    base = Path(tempfile.mkdtemp(prefix="deep-"))
    folder = base / ("clone-" + "d" * 70) / ("src-" + "e" * 70)
    folder.mkdir(parents=True)
    for path in (base, folder.parent, folder):
        path.chmod(0o755)
    yield folder
    shutil.rmtree(base, ignore_errors=True)


def test_the_local_server_starts_from_a_folder_150_characters_deep(deep_folder):
    # GIVEN a clone whose state folder is deeper than a Unix socket path may be (107 bytes)
    root = deep_folder / ".warehouse" / "postgres"
    assert len(str(root)) > 150
    server = LocalPostgres(root=root, host="127.0.0.1", port=free_port(), password="pw")
    try:
        # WHEN it starts THEN it takes logins over TCP
        server.start()
        with server.connect() as conn:
            assert conn.execute("select 1").fetchone() == (1,)
    finally:
        server.destroy()


def test_a_server_that_cannot_start_prints_the_cause_from_its_log(deep_folder):
    server = LocalPostgres(
        root=deep_folder / "pg", host="127.0.0.1", port=free_port(), password="pw"
    )
    server.init()
    # GIVEN a setting PostgreSQL refuses
    with (server.data_dir / "postgresql.conf").open("a") as conf:
        conf.write("shared_buffers = 'plenty'\n")
    # WHEN it is started THEN the error carries the log's cause and names the log
    with pytest.raises(LocalPostgresError) as failure:
        server.start(timeout=20)
    message = str(failure.value)
    assert "shared_buffers" in message and "plenty" in message, message
    assert str(server.log_file) in message


def test_a_table_created_and_filled_in_one_transaction_writes_almost_no_wal(pg_server):
    # GIVEN the local server (no standby reads it)
    with pg_server.connect() as conn:
        start = conn.execute("select pg_current_wal_insert_lsn()").fetchone()[0]
        # WHEN a table is created and filled in one transaction, as dbt builds a model
        conn.execute(
            "create table wal_probe as"
            " select g as id, md5(g::text) as label from generate_series(1, 200000) g"
        )
        conn.commit()
        written = conn.execute(
            "select pg_wal_lsn_diff(pg_current_wal_insert_lsn(), %s::pg_lsn)", [start]
        ).fetchone()[0]
        size = conn.execute("select pg_total_relation_size('wal_probe')").fetchone()[0]
        conn.execute("drop table wal_probe")
        conn.commit()
    # THEN its rows are not also written to the WAL (with wal_level replica they are: more
    # WAL than the table's own size)
    assert written < size / 20, (written, size)


def test_the_local_server_orders_text_by_code_point_with_postgresqls_own_comparison(pg_server):
    # GIVEN the local server and text of many kinds (case, accents, symbols, CJK, emoji)
    alphabet = list("aAzZ09 -_.,'/&\t\u00a0") + list("éÉñÑøßüĀžŽ中文€😀")
    rng = random.Random(20090331)
    values = ["".join(rng.choices(alphabet, k=rng.randint(0, 6))) for _ in range(5000)]
    with pg_server.connect() as conn:
        conn.execute("create temp table texts (value text)")
        with conn.cursor().copy("copy texts from stdin") as copy:
            for value in values:
                copy.write_row([value])
        # WHEN PostgreSQL sorts it by the database's default collation
        ordered = [r[0] for r in conn.execute("select value from texts order by value")]
        collation, ctype = conn.execute(
            "select datcollate, datctype from pg_database where datname = current_database()"
        ).fetchone()
        upper = conn.execute("select upper('éñøü ž')").fetchone()[0]
    # THEN the order is the code points' (Python's), compared by PostgreSQL itself
    # (collation C: memcmp and abbreviated keys, not strcoll() per comparison) while upper
    # and lower case stay Unicode's
    assert ordered == sorted(values)
    assert (collation, ctype) == ("C", "C.UTF-8")
    assert upper == "ÉÑØÜ Ž"


def test_the_local_warehouse_as_make_run_starts_it_keys_and_stops(deep_folder):
    """What `make run` does on a developer's machine before the pipeline (the suite's own
    `make run` builds against a throwaway server through WAREHOUSE_DSN): `warehouse db start`
    makes the server with secrets of its own, `warehouse keys` and `warehouse access` make the
    partner keys and BI logins from local secret files, `warehouse db stop` stops it."""
    import os
    import stat
    import subprocess
    import sys

    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    home = deep_folder / ".warehouse"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("WAREHOUSE_", "PG", "AIRFLOW_CONN_"))
    }
    env.update(WAREHOUSE_HOME=str(home), WAREHOUSE_PORT=str(free_port()))

    def warehouse(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "warehouse.cli", *args],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
        return done.stdout

    warehouse("db", "start")
    try:
        secrets = home / "secrets"
        pipeline, superuser = (
            (secrets / name).read_text().strip()
            for name in ("warehouse_password", "superuser_password")
        )
        assert pipeline and superuser and pipeline != superuser
        dsn = warehouse("db", "url").strip()
        with psycopg.connect(dsn) as conn:  # the pipeline's login: not a superuser
            assert conn.execute("select current_setting('is_superuser')").fetchone() == ("off",)
        warehouse("keys")
        warehouse("access")
        made = sorted(p.name for p in secrets.iterdir())
        assert any(n.startswith("share_key_") for n in made) and "bi_bolton_password" in made
        assert {stat.S_IMODE(p.stat().st_mode) for p in secrets.iterdir()} == {0o600}
        info = conninfo_to_dict(dsn)
        with psycopg.connect(
            host=info["host"],
            port=info["port"],
            dbname=info["dbname"],
            user="bi_bolton",
            password=(secrets / "bi_bolton_password").read_text().strip(),
        ) as conn:  # a BI login with its local password, hardened as everywhere
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("select pg_advisory_lock(1)")
    finally:
        assert "warehouse stopped" in warehouse("db", "stop")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(dsn, connect_timeout=5)
