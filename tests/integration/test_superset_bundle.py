"""The Superset bundle's datasets and chart queries, run as bi_reader on the built default
warehouse: every dataset column selects, every chart's saved query returns rows, and the
figures a chart shows agree with the mart they come from. (`make bi-check` sends the same
queries through Superset itself.)"""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from tests.integration.conftest import BI_PASSWORD
from warehouse import bi_bundle
from warehouse.access import READER

pytestmark = pytest.mark.integration

BUNDLE = bi_bundle.load()


@pytest.fixture(scope="module")
def reader(default_warehouse):  # type: ignore[no-untyped-def]
    info = default_warehouse.conninfo()
    with psycopg.connect(
        host=info.host,
        port=info.port,
        dbname=info.dbname,
        user=READER,
        password=BI_PASSWORD,
        autocommit=True,
    ) as conn:
        yield conn


def test_every_dataset_column_selects_as_bi_reader(reader):
    for dataset in BUNDLE.datasets.values():
        columns = sql.SQL(", ").join(sql.Identifier(c) for c in dataset.columns)
        query = sql.SQL("select {} from {}.{} limit 5").format(
            columns, sql.Identifier(dataset.schema), sql.Identifier(dataset.table)
        )
        rows = reader.execute(query).fetchall()
        assert rows, f"{dataset.file}: marts.{dataset.table} is empty for bi_reader"


@pytest.mark.parametrize("chart", BUNDLE.charts, ids=lambda c: c.title)
def test_every_chart_query_returns_rows_as_bi_reader(reader, chart):
    dataset = BUNDLE.datasets[chart.dataset_uuid]
    for query in chart.queries:
        rows = reader.execute(bi_bundle.query_sql(query, dataset)).fetchall()
        assert rows, f"{chart.file}: no rows"
        assert all(v is not None for v in rows[0][len(query.get("columns") or []) :]), chart.file


def test_the_caseload_big_number_is_the_sum_of_the_district_caseloads(reader):
    """The single-figure chart against the mart by an independent query: the saved metric
    and the chart's filter select the latest year's ten district rows."""
    chart = next(c for c in BUNDLE.charts if c.viz_type == "big_number_total")
    dataset = BUNDLE.datasets[chart.dataset_uuid]
    (shown,) = reader.execute(bi_bundle.query_sql(chart.queries[0], dataset)).fetchone()
    latest, total, districts = reader.execute(
        f"""select financial_year, sum(caseload), count(*) from marts.{dataset.table}
        group by financial_year order by financial_year desc limit 1"""
    ).fetchone()
    assert districts == 10, latest
    assert shown == total > 0
