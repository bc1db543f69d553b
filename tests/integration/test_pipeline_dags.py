"""The walking skeleton through real Airflow DAGs (dag.test) against a throwaway PostgreSQL."""

from __future__ import annotations

import pytest

from warehouse import airflow_local
from warehouse.db import connect
from warehouse.pipeline import assert_conservation, generate

pytestmark = pytest.mark.integration


def test_ingest_then_transform_dags_build_the_mart_and_pass_soda(settings):
    generate(settings, scale=0.05, seed=2, dirt=0.01)
    airflow_local.configure(settings)
    airflow_local.migrate(settings)
    dags = airflow_local.load_dags()
    for dag_id in ("ingest_ndelius_offenders", "ingest_ndelius_events", "transform"):
        run = dags[dag_id].test()
        assert str(run.state) == "success", dag_id
        if dag_id == "transform":
            states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
            assert states["soda_contracts"] == "success"
            assert any(t.endswith(".test") for t in states), "tests run after models"
    assert_conservation(settings)
    with connect(settings) as conn:
        raw = conn.execute(
            "select count(*) from raw.ndelius_events e where not soft_deleted"
        ).fetchone()[0]
        mart = conn.execute("select count(*) from marts.fct_convictions").fetchone()[0]
        quarantined = conn.execute("select count(*) from audit.quarantine").fetchone()[0]
    assert mart == raw > 0
    assert quarantined > 0

    # a second ingestion run over the same files changes nothing
    generate(settings, scale=0.05, seed=2, dirt=0.01)
    run = dags["ingest_ndelius_events"].test()
    assert str(run.state) == "success"
    with connect(settings) as conn:
        again = conn.execute("select count(*) from raw.ndelius_events where not soft_deleted")
        assert again.fetchone()[0] == raw
