"""dbt, run in-process with the warehouse's connection settings."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from warehouse import progress
from warehouse.settings import PROJECT_ROOT, Settings

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
log = logging.getLogger(__name__)
FAILED = ("error", "fail", "runtime error")
# PostgreSQL's message when a statement's lock wait reached lock_timeout (SQLSTATE 55P03)
LOCK_TIMEOUT = "canceling statement due to lock timeout"
# a model's rebuild locks the tables its foreign keys link it to: two models that lock
# shared dimensions can deadlock; the one PostgreSQL cancels is rebuilt like a lock timeout
LOCK_WAITS = (LOCK_TIMEOUT, "deadlock detected")
PASSED = ("success", "pass", "warn")
# dbt commands that write the warehouse or record what its tests proved: one at a time per
# database (_one_invocation_at_a_time)
SERIAL_COMMANDS = ("build", "run", "test", "seed", "snapshot", "retry")
RUNS_NODES = ("build", "run", "test", "seed", "snapshot")  # and write run_results.json
INVOCATION_LOCK = 7_042_611  # the pg_advisory_lock key they share


class DbtFailed(RuntimeError):
    pass


@dataclass
class DbtReport:
    counts: dict[str, int] = field(default_factory=dict)  # "model:success" -> n
    # unique_id -> (status, first line of dbt's message, quoted values masked)
    nodes: dict[str, tuple[str, str]] = field(default_factory=dict)
    # unique_id -> times it was built again after a lock timeout
    lock_retries: dict[str, int] = field(default_factory=dict)
    # unique_id -> seconds dbt spent on the node (its last attempt)
    seconds: dict[str, float] = field(default_factory=dict)
    # the BI logins whose sessions were ended for holding a mart past the retries
    ended_sessions: list[str] = field(default_factory=list)

    def count(self, resource: str, status: str | None = None) -> int:
        return sum(
            n
            for key, n in self.counts.items()
            if key.split(":")[0] == resource and (status is None or key.split(":")[1] == status)
        )

    @property
    def lock_timeouts(self) -> list[str]:
        """The nodes that failed because a lock wait timed out (a BI query held the mart)
        or lost a deadlock."""
        return [
            uid
            for uid, (status, msg) in self.nodes.items()
            if status in FAILED and any(wait in msg for wait in LOCK_WAITS)
        ]

    @property
    def skipped_models(self) -> list[str]:
        return [
            uid
            for uid, (status, _) in self.nodes.items()
            if status == "skipped" and uid.startswith("model.")
        ]

    def merge(self, other: DbtReport) -> None:
        """Take ``other``'s result for each node it ran (a retry), and recount."""
        self.nodes.update(other.nodes)
        self.seconds.update(other.seconds)
        self.counts = {}
        for uid, (status, _) in self.nodes.items():
            key = f"{uid.split('.', 1)[0]}:{status}"
            self.counts[key] = self.counts.get(key, 0) + 1

    def slowest(self, n: int, resource: str = "model") -> list[tuple[str, float]]:
        """The ``n`` nodes of ``resource`` type that took longest: (name, seconds)."""
        timed = [(uid, t) for uid, t in self.seconds.items() if uid.split(".")[0] == resource]
        timed.sort(key=lambda item: -item[1])
        return [(_name(uid), t) for uid, t in timed[:n]]

    @property
    def failures(self) -> list[str]:
        return [f"{uid}: {msg}" for uid, (status, msg) in self.nodes.items() if status in FAILED]


# quoted names PostgreSQL gives after these words are identifiers, not delivered values
IDENTIFIER_BEFORE = re.compile(
    r"(relation|column|table|schema|constraint|index|function|type|view|database|role)\s*$",
    re.IGNORECASE,
)


def scrub(message: str | None) -> str:
    """dbt's message in one line (the heading and its cause), delivered values masked: a
    database error may quote a value (``invalid input syntax for type date: "…"``,
    ``DETAIL: Key (crn)=(…)``), and this text reaches logs and Airflow's XCom. Quoted
    names after ``relation``, ``column``, ... stay readable."""
    lines = [
        ln.strip()
        for ln in (message or "").splitlines()
        if ln.strip() and not ln.strip().upper().startswith(("DETAIL", "HINT", "CONTEXT", "LINE "))
    ][:2]
    text = " ".join(lines)

    def mask(match: re.Match[str]) -> str:
        quote, inner = match.group(1), match.group(2)
        named = IDENTIFIER_BEFORE.search(text[: match.start()]) and quote == '"'
        keep = named and re.fullmatch(r"[a-z_][a-z0-9_.]*", inner)
        return match.group(0) if keep else f"{quote}…{quote}"

    text = re.sub(r"(['\"])(.*?)\1", mask, text)
    return re.sub(r"=\([^)]*\)", "=(…)", text)[:300]


