"""The transform DAG's view of the dbt project, and what dbt's messages may carry."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from warehouse.dbt_graph import graph_from_manifest, project_fingerprint
from warehouse.transform import scrub


def _node(kind: str, *deps: str) -> dict:
    return {"resource_type": kind, "name": "", "depends_on": {"nodes": list(deps)}}


MANIFEST = {
    "nodes": {
        "seed.p.ref_a": {**_node("seed"), "name": "ref_a", "depends_on": {"macros": []}},
        "model.p.stg_b": {**_node("model", "source.p.raw.b"), "name": "stg_b"},
        "model.p.dim_a": {**_node("model", "seed.p.ref_a"), "name": "dim_a"},
        "model.p.fct_b": {**_node("model", "model.p.stg_b", "model.p.dim_a"), "name": "fct_b"},
        "test.p.unique_dim_a": _node("test", "model.p.dim_a"),
        # a relationships test of two models runs after both: the later one reports it
        "test.p.rel_fct_b_dim_a": _node("test", "model.p.dim_a", "model.p.fct_b"),
        "test.p.not_null_raw_b": _node("test", "source.p.raw.b"),
    },
    "unit_tests": {
        "unit_test.p.fct_b.edges": {"name": "edges", "depends_on": {"nodes": ["model.p.fct_b"]}}
    },
}


def test_each_buildable_node_follows_its_parents_and_reports_its_tests():
    graph = graph_from_manifest(MANIFEST)
    order = list(graph.nodes)
    assert order.index("seed.p.ref_a") < order.index("model.p.dim_a") < order.index("model.p.fct_b")
    assert graph.nodes["model.p.fct_b"].depends_on == ["model.p.dim_a", "model.p.stg_b"]
    assert graph.nodes["model.p.stg_b"].depends_on == []  # sources are not tasks
    assert graph.nodes["model.p.dim_a"].tests == ["test.p.unique_dim_a"]
    assert graph.nodes["model.p.fct_b"].tests == ["test.p.rel_fct_b_dim_a"]
    assert graph.nodes["model.p.fct_b"].unit_tests == ["unit_test.p.fct_b.edges"]
    assert graph.source_tests == ["test.p.not_null_raw_b"]
    assert graph.unit_tests == {"edges": "model.p.fct_b"}
    assert graph.size == 4 + 3 + 1


def test_a_slice_keeps_the_named_nodes_and_all_they_read_and_refuses_unknown_names():
    graph = graph_from_manifest(MANIFEST)
    # WHEN a slice of a node reading a seed's dimension is taken
    dim = graph.upstream_of(("dim_a",))
    # THEN it holds that node and its parents, with their tests, and the source tests
    assert list(dim.nodes) == ["seed.p.ref_a", "model.p.dim_a"]
    assert dim.nodes["model.p.dim_a"].tests == ["test.p.unique_dim_a"]
    assert dim.source_tests == ["test.p.not_null_raw_b"]
    # and a slice of the fact reaches every ancestor, in the same order as the whole graph
    assert list(graph.upstream_of(("fct_b",)).nodes) == list(graph.nodes)
    with pytest.raises(KeyError, match="nope"):
        graph.upstream_of(("dim_a", "nope"))


def test_analytics_models_and_their_tests_are_left_to_the_analytics_dag():
    # GIVEN an analytics mart (tag analytics) reading a mart, with a test touching both
    links = {**_node("model", "model.p.dim_a"), "name": "fct_links", "tags": ["analytics"]}
    manifest = {
        "nodes": {
            **MANIFEST["nodes"],
            "model.p.fct_links": links,
            "test.p.rel_links_dim_a": _node("test", "model.p.dim_a", "model.p.fct_links"),
        },
        "unit_tests": MANIFEST["unit_tests"],
    }
    # WHEN the transform DAG's graph is read THEN neither is a task nor reported by dim_a
    graph = graph_from_manifest(manifest)
    assert "model.p.fct_links" not in graph.nodes
    assert graph.nodes["model.p.dim_a"].tests == ["test.p.unique_dim_a"]
    assert graph.size == graph_from_manifest(MANIFEST).size


def test_the_fingerprint_changes_when_a_project_file_changes(tmp_path):
    (tmp_path / "models").mkdir()
    model = tmp_path / "models" / "a.sql"
    model.write_text("select 1")
    (tmp_path / "target").mkdir()
    before = project_fingerprint(tmp_path)
    (tmp_path / "target" / "manifest.json").write_text("{}")  # build output: ignored
    assert project_fingerprint(tmp_path) == before
    model.write_text("select 2")
    assert project_fingerprint(tmp_path) != before


def test_processes_that_need_the_graph_at_once_parse_the_project_once(tmp_path, monkeypatch):
    # GIVEN an empty graph cache and a dbt parse that takes a while (counted)
    import threading
    import time

    from warehouse import dbt_graph

    parses = []

    def slow_parse(project_dir):  # type: ignore[no-untyped-def]
        parses.append(project_dir)
        time.sleep(0.5)
        return MANIFEST

    monkeypatch.setattr(dbt_graph, "parse_manifest", slow_parse)
    # WHEN three callers (each its own lock file handle, as processes) load it at once
    graphs = []
    callers = [
        threading.Thread(target=lambda: graphs.append(dbt_graph.load_graph(tmp_path)))
        for _ in range(3)
    ]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    # THEN the project was parsed once and all three have the same graph, from one cache file
    assert len(parses) == 1
    assert len(graphs) == 3 and all(g.nodes == graphs[0].nodes for g in graphs)
    assert "model.p.fct_b" in graphs[0].nodes
    assert len(list(tmp_path.glob("graph-*.json"))) == 1


def test_dbt_messages_keep_identifiers_and_lose_delivered_values():
    message = 'Database Error in model stg_b (models/stg_b.sql)\n  relation "raw.b" does not exist'
    assert scrub(message) == (
        'Database Error in model stg_b (models/stg_b.sql) relation "raw.b" does not exist'
    )
    leaked = "Database Error\n invalid input syntax for type date: \"03/02/2008\" near 'A123456'"
    assert "03/02/2008" not in scrub(leaked) and "A123456" not in scrub(leaked)
    assert scrub('value "Smith" too long') == 'value "…" too long'
    assert scrub('invalid input syntax for type integer: "unknown"').endswith(': "…"')
    assert "X123456" not in scrub("duplicate key\nDETAIL: Key (crn)=(X123456) already exists")


def test_no_intermediate_model_reads_a_mart():
    """The structure guide's layers: staging -> intermediate -> marts, never back up."""
    import re
    from pathlib import Path

    models = Path(__file__).resolve().parents[2] / "dbt_project" / "models"
    marts = {p.stem for p in (models / "marts").rglob("*.sql")}
    read_up = {
        (p.stem, name)
        for p in (models / "intermediate").rglob("*.sql")
        for name in re.findall(r"ref\(\s*['\"](\w+)['\"]\s*\)", p.read_text())
        if name in marts
    }
    assert marts and not read_up, read_up


