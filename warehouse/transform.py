"""dbt, run in-process with the warehouse's connection settings."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from warehouse.settings import PROJECT_ROOT, Settings

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"


class DbtFailed(RuntimeError):
    pass


@dataclass
class DbtReport:
    counts: dict[str, int] = field(default_factory=dict)  # "model:success" -> n

    def count(self, resource: str, status: str | None = None) -> int:
        return sum(
            n
            for key, n in self.counts.items()
            if key.split(":")[0] == resource and (status is None or key.split(":")[1] == status)
        )


def run_dbt(settings: Settings, *args: str) -> DbtReport:
    """``dbt <args>`` against the configured warehouse; raises ``DbtFailed`` on failure."""
    from dbt.cli.main import dbtRunner

    settings.apply_tool_env()
    if args and args[0] in ("build", "run"):
        from warehouse.access import ensure_access

        ensure_access(settings)  # the roles and access.protect() the marts' post-hook calls
    os.environ.setdefault("DBT_LOG_PATH", str(settings.home / "dbt-logs"))
    cli_args = [
        *args,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
    ]
    result = dbtRunner().invoke(cli_args)
    report = DbtReport()
    results = getattr(result.result, "results", None) or []
    for node_result in results:
        key = f"{node_result.node.resource_type}:{node_result.status}"
        report.counts[key] = report.counts.get(key, 0) + 1
    if not result.success:
        failed = [
            f"{r.node.unique_id}: {r.message}"
            for r in results
            if str(r.status) in ("error", "fail", "runtime error")
        ]
        detail = "\n".join(failed) or str(result.exception)
        raise DbtFailed(f"dbt {' '.join(args)} failed:\n{detail}")
    return report
