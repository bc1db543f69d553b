"""The semantic layer's metrics (dbt_project/models/semantic), queried through MetricFlow.

The commissioning figures are defined once, as MetricFlow metrics over the marts; this
module asks MetricFlow (the engine behind ``mf query``) for them from Python, against the
warehouse of ``settings``. It needs the dbt project's ``target/semantic_manifest.json``
(written by ``dbt parse``: ``make run`` and ``warehouse build`` parse first; the commands
that run nodes leave it as it is) and a built warehouse. Used by
tests/integration/test_metrics.py, which checks each metric against the JSNA, demand,
unit-cost and reoffending marts and the calibration queries.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from warehouse.dbt_graph import PARSE_ENV
from warehouse.settings import PROJECT_ROOT, Settings

DBT_DIR = PROJECT_ROOT / "dbt_project"


class MetricQueryFailed(RuntimeError):
    """MetricFlow could not answer a metric query (names the metrics and group-by)."""


def semantic_manifest_json(project_dir: Path = DBT_DIR) -> str:
    """``dbt parse`` into a throwaway target folder (no database needed); returns the
    semantic manifest MetricFlow reads (``target/semantic_manifest.json``)."""
    from dbt.cli.main import dbtRunner

    saved = {k: os.environ.get(k) for k in PARSE_ENV}
    os.environ.update({k: os.environ.get(k) or v for k, v in PARSE_ENV.items()})
    try:
        with tempfile.TemporaryDirectory(prefix="dbt-semantic-") as target:
            paths = ["--project-dir", str(project_dir), "--profiles-dir", str(project_dir)]
            out = ["--target-path", target, "--log-path", target]
            result = dbtRunner().invoke(["parse", "--quiet", *paths, *out])
            if not result.success:
                raise RuntimeError(f"dbt parse failed: {result.exception}")
            return (Path(target) / "semantic_manifest.json").read_text()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def semantic_errors(manifest_json: str) -> list[str]:
    """MetricFlow's semantic validation of a semantic manifest (what ``mf validate-configs
    --skip-dw`` checks): the blocking issues, readable; empty when the layer is valid."""
    from metricflow_semantic_interfaces.validations.semantic_manifest_validator import (
        SemanticManifestValidator,
    )
    from metricflow_semantics.model.dbt_manifest_parser import (
        parse_manifest_from_dbt_generated_manifest,
    )

    manifest = parse_manifest_from_dbt_generated_manifest(manifest_json_string=manifest_json)
    result = SemanticManifestValidator().validate_semantic_manifest(manifest)
    return [issue.as_readable_str() for issue in result.errors]


class Metrics:
    """A MetricFlow engine over the dbt project, connected to ``settings``' warehouse."""

    def __init__(self, settings: Settings) -> None:
        from dbt_metricflow.cli.cli_configuration import CLIConfiguration

        os.environ.update(settings.tool_env())  # profiles.yml reads the connection from here
        config = CLIConfiguration()
        config.setup(
            dbt_profiles_path=DBT_DIR, dbt_project_path=DBT_DIR, configure_file_logging=False
        )
        self._engine = config.mf

    def query(
        self,
        metrics: Sequence[str],
        group_by: Sequence[str] = (),
        where: Sequence[str] = (),
    ) -> list[dict[str, Any]]:
        """One dict per result row: each group-by and metric by name (lower case)."""
        from metricflow.engine.metricflow_engine import MetricFlowQueryRequest

        request = MetricFlowQueryRequest.create(
            metric_names=list(metrics),
            group_by_names=list(group_by) or None,
            where_constraints=list(where) or None,
        )
        try:
            result = self._engine.query(mf_request=request)
        except Exception as exc:  # MetricFlow raises many kinds; name the query, keep the cause
            raise MetricQueryFailed(
                f"metrics {list(metrics)} by {list(group_by)}: {type(exc).__name__}: {exc}"
            ) from exc
        table = result.result_df
        if table is None:
            return []
        names = [name.lower() for name in table.column_names]
        return [dict(zip(names, row, strict=True)) for row in table.rows]


if __name__ == "__main__":  # python -m warehouse.metrics: validate the semantic layer
    problems = semantic_errors(semantic_manifest_json())
    print("\n".join(problems) or "semantic layer valid: 0 errors")
    raise SystemExit(1 if problems else 0)