_MODELS = __import__("pathlib").Path(__file__).resolve().parents[2] / "dbt_project" / "models"


def test_intermediate_models_are_named_for_what_they_do():
    """The structure guide's int_<entity>s_<verb>s: an entity alone (int_unit_costs) says
    what a model holds, not what it does to its input."""
    import re

    does = re.compile(r"_(\w+ed|in|at|to|by|per|with)(_|$)")
    vague = sorted(
        p.stem for p in (_MODELS / "intermediate").rglob("*.sql") if not does.search(p.stem)
    )
    assert not vague, vague


def test_every_folder_of_models_declares_them_in_its_own_yml():
    folders = {p.parent for p in _MODELS.rglob("*.sql")}
    bare = sorted(str(f.relative_to(_MODELS)) for f in folders if not list(f.glob("_*.yml")))
    assert folders and not bare, bare


def test_every_macro_and_singular_test_is_described_in_its_folders_yml():
    import re

    import yaml

    project = _MODELS.parent
    macros = {
        name
        for path in (project / "macros").glob("*.sql")
        for name in re.findall(r"{%-?\s*macro\s+(\w+)\s*\(", path.read_text())
    }
    described = {
        m["name"]
        for m in yaml.safe_load((project / "macros" / "_macros.yml").read_text())["macros"]
        if m.get("description")
    }
    assert macros and macros == described, macros ^ described
    tests = {p.stem for p in (project / "tests").glob("*.sql")}
    entries = yaml.safe_load((project / "tests" / "_tests.yml").read_text())["data_tests"]
    assert tests == {t["name"] for t in entries if t.get("description")}


def test_a_slice_of_the_project_is_exactly_what_its_dbt_build_selects(tmp_path):
    import json
    import os
    import subprocess
    import sys

    from warehouse.dbt_graph import DBT_PROJECT_DIR, PARSE_ENV, load_graph

    # GIVEN the project's graph and a slice of it (as the transform_slice DAG makes)
    part = load_graph(tmp_path / "cache").upstream_of(("dim_offender",))
    reported = {*part.nodes, *part.source_tests}
    reported |= {t for n in part.nodes.values() for t in [*n.tests, *n.unit_tests]}
    # WHEN dbt lists what the slice's build selects (the build task's arguments)
    dbt = str(Path(sys.executable).parent / "dbt")
    args = ["--select", "+dim_offender", "source:*", "--indirect-selection", "buildable"]
    listed = subprocess.run(
        [dbt, "ls", "-q", "--output", "json", "--output-keys", "unique_id", *args]
        + ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
        + ["--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path)],
        env={**os.environ, **PARSE_ENV},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    selected = {json.loads(line)["unique_id"] for line in listed.splitlines() if line[:1] == "{"}
    # THEN every node and test it runs has a task reporting it, and no task waits for more
    assert {u for u in selected if not u.startswith("source.")} == reported
    assert len(reported) > 50


def test_the_prepared_parse_leaves_the_builds_a_partial_parse_and_the_dag_its_graph(
    tmp_path, monkeypatch
):
    from warehouse.dbt_graph import PARSE_ENV, load_graph
    from warehouse.settings import Settings
    from warehouse.transform import invoke, parse

    # GIVEN the graph a parse of its own gives (placeholder connection), and a warehouse
    # of its own (parsing never connects: no server is needed)
    for key in PARSE_ENV:  # (the warehouse's connection is set in the environment below)
        monkeypatch.delenv(key, raising=False)
    own = load_graph(tmp_path / "other-cache")
    settings = Settings(home=tmp_path / "home", dsn="postgresql://u:p@127.0.0.1:9/db")
    for key in settings.tool_env():
        monkeypatch.setenv(key, os.environ.get(key, ""))  # restored after the test
    # WHEN `make run`'s preparation parses the project once for it
    manifest = parse(settings)
    graph = load_graph(tmp_path / "cache", manifest=manifest)
    # THEN the transform DAG's graph comes from that parse, the same as the other parse's
    assert graph.nodes == own.nodes
    # and the next dbt command against the warehouse parses only what changed (nothing)
    invoke(settings, "ls", "--select", "dim_tier", log_dir=tmp_path / "logs")
    log = (tmp_path / "logs" / "dbt.log").read_text()
    next_command = log[log.rindex("Running with dbt") :]
    assert "Nothing changed, skipping partial parsing" in next_command
    assert "Unable to do partial parsing" not in next_command
