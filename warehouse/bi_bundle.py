"""The Superset dashboard bundle (``bi/superset/bundle``, Superset's own export format) read
without Superset: its datasets (mart, columns, saved metrics), its charts' saved queries, and
each chart query as the SQL Superset would send (for the tests that run it as ``bi_reader``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from warehouse.settings import PROJECT_ROOT

BUNDLE_DIR = PROJECT_ROOT / "bi" / "superset" / "bundle"
_GRAINS = {"P1D": "day", "P1W": "week", "P1M": "month", "P3M": "quarter", "P1Y": "year"}


class BundleError(ValueError):
    pass


@dataclass(frozen=True)
class Dataset:
    uuid: str
    schema: str
    table: str
    columns: dict[str, str]  # name -> type as Superset holds it
    metrics: dict[str, str]  # saved metric -> SQL expression
    file: str


@dataclass(frozen=True)
class Chart:
    uuid: str
    title: str
    viz_type: str
    dataset_uuid: str
    params: dict
    queries: list[dict] = field(default_factory=list)
    file: str = ""


@dataclass(frozen=True)
class Bundle:
    datasets: dict[str, Dataset]
    charts: list[Chart]
    dashboard_chart_uuids: set[str]
    databases: list[dict]


def _yaml(path: Path) -> dict:
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise BundleError(f"{path}: not valid YAML ({exc})") from exc


def _dataset(path: Path, root: Path) -> Dataset:
    raw = _yaml(path)
    return Dataset(
        uuid=str(raw["uuid"]),
        schema=raw.get("schema") or "",
        table=raw["table_name"],
        columns={c["column_name"]: str(c.get("type") or "") for c in raw.get("columns") or []},
        metrics={m["metric_name"]: m["expression"] for m in raw.get("metrics") or []},
        file=str(path.relative_to(root)),
    )


def _chart(path: Path, root: Path) -> Chart:
    raw = _yaml(path)
    where = str(path.relative_to(root))
    if not raw.get("query_context"):
        raise BundleError(f"{where}: no query_context (save the chart in Superset, then export)")
    try:
        context = json.loads(raw["query_context"])
    except json.JSONDecodeError as exc:
        raise BundleError(f"{where}: query_context is not JSON ({exc})") from exc
    params = raw.get("params") or {}
    if isinstance(params, str):
        params = json.loads(params)
    return Chart(
        uuid=str(raw["uuid"]),
        title=raw["slice_name"],
        viz_type=raw["viz_type"],
        dataset_uuid=str(raw["dataset_uuid"]),
        params=params,
        queries=list(context.get("queries") or []),
        file=where,
    )


def _dashboard_charts(root: Path) -> set[str]:
    uuids = set()
    for path in sorted((root / "dashboards").glob("*.yaml")):
        for node in (_yaml(path).get("position") or {}).values():
            if isinstance(node, dict) and node.get("type") == "CHART":
                uuids.add(str(node["meta"]["uuid"]))
    return uuids


def load(root: Path = BUNDLE_DIR) -> Bundle:
    if not (root / "metadata.yaml").is_file():
        raise BundleError(f"{root}: no metadata.yaml (not a Superset export)")
    datasets = {d.uuid: d for d in (_dataset(p, root) for p in root.glob("datasets/*/*.yaml"))}
    charts = [_chart(p, root) for p in sorted(root.glob("charts/*.yaml"))]
    databases = [_yaml(p) for p in sorted(root.glob("databases/*.yaml"))]
    return Bundle(datasets, charts, _dashboard_charts(root), databases)


# -- what a chart reads, and the SQL Superset sends for it --------------------------------


def _column_sql(column: object) -> tuple[str, str]:
    """(SQL, label) of a query column: a plain name or Superset's adhoc column."""
    if isinstance(column, str):
        return f'"{column}"', column
    if not isinstance(column, dict):
        raise BundleError(f"unexpected column {column!r}")
    expr = column.get("sqlExpression") or column.get("column_name")
    grain = column.get("timeGrain")
    if grain:
        if grain not in _GRAINS:
            raise BundleError(f"time grain {grain} is not one of {sorted(_GRAINS)}")
        expr = f"date_trunc('{_GRAINS[grain]}', {expr})"
    return str(expr), str(column.get("label") or expr)


def _metric_sql(metric: object, dataset: Dataset) -> tuple[str, str]:
    """(SQL, label) of a saved metric (by name) or an adhoc one."""
    if isinstance(metric, str):
        if metric not in dataset.metrics:
            raise BundleError(f"metric {metric!r} is not a saved metric of {dataset.table}")
        return dataset.metrics[metric], metric
    if metric.get("expressionType") == "SQL":
        return metric["sqlExpression"], metric.get("label") or metric["sqlExpression"]
    column = metric["column"]["column_name"]
    return f'{metric["aggregate"]}("{column}")', metric.get("label") or column


def referenced_columns(chart: Chart) -> set[str]:
    """Dataset columns a chart names (x axis, group-by, raw columns, simple metrics)."""
    names: set[str] = set()
    for key in ("x_axis", "granularity_sqla"):
        if isinstance(chart.params.get(key), str):
            names.add(chart.params[key])
    for key in ("groupby", "all_columns", "columns"):
        names.update(c for c in chart.params.get(key) or [] if isinstance(c, str))
    for query in chart.queries:
        for column in query.get("columns") or []:
            if isinstance(column, str):
                names.add(column)
            elif column.get("column_name"):
                names.add(column["column_name"])
        for metric in query.get("metrics") or []:
            if isinstance(metric, dict) and metric.get("expressionType") == "SIMPLE":
                names.add(metric["column"]["column_name"])
    return names


def query_sql(query: dict, dataset: Dataset) -> str:
    """A chart query as one SELECT (columns, metrics, WHERE, GROUP BY, ORDER BY, LIMIT)."""
    columns = [_column_sql(c) for c in query.get("columns") or []]
    metrics = [_metric_sql(m, dataset) for m in query.get("metrics") or []]
    if not columns and not metrics:
        raise BundleError("a chart query with neither columns nor metrics")
    select = ", ".join(f'{sql} as "{label}"' for sql, label in columns + metrics)
    text = f'select {select} from "{dataset.schema}"."{dataset.table}"'
    where = (query.get("extras") or {}).get("where")
    if where:
        text += f" where {where}"
    if metrics and columns:
        text += " group by " + ", ".join(str(i + 1) for i in range(len(columns)))
    order = [
        f'"{_order_label(item[0], dataset)}" {"asc" if item[1] else "desc"}'
        for item in query.get("orderby") or []
    ]
    if order:
        text += " order by " + ", ".join(order)
    if query.get("row_limit"):
        text += f" limit {int(query['row_limit'])}"
    return text


def _order_label(item: object, dataset: Dataset) -> str:
    if isinstance(item, str):
        return item
    return _metric_sql(item, dataset)[1]