def _node_finished(event: Any) -> None:
    if event.info.name == "NodeFinished":
        progress.advance("dbt", unique_id=event.data.node_info.unique_id)


def invoke(settings: Settings, *args: str, log_dir: Path | None = None) -> DbtReport:
    """``dbt <args>`` against the configured warehouse; every node's status in the report.

    A model whose table swap waited longer than ``settings.dbt_lock_timeout`` for its lock
    (a BI query reading the mart) is built again, with what it skipped, up to
    ``settings.dbt_lock_retries`` times after a backoff, the BI sessions still holding it
    ended before the last: a BI query can delay a mart by minutes, never hold it. Raises
    ``DbtFailed`` only when dbt itself could not run (parse or connection error); a failed
    model or test is in ``report.failures``."""
    report = _invoke_once(settings, *args, log_dir=log_dir)
    retried = 0
    while (
        report.lock_timeouts
        and args
        and args[0] in ("build", "run")
        and (retried < settings.dbt_lock_retries)
    ):
        locked = report.lock_timeouts
        wait = settings.dbt_lock_backoff * 2**retried
        retried += 1
        log.warning(
            "dbt: lock timeout on %s; building again in %.0f s (retry %d of %d)",
            ", ".join(_name(uid) for uid in locked),
            wait,
            retried,
            settings.dbt_lock_retries,
        )
        time.sleep(wait)
        if retried == settings.dbt_lock_retries:  # the last attempt: BI sessions holding go
            # (what the locked models skipped is built in this attempt for the first time)
            _end_bi_sessions(settings, report, [*locked, *report.skipped_models])
        for uid in locked:
            report.lock_retries[uid] = report.lock_retries.get(uid, 0) + 1
        report.merge(_invoke_once(settings, *retry_args(args, locked), log_dir=log_dir))
    for uid in report.lock_timeouts:
        status, msg = report.nodes[uid]
        report.nodes[uid] = (
            status,
            f"lock timeout on {_name(uid)}: a session held the table past "
            f"{settings.dbt_lock_timeout} on each of {retried + 1} attempts "
            f"(see pg_stat_activity / pg_locks); {msg}"[:300],
        )
    return report


def _end_bi_sessions(settings: Settings, report: DbtReport, locked: list[str]) -> None:
    """The BI sessions still holding the ``locked`` nodes' tables are ended (a login may
    lift its own statement timeout): a BI query delays a mart, never holds it."""
    from warehouse.access import end_sessions_holding

    ended = end_sessions_holding(settings, [_name(uid) for uid in locked])
    if ended:
        report.ended_sessions += ended
        log.warning(
            "dbt: ended %d BI session(s) still holding %s (%s)",
            len(ended),
            ", ".join(_name(uid) for uid in locked),
            ", ".join(sorted(set(ended))),
        )


def _name(unique_id: str) -> str:
    """``model.probation_warehouse.dim_tier`` -> ``dim_tier``."""
    return unique_id.rsplit(".", 1)[-1]


def retry_args(args: tuple[str, ...], failed: list[str]) -> list[str]:
    """``args`` with its selection narrowed to the ``failed`` nodes and what they skipped
    (their descendants, within the original selection): ``build --select a b`` with ``b``
    failed -> ``build --select b+,a b+,b``."""
    out: list[str] = []
    selected: list[str] = []
    in_select = False
    for arg in args:
        if arg in ("--select", "-s", "--models", "-m"):
            in_select = True
        elif in_select and not arg.startswith("-"):
            selected.append(arg)
        else:
            in_select = False
            out.append(arg)
    names = [f"{_name(uid)}+" for uid in failed]
    narrowed = [f"{n},{s}" for n in names for s in selected] if selected else names
    return [*out, "--select", *narrowed]


def _target_path(settings: Settings, args: tuple[str, ...]) -> list[str]:
    """A warehouse other than the default local one (a test's, a copy) keeps dbt's target
    folder in its own home. dbt parses the whole project again (~10 s) whenever the
    connection differs from the one its ``partial_parse.msgpack`` was written for: one
    folder per warehouse keeps every invocation after the first a partial parse, and the
    default warehouse's ``dbt_project/target`` (which ``mf query`` reads) its own."""
    if "--target-path" in args or settings.home == Settings.model_fields["home"].default:
        return []
    return ["--target-path", str(settings.home / "dbt-target")]


