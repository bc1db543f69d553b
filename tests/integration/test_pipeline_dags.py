"""The real Airflow DAGs (``dag.test()``, as ``make run`` runs them) against a throwaway
PostgreSQL: the ingestion DAGs on a slice of a few months; the failure wiring on a slice of
the transform DAG made by the same factory (the whole transform DAG runs once, in
test_transform_daily_run.py, with two sharing DAGs after it)."""

from __future__ import annotations

import pytest

from warehouse import airflow_local
from warehouse.db import connect
from warehouse.pipeline import assert_conservation, generate_landing
from warehouse.run import RunResult, run_dag, run_ingest_dags
from warehouse.transform import build_results

pytestmark = pytest.mark.integration

INGESTED = ("offenders", "events", "disposals", "requirements")


def _dags(settings):  # type: ignore[no-untyped-def]
    airflow_local.configure(settings)
    airflow_local.migrate(settings)
    return airflow_local.load_dags()


def test_the_ingestion_dags_load_a_slice_conserve_rows_and_change_nothing_when_rerun(settings):
    # GIVEN three months of deliveries, a few of them spoilt
    generate_landing(settings, scale=0.05, seed=2, dirt=0.02, window=("2007-01", "2007-03"))
    dags = _dags(settings)
    ingest = {f"ingest_ndelius_{feed}": dags[f"ingest_ndelius_{feed}"] for feed in INGESTED}
    # WHEN the ingestion DAGs of four nDelius feeds run as `make run` runs them (two at a
    # time: here and in a helper process, each taking the next DAG)
    result = RunResult(run_id="test", log_dir=settings.home / "logs")
    run_ingest_dags(settings, ingest, result)
    assert result.failures == []
    from airflow.models.dagrun import DagRun  # both processes' runs, in this Airflow's metadata

    assert {r.dag_id for d in ingest for r in DagRun.find(dag_id=d)} == set(ingest)
    # THEN every file is recorded with its rows conserved, bad rows quarantined
    assert assert_conservation(settings) >= 12
    with connect(settings) as conn:
        raw = conn.execute("select count(*) from raw.ndelius_events").fetchone()[0]
        quarantined = conn.execute("select count(*) from audit.quarantine").fetchone()[0]
    assert raw > 0 and quarantined > 0
    # and a second run over the same files changes nothing
    generate_landing(settings, scale=0.05, seed=2, dirt=0.02, window=("2007-01", "2007-03"))
    run = dags["ingest_ndelius_events"].test()
    assert str(run.state) == "success"
    with connect(settings) as conn:
        assert conn.execute("select count(*) from raw.ndelius_events").fetchone()[0] == raw
        statuses = conn.execute(
            "select status, count(*) from audit.file_loads where feed = 'ndelius_events'"
            " group by 1 order by 1"
        ).fetchall()
    assert [s for s, _ in statuses] == ["duplicate", "loaded"]
    # GIVEN the next month's files, and a raw table an older version made (not partitioned)
    generate_landing(settings, scale=0.05, seed=2, dirt=0.02, window=("2007-04", "2007-04"))
    with connect(settings) as conn:
        conn.execute("update audit.schema_version set digest = repeat('0', 64)")
        conn.execute("alter table raw.ndelius_events rename to ndelius_events_kept")
        conn.execute("create table raw.ndelius_events (x int)")
        conn.commit()
    # WHEN they run again THEN each DAG's failure is reported, the helper's too
    result = RunResult(run_id="test-2", log_dir=settings.home / "logs")
    run_ingest_dags(settings, ingest, result)
    assert {f.split(" ", 1)[0] for f in result.failures} == set(ingest), result.failures
    assert all("not partitioned by load" in f for f in result.failures), result.failures


