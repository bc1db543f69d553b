"""DAG policy: every DAG imports, is acyclic, and carries docs, an owner, retries and tags."""

from __future__ import annotations

import pytest

from warehouse import airflow_local
from warehouse.settings import Settings


@pytest.fixture(scope="module")
def dags():
    from warehouse.dbt_graph import load_graph

    settings = Settings()
    airflow_local.migrate(settings)
    # as `make run` does before Airflow parses the DAG files: the dbt graph is parsed once
    # into its cache (a cold parse inside Airflow's DAG import timeout fails on a busy machine)
    load_graph(settings.graph_cache_dir)
    with pytest.MonkeyPatch.context() as mp:  # the optional slice DAG, under the same policy
        mp.setenv("WAREHOUSE_TRANSFORM_SLICE", "fct_recorded_crime")
        return airflow_local.load_dags()  # raises on any import error


def test_expected_dags_exist(dags):
    from ingestion.feeds import ALL_FEEDS

    expected = {f"ingest_{f.name}" for f in ALL_FEEDS} | {"transform", "jsna_pack"}
    assert expected <= set(dags)


def test_every_dag_has_docs_owner_retries_tags_and_failure_callback(dags):
    for dag_id, dag in dags.items():
        assert dag.doc_md and len(dag.doc_md.strip()) > 40, f"{dag_id}: doc_md"
        assert dag.tags and any(t.startswith("layer:") for t in dag.tags), f"{dag_id}: tags"
        for task in dag.tasks:
            assert task.owner and task.owner != "airflow", f"{dag_id}.{task.task_id}: owner"
            assert task.retries >= 1, f"{dag_id}.{task.task_id}: retries"
            assert task.on_failure_callback, f"{dag_id}.{task.task_id}: failure callback"


def test_no_cycles(dags):
    for dag_id, dag in dags.items():
        order = dag.topological_sort()
        assert len(order) == len(dag.tasks), dag_id


def test_transform_is_scheduled_on_the_raw_assets(dags):
    from ingestion.feeds import ALL_FEEDS

    schedule = repr(dags["transform"].timetable)
    for feed in ALL_FEEDS:
        assert f"warehouse.raw.{feed.name}" in repr(
            dags["transform"].timetable.asset_condition
        ) or (feed.name in schedule)


def test_one_share_dag_per_agreement_on_its_cron_gated_by_the_soda_contracts(dags):
    from warehouse.sharing.agreements import all_agreements

    for agreement in all_agreements():
        dag = dags[f"share_{agreement.id}"]
        assert agreement.schedule in repr(dag.timetable), dag.dag_id
        first = [t for t in dag.tasks if not t.upstream_list]
        assert [t.task_id for t in first] == ["verify_mart_contracts"], dag.dag_id
        assert first[0].downstream_task_ids == {"write_and_deliver"}


def test_every_dbt_unit_test_gates_its_model_in_the_transform_dag(dags):
    import yaml

    from warehouse.transform import DBT_PROJECT_DIR

    declared = {
        (unit["name"], unit["model"])
        for path in (DBT_PROJECT_DIR / "models").rglob("*.yml")
        for unit in (yaml.safe_load(path.read_text()) or {}).get("unit_tests", [])
    }
    assert declared, "no dbt unit tests found"
    transform = dags["transform"]
    for name, model in declared:
        task = transform.get_task(f"dbt.unit_test.{name}")
        model_task = transform.get_task(f"dbt.{model}")
        # as in dbt build: the unit test runs after its model's inputs and before the model
        inputs = (
            model_task.upstream_task_ids
            - {task.task_id}
            - {t for t in model_task.upstream_task_ids if t.startswith("dbt.unit_test.")}
        )
        assert "dbt.build" in task.upstream_task_ids, name
        assert inputs <= task.upstream_task_ids, name
        assert task.task_id in model_task.upstream_task_ids, f"{name} does not gate {model}"


