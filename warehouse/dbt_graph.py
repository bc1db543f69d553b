"""The dbt project as a graph of buildable nodes, for the transform DAG.

``dbt parse`` writes the manifest; this keeps what the DAG needs from it (each seed, model
and snapshot, the nodes it depends on, the data tests that run after it and the unit tests
that gate it) in a small JSON file cached under ``$WAREHOUSE_HOME/dbt/``, keyed by a hash
of the project's files. Parsing the DAG file then costs a hash of ~150 small files, not a
dbt invocation (``dbt parse`` runs once per change of the project, ~6 s).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from warehouse.settings import PROJECT_ROOT

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
BUILDABLE = ("seed", "model", "snapshot")
ANALYTICS_TAG = "analytics"
CACHE_FORMAT = "v2"  # bumped when the cached graph's fields change
# the profile reads these when dbt parses; parsing never connects, so no real value is
# needed (and none ends up in a DAG file's environment or in Airflow's database)
PARSE_ENV = {
    "WAREHOUSE_PGHOST": "127.0.0.1",
    "WAREHOUSE_PGPORT": "5432",
    "WAREHOUSE_PGUSER": "parse-only",
    "WAREHOUSE_PGPASSWORD": "parse-only",
    "WAREHOUSE_PGDATABASE": "parse-only",
}


@dataclass
class Node:
    """A seed, model or snapshot: one task in the transform DAG."""

    unique_id: str
    name: str
    resource_type: str
    depends_on: list[str] = field(default_factory=list)  # buildable nodes only
    tests: list[str] = field(default_factory=list)  # data tests reported by this node
    unit_tests: list[str] = field(default_factory=list)  # unit tests gating it (unique ids)


@dataclass
class DbtGraph:
    fingerprint: str
    nodes: dict[str, Node]  # by unique_id, in dbt's topological order
    source_tests: list[str] = field(default_factory=list)  # tests of sources only
    # each data test's buildable parents (a relationships test has two)
    test_parents: dict[str, list[str]] = field(default_factory=dict)

    @property
    def unit_tests(self) -> dict[str, str]:
        """Unit test name -> the unique_id of the model it tests."""
        return {ut.rsplit(".", 1)[1]: uid for uid, n in self.nodes.items() for ut in n.unit_tests}

    def upstream_of(self, names: tuple[str, ...]) -> DbtGraph:
        """The named nodes and every node they read, directly or not (what ``dbt build
        --select +name ... --indirect-selection buildable`` builds), each with the data
        tests whose parents are all in the slice (dbt runs no other); the source tests
        stay (the slice's build selects ``source:*``)."""
        by_name = {n.name: uid for uid, n in self.nodes.items()}
        unknown = sorted(set(names) - set(by_name))
        if unknown:
            raise KeyError(f"not a seed, model or snapshot of the transform DAG: {unknown}")
        keep: set[str] = set()
        todo = [by_name[name] for name in names]
        while todo:
            uid = todo.pop()
            if uid not in keep:
                keep.add(uid)
                todo += self.nodes[uid].depends_on
        nodes = {
            uid: replace(n, tests=[t for t in n.tests if set(self.test_parents.get(t, [])) <= keep])
            for uid, n in self.nodes.items()
            if uid in keep
        }
        return DbtGraph(self.fingerprint, nodes, self.source_tests, self.test_parents)

    @property
    def size(self) -> int:
        """Nodes dbt build runs: buildable nodes, data tests and unit tests."""
        own = sum(1 + len(n.tests) + len(n.unit_tests) for n in self.nodes.values())
        return own + len(self.source_tests)


def project_fingerprint(project_dir: Path = DBT_PROJECT_DIR) -> str:
    """sha256 over the path and bytes of every project file dbt reads."""
    digest = hashlib.sha256()
    for path in sorted(project_dir.rglob("*")):
        rel = path.relative_to(project_dir)
        if not path.is_file() or rel.parts[0] in ("target", "logs", "dbt_packages"):
            continue
        digest.update(str(rel).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _topological(nodes: dict[str, Node]) -> list[str]:
    order: list[str] = []
    seen: set[str] = set()

    def visit(uid: str) -> None:
        if uid in seen:
            return
        seen.add(uid)
        for dep in nodes[uid].depends_on:
            visit(dep)
        order.append(uid)

    for uid in sorted(nodes):
        visit(uid)
    return order


def graph_from_manifest(manifest: dict, fingerprint: str = "") -> DbtGraph:
    """The buildable nodes of a dbt manifest, each with its data tests and unit tests.

    A data test of several models (``relationships``) is reported by the one dbt builds
    last, since ``dbt build`` runs it only after all of them."""
    # the analytics models (tag ``analytics``) and their tests are the analytics DAG's,
    # built after the steps that write their inputs: not nodes of the transform DAG
    analytics = {uid for uid, n in manifest["nodes"].items() if ANALYTICS_TAG in n.get("tags", [])}
    raw = {
        uid: n
        for uid, n in manifest["nodes"].items()
        if uid not in analytics and not analytics & set(n["depends_on"].get("nodes", []))
    }
    nodes = {
        uid: Node(uid, n["name"], n["resource_type"])
        for uid, n in raw.items()
        if n["resource_type"] in BUILDABLE
    }
    for uid, node in nodes.items():
        node.depends_on = sorted(d for d in raw[uid]["depends_on"].get("nodes", []) if d in nodes)
    order = _topological(nodes)
    position = {uid: i for i, uid in enumerate(order)}
    source_tests, test_parents = [], {}
    for uid, n in sorted(raw.items()):
        parents = [d for d in n["depends_on"].get("nodes", []) if d in nodes]
        if n["resource_type"] == "test" and parents:
            nodes[max(parents, key=position.__getitem__)].tests.append(uid)
            test_parents[uid] = sorted(set(parents))
        elif n["resource_type"] == "test":
            source_tests.append(uid)
    for uid, ut in sorted((manifest.get("unit_tests") or {}).items()):
        model = next((d for d in ut["depends_on"].get("nodes", []) if d in nodes), None)
        if model:
            nodes[model].unit_tests.append(uid)
    return DbtGraph(fingerprint, {uid: nodes[uid] for uid in order}, source_tests, test_parents)


def parse_manifest(project_dir: Path = DBT_PROJECT_DIR) -> dict:
    """``dbt parse`` into a throwaway target folder; returns the manifest."""
    from dbt.cli.main import dbtRunner

    with tempfile.TemporaryDirectory(prefix="dbt-parse-") as target:
        saved = {k: os.environ.get(k) for k in PARSE_ENV}
        os.environ.update({k: os.environ.get(k) or v for k, v in PARSE_ENV.items()})
        try:
            result = dbtRunner().invoke(
                [
                    "parse",
                    "--quiet",
                    "--project-dir",
                    str(project_dir),
                    "--profiles-dir",
                    str(project_dir),
                    "--target-path",
                    target,
                    "--log-path",
                    target,
                ]
            )
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        if not result.success:
            raise RuntimeError(f"dbt parse failed: {result.exception}")
        return json.loads((Path(target) / "manifest.json").read_text())


def load_graph(
    cache_dir: Path, project_dir: Path = DBT_PROJECT_DIR, manifest: Path | None = None
) -> DbtGraph:
    """The project's graph, from the cache when the project has not changed. Processes
    sharing a cache parse a changed project once: the others wait for it (a ``dbt parse`` is
    ~10-20 s of CPU, e.g. the test processes and the DAG parsers all start by needing it).
    ``manifest``: a ``manifest.json`` just written by a ``dbt parse`` of ``project_dir``,
    read instead of parsing again."""
    fingerprint = project_fingerprint(project_dir)
    cached = cache_dir / f"graph-{CACHE_FORMAT}-{fingerprint[:20]}.json"
    if not cached.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        with (cache_dir / "parse.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            if not cached.exists():  # parsed by another process while this one waited
                parsed = json.loads(manifest.read_text()) if manifest else None
                return _parse_and_cache(project_dir, fingerprint, cached, parsed)
    data = json.loads(cached.read_text())
    nodes = {k: Node(**v) for k, v in data["nodes"].items()}
    return DbtGraph(data["fingerprint"], nodes, data["source_tests"], data["test_parents"])


def _parse_and_cache(
    project_dir: Path, fingerprint: str, cached: Path, manifest: dict | None = None
) -> DbtGraph:
    cache_dir = cached.parent
    graph = graph_from_manifest(manifest or parse_manifest(project_dir), fingerprint)
    for stale in cache_dir.glob("graph-*.json"):
        if stale != cached:  # another process may have just written this project's graph
            stale.unlink(missing_ok=True)
    tmp = cached.with_suffix(f".{os.getpid()}.tmp")
    payload = {
        "fingerprint": fingerprint,
        "nodes": {k: asdict(v) for k, v in graph.nodes.items()},
        "source_tests": graph.source_tests,
        "test_parents": graph.test_parents,
    }
    tmp.write_text(json.dumps(payload))
    tmp.replace(cached)
    return graph