def test_inside_a_run_the_dag_files_are_parsed_once_by_the_warm_up_and_every_dag_still_runs(
    settings, monkeypatch
):
    # GIVEN Airflow migrated, a new in-process execution API to come (none cached), and a
    # count of DAG files parsed and of the API's versioned routes generated (its first
    # request does that: ~3 s)
    dags = _dags(settings)
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk.execution_time import supervisor
    from cadwyn.applications import Cadwyn

    supervisor.in_process_api_server.cache_clear()
    parsed: list[str] = []
    routed: list[int] = []
    real_process_file, real_initialize = DagBag.process_file, Cadwyn._cadwyn_initialize

    def counting(self, filepath, *args, **kwargs):  # type: ignore[no-untyped-def]
        parsed.append(filepath)
        return real_process_file(self, filepath, *args, **kwargs)

    def initializing(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        routed.append(1)
        return real_initialize(self, *args, **kwargs)

    monkeypatch.setattr(DagBag, "process_file", counting)
    monkeypatch.setattr(Cadwyn, "_cadwyn_initialize", initializing)
    files = len(list(airflow_local.DAGS_DIR.glob("*.py")))
    with airflow_local.dag_files_parsed_once():
        # WHEN the process warms up (as `make run`'s processes do while the feeds are
        # generated)
        warmed_dags = airflow_local.warm_up()
        warmed = len(parsed), len(routed)
        # and three ingestion DAGs of that parse run with dag.test() inside the run's block
        runs = [warmed_dags[f"ingest_ndelius_{feed}"].test() for feed in INGESTED[:2]]
        with airflow_local.dag_files_parsed_once():  # a block inside is the outer one's
            runs.append(warmed_dags[f"ingest_ndelius_{INGESTED[2]}"].test())
    # THEN the warm-up parsed every DAG file once, returned every DAG and readied the API;
    # each run succeeded and recorded its run, none of them parsing a file or readying the
    # API again (dag.test() alone parses every file: a fourth run outside the block does)
    assert warmed[0] == files and warmed[1] >= 1
    assert set(warmed_dags) == set(dags)
    assert [str(r.state) for r in runs] == ["success"] * 3
    assert (len(parsed), len(routed)) == warmed
    dags[f"ingest_ndelius_{INGESTED[3]}"].test()
    assert len(parsed) == 2 * files


def test_a_model_that_fails_fails_its_own_task_naming_it_and_the_rest_still_report(
    warehouse_copy, monkeypatch
):
    settings = warehouse_copy
    # GIVEN a slice of the transform DAG, built by the same factory: recorded crime and
    # Supporting People outcomes, and everything they read
    marts = ("fct_recorded_crime", "fct_supporting_people_outcomes")
    monkeypatch.setenv("WAREHOUSE_TRANSFORM_SLICE", ", ".join(marts))
    transform = _dags(settings)["transform_slice"]
    assert "dbt.stg_gmac__recorded_crimes" in transform.task_ids
    assert "dbt.fct_caseload_monthly" not in transform.task_ids
    # and a raw table the recorded-crime staging view reads has gone
    with connect(settings) as conn:
        conn.execute("alter table raw.gmac_crime rename to gmac_crime_elsewhere")
        conn.commit()
    # WHEN the DAG runs
    result = RunResult(run_id="test", log_dir=settings.home / "logs")
    run = run_dag(transform, result)
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    # THEN the source tests' task fails with dbt's message, the model dbt then skipped
    # fails its own task (it was not built), its descendants do not run, the other
    # models' tasks report success, and Soda (after all of them) does not run
    assert str(run.state) == "failed"
    assert states["dbt.source_tests"] == "failed"
    assert states["dbt.stg_gmac__recorded_crimes"] == "failed"
    assert states["dbt.fct_recorded_crime"] == "upstream_failed"
    assert states["dbt.fct_supporting_people_outcomes"] == "success"
    assert states["dbt.dim_ward"] == "success"
    assert states["soda_contracts"] == "upstream_failed"
    cause = next(f for f in result.failures if f.startswith("transform_slice dbt.source_tests"))
    assert 'relation "raw.gmac_crime" does not exist' in cause, cause
    skipped = next(f for f in result.failures if "dbt.stg_gmac__recorded_crimes" in f)
    assert "skipped" in skipped, skipped
    # and the slice's one build ran only the slice's nodes and tests, each reported by a task
    from warehouse.dbt_graph import load_graph

    part = load_graph(settings.graph_cache_dir).upstream_of(marts)
    reported = {*part.nodes, *part.source_tests}
    reported |= {t for n in part.nodes.values() for t in [*n.tests, *n.unit_tests]}
    build = next(ti for ti in run.get_task_instances() if ti.task_id == "dbt.build")
    results = build_results(build.xcom_pull(task_ids="dbt.build"))
    ran = {uid for uid in results if not uid.startswith("operation.")}  # on-run-end hooks
    assert ran <= reported, sorted(ran - reported)[:5]
    assert "model.probation_warehouse.fct_supporting_people_outcomes" in ran


def test_a_run_whose_generator_fails_says_why_and_where_the_log_is(settings, monkeypatch):
    import re
    import shlex
    import subprocess
    import sys

    # GIVEN settings the generator refuses (dirt must be below one half)
    monkeypatch.setenv("WAREHOUSE_DIRT", "0.7")
    # WHEN `warehouse run` (what `make run` runs) starts on a terminal (`script` gives it
    # one: the progress display is then live, and rich sends stderr to the screen)
    command = shlex.join([sys.executable, "-m", "warehouse.cli", "run"])
    run = subprocess.run(
        ["script", "-qec", command, "/dev/null"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=600,
    )
    console = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", run.stdout + run.stderr).replace("\r", "")
    # THEN it fails with the generator's reason and the log to open, not a traceback
    assert run.returncode == 1, console
    said = " ".join(console.split())
    assert "run failed: generating the feeds failed: dirt must be in [0, 0.5)" in said, said
    assert "Traceback" not in console
    log = settings.home / said.split("Log: ", 1)[1].split()[0].split(str(settings.home) + "/")[1]
    # and the log holds both tracebacks: this process's and the generator's
    assert "RuntimeError: generating the feeds failed" in log.read_text()
    assert "ValueError: dirt must be in" in log.read_text()
