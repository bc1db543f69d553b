"""Size limits ruff does not check: no function over 80 lines, no module outside tests/
over 500 lines (ruff's PLR0915 counts statements, not lines).

    python scripts/check_sizes.py [paths...]      # default: the repository

A function's lines run from its ``def`` (decorators excluded) to its last line, docstring
and comments included. Exits 1 naming every offender as ``path:line: message``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 500
WAIVED: tuple[str, ...] = ()  # no folder is waived


def python_files(paths: list[str]) -> list[Path]:
    """The tracked (and new, not ignored) Python files under ``paths``."""
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "--cached", "--others", "--exclude-standard"]
        + ["--", *paths],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [ROOT / p for p in listed if p.endswith(".py") and (ROOT / p).is_file()]


def problems_in(path: Path) -> list[str]:
    rel = path.relative_to(ROOT).as_posix()
    if rel.startswith(WAIVED):
        return []
    text = path.read_text(encoding="utf-8")
    found = []
    lines = len(text.splitlines())
    if lines > MAX_MODULE_LINES and not rel.startswith("tests/"):
        found.append(f"{rel}:1: module has {lines} lines (max {MAX_MODULE_LINES})")
    for node in ast.walk(ast.parse(text, filename=rel)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                found.append(
                    f"{rel}:{node.lineno}: function {node.name} has {length} lines "
                    f"(max {MAX_FUNCTION_LINES})"
                )
    return found


def main(argv: list[str]) -> int:
    problems = [p for path in python_files(argv or ["."]) for p in problems_in(path)]
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
