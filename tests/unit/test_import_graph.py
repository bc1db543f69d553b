"""Imports point down: dags -> warehouse -> ingestion, and no module imports itself back
through others (an import circle), counting imports made inside functions too."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("dags", "warehouse", "ingestion")  # each may import only those after it


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for layer in LAYERS for p in sorted((ROOT / layer).rglob("*.py"))}


def _type_checking_only(tree: ast.Module) -> set[ast.AST]:
    """Imports under ``if TYPE_CHECKING:`` (never run: annotations only)."""
    return {
        inner
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING"
        for inner in ast.walk(node)
    }


def _imported(name: str, path: Path, known: set[str]) -> set[str]:
    """The project's modules one module imports, inside functions too: ``from package
    import module`` names the module, ``from module import thing`` the module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(), str(path))
    skipped = _type_checking_only(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if node in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found |= {
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            }
    return {m for m in found if m in known and m != name}


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imported(name, path, set(modules)) for name, path in modules.items()}


def _reach(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph.get(start, ()))
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(graph.get(node, ()))
    return seen


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Groups of modules that each import the others, directly or through others."""
    reach = {node: _reach(graph, node) for node in graph}
    groups = {
        tuple(sorted({node} | {other for other in reach[node] if node in reach[other]}))
        for node in graph
        if node in reach[node]
    }
    return sorted(list(group) for group in groups)


def test_the_circle_finder_finds_a_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_relative_and_in_function_imports_are_counted(tmp_path):
    pkg = tmp_path / "p"
    pkg.mkdir()
    module = pkg / "m.py"
    module.write_text(
        "from typing import TYPE_CHECKING\nfrom . import n\n\nif TYPE_CHECKING:\n"
        "    from .q import Q\n\ndef f():\n    from .o import thing\n    from p import run\n"
    )
    known = {"p", "p.n", "p.o", "p.m", "p.q"}
    assert _imported("p.m", module, known) == {"p", "p.n", "p.o"}


def test_no_import_circle():
    graph = import_graph()
    assert len(graph) > 50
    assert circles(graph) == []


def test_imports_point_down_the_layers():
    upward = sorted(
        (name, target)
        for name, targets in import_graph().items()
        for target in targets
        if LAYERS.index(target.split(".")[0]) < LAYERS.index(name.split(".")[0])
    )
    assert upward == []
