"""The walking skeleton through real Airflow DAGs (dag.test) against a throwaway PostgreSQL."""

from __future__ import annotations

import pytest

from ingestion.feeds import ALL_FEEDS
from warehouse import airflow_local
from warehouse.db import connect
from warehouse.pipeline import assert_conservation, generate, ingest_feed

pytestmark = pytest.mark.integration


def test_ingest_then_transform_dags_build_the_mart_and_pass_soda(settings, monkeypatch):
    generate(settings, scale=0.03, seed=2, dirt=0.01)
    airflow_local.configure(settings)
    airflow_local.migrate(settings)
    dags = airflow_local.load_dags()
    ingest = ("offenders", "events", "disposals", "requirements")
    # the other feeds are loaded by the same function their DAGs call (quicker than
    # fifteen dag.test() runs): every mart then has rows for its Soda contract
    for feed in ALL_FEEDS:
        if feed.name not in {f"ndelius_{name}" for name in ingest}:
            ingest_feed(settings, feed.name)
    for dag_id in (*(f"ingest_ndelius_{feed}" for feed in ingest), "transform"):
        run = dags[dag_id].test()
        assert str(run.state) == "success", dag_id
        if dag_id == "transform":
            states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
            assert states["soda_contracts"] == "success"
            assert states["bi_access"] == "success"
            assert any(t.endswith(".test") for t in states), "tests run after models"
            unit = {t: s for t, s in states.items() if t.endswith("_unit_test")}
            assert len(unit) >= 4 and set(unit.values()) == {"success"}, unit
    # the sharing DAGs: contracts of their marts, then the extract into the outbox
    monkeypatch.setenv("WAREHOUSE_SHARE_KEY_DAT_MANCHESTER", "k" * 40)
    for agreement in ("csp_manchester", "dat_manchester"):
        run = dags[f"share_{agreement}"].test(run_conf={"period": "2008-09"})
        assert str(run.state) == "success", agreement
        assert (settings.outbox_dir / agreement / "2008-09" / "manifest.json").is_file()
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
    generate(settings, scale=0.03, seed=2, dirt=0.01)
    run = dags["ingest_ndelius_events"].test()
    assert str(run.state) == "success"
    with connect(settings) as conn:
        again = conn.execute("select count(*) from raw.ndelius_events where not soft_deleted")
        assert again.fetchone()[0] == raw


def test_a_backfill_of_one_past_period_loads_only_that_period(settings):
    generate(settings, scale=0.03, seed=4, dirt=0)
    airflow_local.configure(settings)
    airflow_local.migrate(settings)
    dag = airflow_local.load_dags()["ingest_ndelius_disposals"]
    # GIVEN a month's file delivered late WHEN the DAG is triggered for that period only
    run = dag.test(run_conf={"period": "2006-11"})
    assert str(run.state) == "success"
    with connect(settings) as conn:
        periods = conn.execute(
            "select distinct period from audit.file_loads where feed = 'ndelius_disposals'"
        ).fetchall()
        files = {
            r[0] for r in conn.execute("select distinct _source_file from raw.ndelius_disposals")
        }
    # THEN only that month's file was loaded; the other months stay in landing
    assert periods == [("2006-11",)]
    assert files == {"ndelius_disposals_2006-11.csv"}
    left = list((settings.landing_dir / "ndelius").glob("ndelius_disposals_*.csv"))
    assert len(left) == 59