def test_the_transform_dag_has_a_task_per_dbt_node_following_the_dbt_graph(dags):
    from warehouse.dbt_graph import graph_from_manifest, parse_manifest

    # GIVEN the graph dbt itself parses (not the DAG's cached copy)
    graph = graph_from_manifest(parse_manifest())
    transform = dags["transform"]
    for node in graph.nodes.values():
        task = transform.get_task(f"dbt.{node.name}")
        # THEN each seed, model and snapshot has a task after the tasks of its parents
        parents = {f"dbt.{graph.nodes[d].name}" for d in node.depends_on}
        assert parents <= task.upstream_task_ids, node.name
        assert parents or "dbt.build" in task.upstream_task_ids, node.name
    # and every data test is reported by exactly one task
    reported = [t for n in graph.nodes.values() for t in n.tests] + graph.source_tests
    assert len(reported) == len(set(reported)) > 200
    assert transform.get_task("soda_contracts").upstream_task_ids >= {
        f"dbt.{n.name}" for n in graph.nodes.values() if not _has_children(graph, n.unique_id)
    }


def test_the_transform_slice_is_the_transform_dag_cut_to_a_mart_and_all_it_reads(dags):
    # GIVEN WAREHOUSE_TRANSFORM_SLICE named one mart (the fixture)
    whole, part = dags["transform"], dags["transform_slice"]
    # THEN its tasks are the whole DAG's for that mart and its ancestors, wired the same way,
    # and it runs only when triggered
    mart = whole.get_task("dbt.fct_recorded_crime")
    expected = {"bi_access", "dbt.build", "soda_contracts", "dbt.source_tests", mart.task_id}
    expected |= {t.task_id for t in mart.get_flat_relatives(upstream=True)}
    assert set(part.task_ids) == expected
    for task_id in expected - {"soda_contracts"}:
        assert part.get_task(task_id).upstream_task_ids == (
            whole.get_task(task_id).upstream_task_ids & expected
        ), task_id
    assert type(part.timetable).__name__ == "NullTimetable"
    # and its Soda step, which checks only the slice's marts, does not say every contract
    # passed (the analytics and JSNA DAGs follow that asset)
    assert part.get_task("soda_contracts").outlets == []
    assert whole.get_task("soda_contracts").outlets


def _has_children(graph, uid: str) -> bool:  # type: ignore[no-untyped-def]
    return any(uid in n.depends_on for n in graph.nodes.values())


def test_the_analytics_dag_follows_the_marts_with_a_task_per_step_and_no_analytics_model_in_transform(
    dags,
):
    from warehouse.analytics.steps import STEPS

    analytics = dags["analytics"]
    assert "warehouse.marts" in repr(analytics.timetable.asset_condition)
    soda = dags["transform"].get_task("soda_contracts")
    assert {a.name for a in soda.outlets} == {"warehouse.marts"}
    assert [t.task_id for t in analytics.tasks] == [s.name for s in STEPS]
    for step in STEPS:
        outlets = {a.name for a in analytics.get_task(step.name).outlets}
        assert outlets == {f"warehouse.marts.{m}" for m in step.models}
        for model in step.models:  # built by the step, never by the transform DAG
            assert f"dbt.{model}" not in dags["transform"].task_ids


def test_the_jsna_pack_runs_after_the_transform_and_the_analytics_marts(dags):
    from warehouse.analytics.steps import STEPS

    condition = repr(dags["jsna_pack"].timetable.asset_condition)
    assert "'warehouse.marts'" in condition or '"warehouse.marts"' in condition, condition
    transform_outlets = {a.name for t in dags["transform"].tasks for a in getattr(t, "outlets", [])}
    assert "warehouse.marts" in transform_outlets
    analytics_outlets = {a.name for t in dags["analytics"].tasks for a in t.outlets}
    for step in STEPS:
        for mart in step.marts:  # each analytics mart the pack reads, produced by its step
            assert f"warehouse.marts.{mart}" in condition
            assert f"warehouse.marts.{mart}" in analytics_outlets