def parse(settings: Settings) -> Path:
    """``dbt parse`` as the builds against this warehouse parse (its connection, its
    target folder), so that their parse is partial (~0.5 s, not a full ~6 s one); returns
    the ``manifest.json`` written (and ``semantic_manifest.json`` beside it, which ``mf
    query`` reads: the commands that run nodes leave both as they are, see
    ``_invoke_once``)."""
    invoke(settings, "parse")
    return _target_dir(settings, ()) / "manifest.json"


def _target_dir(settings: Settings, args: tuple[str, ...]) -> Path:
    """The folder dbt writes its artifacts to for ``args`` against this warehouse."""
    given = [*args, *_target_path(settings, args)]
    if "--target-path" in given:
        path = Path(given[given.index("--target-path") + 1])
        return path if path.is_absolute() else DBT_PROJECT_DIR / path  # as dbt resolves it
    return DBT_PROJECT_DIR / "target"


def _invoke_once(settings: Settings, *args: str, log_dir: Path | None = None) -> DbtReport:
    """One ``dbt <args>``; every node's status in the report."""
    from dbt.cli.main import dbtRunner

    settings.apply_tool_env()
    logs = log_dir or settings.home / "dbt-logs"
    cli_args = [
        *args,
        # dbt's console lines would go through Airflow's task logger one by one (~3 s of
        # a 20 s build) and its error lines may quote a delivered value: all of it is in
        # dbt.log; the failures come back in the report, scrubbed
        "--log-level",
        "none",
        "--log-level-file",
        "debug",
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--log-path",
        str(logs),
        *_target_path(settings, args),
    ]
    # A command that runs nodes writes manifest.json and semantic_manifest.json twice
    # (after parsing, and again at the end) and run_results.json: ~1.1 s of Python a
    # command, more than some analytics steps' whole build. It writes run_results.json
    # only (below); the manifests are ``parse``'s (``make run`` parses first).
    running = bool(args) and args[0] in RUNS_NODES
    if running:  # a command that ends without results must not leave an earlier one's
        (_target_dir(settings, args) / "run_results.json").unlink(missing_ok=True)
    with _one_invocation_at_a_time(settings, args[0] if args else ""):
        result = dbtRunner(callbacks=[_node_finished]).invoke(
            [*cli_args, "--no-write-json"] if running else cli_args
        )
    if running and hasattr(result.result, "write"):
        target = _target_dir(settings, args)
        target.mkdir(parents=True, exist_ok=True)
        result.result.write(str(target / "run_results.json"))
    report = DbtReport()
    for r in getattr(result.result, "results", None) or []:
        key = f"{r.node.resource_type}:{r.status}"
        report.counts[key] = report.counts.get(key, 0) + 1
        report.nodes[r.node.unique_id] = (str(r.status), scrub(r.message))
        report.seconds[r.node.unique_id] = float(getattr(r, "execution_time", 0.0) or 0.0)
    if not result.success and not report.nodes:
        raise DbtFailed(f"dbt {' '.join(args)} could not run: {scrub(str(result.exception))}")
    return report


@contextlib.contextmanager
def _one_invocation_at_a_time(settings: Settings, command: str) -> Any:
    """Hold the warehouse's dbt lock (a session-level advisory lock, so across processes
    and hosts) while a command that writes or tests it runs. A test's proof records the
    rows it read until the run ends, and a dimension's lost keys are stamped when its
    transaction starts (dbt_project/macros/incremental.sql, foreign_keys.sql): a second
    build committing in between would slip rows or keys past both. Node tasks retrying at
    once, or a slice beside the whole build, now queue instead."""
    if command not in SERIAL_COMMANDS:
        yield
        return
    from warehouse.db import connect

    with connect(settings, autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(%s)", (INVOCATION_LOCK,))
        yield


def run_dbt(settings: Settings, *args: str, log_dir: Path | None = None) -> DbtReport:
    """``dbt <args>``; raises ``DbtFailed`` naming each failed node."""
    if args and args[0] in ("build", "run"):
        from warehouse.access import ensure_access

        ensure_access(settings)  # the roles and access.protect() the marts' post-hook calls
    os.environ.setdefault("DBT_LOG_PATH", str(settings.home / "dbt-logs"))
    report = invoke(settings, *args, log_dir=log_dir)
    if report.failures:
        raise DbtFailed(f"dbt {' '.join(args)} failed:\n" + "\n".join(report.failures))
    return report


def build_results(value: str | dict | None) -> dict[str, list[str]]:
    """The build task's XCom: a JSON string, which Airflow may hand back already parsed."""
    return value if isinstance(value, dict) else json.loads(value or "{}")
