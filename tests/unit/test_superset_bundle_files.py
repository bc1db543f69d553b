"""The Superset dashboard bundle (bi/superset/bundle) against the dbt project: every dataset is
a mart bi_reader may read, every column and metric it names exists, every chart of the
dashboard has a saved query over them; and the configuration takes its secrets from the
environment only. (tests/integration/test_superset_bundle.py runs the chart queries as
bi_reader; `make bi-check` runs them through Superset itself.)"""

from __future__ import annotations

import glob
import importlib.util
import re
from pathlib import Path

import pytest
import yaml

from warehouse import bi_bundle
from warehouse.access import READER, load_matrix
from warehouse.settings import PROJECT_ROOT

MARTS_YML = PROJECT_ROOT / "dbt_project" / "models" / "marts"
CONFIG = PROJECT_ROOT / "bi" / "superset" / "superset_config.py"
BUNDLE = bi_bundle.load()


def _mart_columns() -> dict[str, dict[str, str]]:
    """mart -> column -> declared data type, from the models' enforced contracts."""
    marts: dict[str, dict[str, str]] = {}
    for path in glob.glob(str(MARTS_YML / "*" / "*.yml")):
        for model in yaml.safe_load(Path(path).read_text()).get("models") or []:
            marts[model["name"]] = {
                c["name"]: str(c.get("data_type") or "") for c in model.get("columns") or []
            }
    return marts


MARTS = _mart_columns()


def test_the_bundle_has_a_dashboard_of_at_least_eight_charts_over_its_datasets():
    assert len(BUNDLE.charts) >= 8
    assert {c.uuid for c in BUNDLE.charts} == BUNDLE.dashboard_chart_uuids
    assert all(c.dataset_uuid in BUNDLE.datasets for c in BUNDLE.charts)
    assert {c.dataset_uuid for c in BUNDLE.charts} == set(BUNDLE.datasets)


@pytest.mark.parametrize("dataset", BUNDLE.datasets.values(), ids=lambda d: d.table)
def test_each_dataset_is_a_mart_bi_reader_reads_with_its_columns_and_types(dataset):
    assert dataset.schema == "marts", dataset.file
    assert dataset.table in MARTS, f"{dataset.file}: {dataset.table} is no dbt mart"
    declared = MARTS[dataset.table]
    unknown = sorted(set(dataset.columns) - set(declared))
    assert not unknown, f"{dataset.file}: columns not in marts.{dataset.table}: {unknown}"
    for name, kind in dataset.columns.items():
        assert kind.lower() == declared[name].lower(), f"{dataset.file}: {name} {kind}"
    assert load_matrix().scope(dataset.table, READER).using == "true", dataset.table


@pytest.mark.parametrize("chart", BUNDLE.charts, ids=lambda c: c.title)
def test_each_chart_names_only_its_datasets_columns_and_metrics(chart):
    dataset = BUNDLE.datasets[chart.dataset_uuid]
    missing = sorted(bi_bundle.referenced_columns(chart) - set(dataset.columns))
    assert not missing, f"{chart.file}: not columns of {dataset.table}: {missing}"
    assert chart.queries, chart.file
    for query in chart.queries:
        if chart.params.get("query_mode") == "raw":
            # metrics [] would make Superset GROUP BY every column (rows merged, or an error)
            assert query.get("metrics") is None, f"{chart.file}: a raw table query with metrics"
        sql = bi_bundle.query_sql(query, dataset)  # raises on an unknown saved metric
        assert f'"marts"."{dataset.table}"' in sql
        # a column named in a metric or filter expression must exist too
        for expression in [*dataset.metrics.values(), (query.get("extras") or {}).get("where")]:
            for table, column in _qualified_refs(expression or ""):
                assert column in MARTS.get(table, {}), f"{chart.file}: {table}.{column}"


@pytest.mark.parametrize("chart", BUNDLE.charts, ids=lambda c: c.title)
def test_each_charts_saved_query_has_the_filters_its_form_shows(chart):
    """The dashboard draws a chart from its form (params), make bi-check and the API from the
    saved query context: a filter in one and not the other would check a different chart."""
    shown = [
        f["sqlExpression"]
        for f in chart.params.get("adhoc_filters") or []
        if f.get("expressionType") == "SQL" and f.get("clause") == "WHERE"
    ]
    for query in chart.queries:
        where = (query.get("extras") or {}).get("where") or ""
        assert where == " AND ".join(f"({f})" for f in shown), chart.file
        assert not query.get("filters"), f"{chart.file}: simple filters are not checked here"


