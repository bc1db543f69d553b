"""The semantic layer's metrics (dbt_project/models/semantic), queried through MetricFlow.

The commissioning figures are defined once, as MetricFlow metrics over the marts; this
module asks MetricFlow (the engine behind ``mf query``) for them from Python, against the
warehouse of ``settings``. It needs the dbt project's ``target/semantic_manifest.json``
(written by ``dbt parse`` or ``dbt build``) and a built warehouse. Used by
tests/integration/test_metrics.py, which checks each metric against the JSNA, demand,
unit-cost and reoffending marts and the calibration queries.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from warehouse.settings import PROJECT_ROOT, Settings

DBT_DIR = PROJECT_ROOT / "dbt_project"


class MetricQueryFailed(RuntimeError):
    """MetricFlow could not answer a metric query (names the metrics and group-by)."""


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
