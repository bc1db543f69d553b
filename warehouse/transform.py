"""dbt, run in-process with the warehouse's connection settings."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from warehouse import progress
from warehouse.settings import PROJECT_ROOT, Settings

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
FAILED = ("error", "fail", "runtime error")
PASSED = ("success", "pass", "warn")


class DbtFailed(RuntimeError):
    pass


@dataclass
class DbtReport:
    counts: dict[str, int] = field(default_factory=dict)  # "model:success" -> n
    # unique_id -> (status, first line of dbt's message, quoted values masked)
    nodes: dict[str, tuple[str, str]] = field(default_factory=dict)

    def count(self, resource: str, status: str | None = None) -> int:
        return sum(
            n
            for key, n in self.counts.items()
            if key.split(":")[0] == resource and (status is None or key.split(":")[1] == status)
        )

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

    Raises ``DbtFailed`` only when dbt itself could not run (parse or connection error);
    a failed model or test is in ``report.failures``."""
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
    ]
    result = dbtRunner(callbacks=[_node_finished]).invoke(cli_args)
    report = DbtReport()
    for r in getattr(result.result, "results", None) or []:
        key = f"{r.node.resource_type}:{r.status}"
        report.counts[key] = report.counts.get(key, 0) + 1
        report.nodes[r.node.unique_id] = (str(r.status), scrub(r.message))
    if not result.success and not report.nodes:
        raise DbtFailed(f"dbt {' '.join(args)} could not run: {scrub(str(result.exception))}")
    return report


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