def _qualified_refs(sql: str) -> list[tuple[str, str]]:
    """(mart, column) of each ``select max(col) from marts.mart`` sub-query."""
    return [(table, col) for col, table in re.findall(r"max\((\w+)\) from marts\.(\w+)", sql)]


def test_saved_metric_expressions_name_only_dataset_columns():
    for dataset in BUNDLE.datasets.values():
        for name, expression in dataset.metrics.items():
            words = set(re.findall(r"[a-z_][a-z0-9_]*", expression.lower()))
            sql_words = {"sum", "count", "distinct", "nullif", "numeric", "max", "min", "avg"}
            unknown = words - sql_words - set(dataset.columns)
            assert not unknown, f"{dataset.file}: metric {name} names {sorted(unknown)}"


def test_the_bundle_holds_no_password():
    assert len(BUNDLE.databases) == 1
    uri = BUNDLE.databases[0]["sqlalchemy_uri"]
    assert uri.startswith("postgresql://bi_reader:XXXXXXXXXX@"), "only the masked export form"
    assert "password" not in BUNDLE.databases[0] or not BUNDLE.databases[0]["password"]


def _load_config(monkeypatch, **env: str):  # type: ignore[no-untyped-def]
    monkeypatch.delenv("SUPERSET_SECRET_KEY", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    spec = importlib.util.spec_from_file_location("superset_config_under_test", CONFIG)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_config_takes_its_secret_key_from_the_environment_only(monkeypatch, tmp_path):
    with pytest.raises(RuntimeError, match="SUPERSET_SECRET_KEY"):
        _load_config(monkeypatch)
    with pytest.raises(RuntimeError, match="SUPERSET_SECRET_KEY"):
        _load_config(monkeypatch, SUPERSET_SECRET_KEY="short")
    key = "k" * 12 + "Q9x-" * 5
    config = _load_config(monkeypatch, SUPERSET_SECRET_KEY=key, SUPERSET_HOME=str(tmp_path))
    assert config.SECRET_KEY == key
    assert config.SQLALCHEMY_DATABASE_URI.startswith(f"sqlite:///{tmp_path}/superset.db")
    assert key not in CONFIG.read_text()


@pytest.mark.parametrize(
    ("host", "tls"),
    [("127.0.0.1", False), ("localhost", False), ("warehouse", True), ("10.0.0.5", True)],
)
def test_superset_reaches_a_warehouse_on_another_host_only_over_tls(
    monkeypatch, tmp_path, host, tls
):
    from warehouse.settings import Settings
    from warehouse.superset import warehouse_uri

    monkeypatch.setenv("WAREHOUSE_DSN", f"postgresql://pipeline:pw@{host}:5432/warehouse")
    monkeypatch.setenv("WAREHOUSE_HOME", str(tmp_path))
    monkeypatch.setenv(f"WAREHOUSE_BI_PASSWORD_{READER.upper()}", "reader pw")
    uri = warehouse_uri(Settings())
    assert uri.startswith(f"postgresql://{READER}:reader%20pw@{host}:5432/warehouse")
    assert uri.endswith("?sslmode=require") is tls


def test_superset_gets_no_credential_of_the_pipeline_nor_a_partners_key(monkeypatch, tmp_path):
    from warehouse.settings import Settings
    from warehouse.superset import environment

    monkeypatch.setenv("WAREHOUSE_DSN", "postgresql://pipeline:pipeline-secret@warehouse/warehouse")
    monkeypatch.setenv("WAREHOUSE_HOME", str(tmp_path))
    monkeypatch.setenv(f"WAREHOUSE_BI_PASSWORD_{READER.upper()}", "reader pw")
    monkeypatch.setenv("WAREHOUSE_SHARE_KEY_DAT_MANCHESTER", "partner-secret")
    settings = Settings()
    # the pipeline's login as the tools get it (dbt, Soda, Airflow's connection)
    for name, value in settings.tool_env().items():
        monkeypatch.setenv(name, value)
    env = environment(settings)
    leaked = [k for k, v in env.items() if "pipeline-secret" in v or "partner-secret" in v]
    assert leaked == [] and "reader%20pw" in env["SUPERSET_WAREHOUSE_URI"]
