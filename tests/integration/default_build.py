"""The default warehouse of a test run: built once, by a process of its own started as soon as
a test process has collected a test that needs it (tests/conftest.py), so that the build runs
while the tests that do not need it run. The fixture ``default_server`` waits for it (or, if
no such process ran, builds it itself: `ensure_built`).

``python -m tests.integration.default_build FOLDER`` builds it in ``FOLDER`` (``FOLDER/pg``,
files in ``FOLDER/home``), which then holds ``BUILT``, or ``FAILED`` with the error.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from warehouse.access import READER, district_role
from warehouse.localdb import LocalPostgres, free_port
from warehouse.settings import Settings

BI_PASSWORD = "bi-test-password"
OWNER_PASSWORD = "pipeline-test-password"
SERVER_PASSWORD = "test-only-password"
SHARE_KEY = "test-only-share-key-0123456789abcdef-0123456789"
ROOT = Path(__file__).resolve().parents[2]  # the project (``tests`` is a folder in it)


def bi_roles() -> list[str]:
    import csv

    from warehouse.access import LA_SEED

    with LA_SEED.open(newline="") as f:
        return [READER, *(district_role(r["la_name"]) for r in csv.DictReader(f))]


def default_env(mp: pytest.MonkeyPatch, server: LocalPostgres, home: Path) -> Settings:
    """Settings for the default warehouse in ``server`` with its files in ``home``, the BI
    logins (test passwords) and the DAT's pseudonymisation key in the environment."""
    mp.setenv(
        "WAREHOUSE_DSN",
        f"postgresql://pipeline:{OWNER_PASSWORD}@{server.host}:{server.port}/calibration",
    )
    mp.setenv("WAREHOUSE_HOME", str(home))
    for role in bi_roles():
        mp.setenv(f"WAREHOUSE_BI_PASSWORD_{role.upper()}", BI_PASSWORD)
    mp.setenv("WAREHOUSE_SHARE_KEY_DAT_MANCHESTER", SHARE_KEY)
    return Settings()


def throwaway_cluster(root: Path) -> LocalPostgres:
    """A throwaway cluster in ``root`` on a free port (fsync off)."""
    return LocalPostgres(
        root=root, host="127.0.0.1", port=free_port(), password=SERVER_PASSWORD, fast_unsafe=True
    )


def console_of_make_run(home: Path) -> Path:
    """What ``make run`` printed while building the default warehouse whose home is ``home``."""
    return home.parent / "make-run.txt"


def _build(root: Path) -> None:
    """The default dataset (scale 1, default seed and dirt) built by ``make run`` (the
    README's command: generated, every ingestion DAG, the transform DAG with its Soda
    contracts, the analytics DAG, conservation, the summary), in a new cluster under
    ``root``, which is stopped afterwards."""
    server = throwaway_cluster(root / "pg")
    try:
        server.start()
        server.ensure_database("calibration", "pipeline", OWNER_PASSWORD)
        with pytest.MonkeyPatch.context() as mp:
            settings = default_env(mp, server, root / "home")
            _make_run(console_of_make_run(settings.home))
    finally:
        server.stop()


# how long ``make run`` may take here: ~4 min in a fast hour, 18.5 min in the slowest seen
MAKE_RUN_TIMEOUT = 3600


def make_env(**extra: str) -> dict[str, str]:
    """The environment a test gives a ``make`` target: this process's, without the outer
    make's flags (``make -B test`` would rebuild the virtualenv pytest runs from) or what
    would make rich draw live progress frames into a file."""
    dropped = (
        "MAKEFLAGS",
        "MFLAGS",
        "MAKELEVEL",
        "FORCE_COLOR",
        "TTY_COMPATIBLE",
        "TTY_INTERACTIVE",
    )
    return {**{k: v for k, v in os.environ.items() if k not in dropped}, **extra}


def make(target: str) -> list[str]:
    """``make <target>`` in the project, its virtualenv taken as it is (``-o``)."""
    return ["make", "-C", str(ROOT), "--no-print-directory", "-o", ".venv/.installed", target]


def _make_run(console: Path) -> None:
    """``make run`` against the cluster WAREHOUSE_DSN names; its console into ``console``."""
    with console.open("wb") as out:
        try:
            done = subprocess.run(
                make("run"),
                env=make_env(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=MAKE_RUN_TIMEOUT,
                check=False,
            )
            failed = f"make run exited {done.returncode}" if done.returncode else ""
        except subprocess.TimeoutExpired:
            failed = f"make run did not finish in {MAKE_RUN_TIMEOUT} s"
    if failed:  # the console's end names the DAG, task and first error line
        tail = console.read_text(errors="replace").splitlines()[-25:]
        raise RuntimeError(failed + "; its last lines:\n" + "\n".join(tail))


@contextlib.contextmanager
def _exclusive(lock: Path) -> Iterator[None]:
    """One process at a time (the test processes and the builder share the lock file)."""
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_built(built: Path) -> None:
    """Build the default warehouse in ``built`` unless it is built (waiting for a process
    building it); raises when that build failed, here or in another process."""
    with _exclusive(built.with_name(built.name + ".lock")):
        failed = built / "FAILED"
        if failed.exists():
            log = built.with_name(built.name + ".log")
            raise RuntimeError(
                f"building the default warehouse failed in another process: {failed.read_text()}"
                + (f" (its output: {log})" if log.exists() else "")
            )
        if (built / "BUILT").exists():
            return
        # a process killed while building may have left its server running
        LocalPostgres(root=built / "pg", host="127.0.0.1", port=0, password="").stop()
        shutil.rmtree(built, ignore_errors=True)
        built.mkdir()
        built.chmod(0o755)  # the server runs as an unprivileged user (see localdb)
        try:
            _build(built)
        except BaseException as exc:
            failed.write_text(f"{type(exc).__name__}: {exc}"[-4000:])  # its end says why
            raise
        (built / "BUILT").touch()


def start_building(built: Path) -> None:
    """Start the builder process for ``built``, unless a process of this test run already
    started one; its process id goes into the marker ``built.started``."""
    marker = built.with_name(built.name + ".started")
    built.parent.mkdir(parents=True, exist_ok=True)
    try:  # the first process to create the marker starts the one builder
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    with built.with_name(built.name + ".log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.default_build", str(built)],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop_building stops it whole
        )
    os.write(fd, str(process.pid).encode())
    os.close(fd)


def stop_building(built: Path, timeout: float = 60) -> None:
    """Stop the builder of ``built`` if it still runs (e.g. the run was interrupted): it
    stops its server, and its lock is released with no BUILT marker left. Called by the
    process that owns the run's shared folder, which may not be the one that started it."""
    if (built / "BUILT").exists() or (built / "FAILED").exists():
        return  # it has finished: its process id may be another's by now
    marker = built.with_name(built.name + ".started")
    try:
        pid = int(marker.read_text())
    except (FileNotFoundError, ValueError):
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(pid):
            os.killpg(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):  # not this process's child: nothing to reap
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _terminated(signum, frame):  # type: ignore[no-untyped-def]
    raise SystemExit(f"stopped by signal {signum}")  # unwinds: the server is stopped


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminated)
    try:
        ensure_built(Path(sys.argv[1]))
    except Exception as exc:  # recorded in FAILED, which the fixture reports
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)
