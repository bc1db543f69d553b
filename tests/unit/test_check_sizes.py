"""scripts/check_sizes.py names long functions and long modules (outside tests/)."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("check_sizes", ROOT / "scripts" / "check_sizes.py")
check_sizes = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_sizes)


def _module(lines_in_function: int, extra_lines: int = 0) -> str:
    body = "".join(f"    x{i} = {i}\n" for i in range(lines_in_function - 1))
    return "def f():\n" + body + "\n" * extra_lines


def test_a_function_over_80_lines_and_a_module_over_500_are_named(tmp_path, monkeypatch):
    monkeypatch.setattr(check_sizes, "ROOT", tmp_path)
    (tmp_path / "pkg").mkdir()
    ok, long_function = tmp_path / "pkg" / "ok.py", tmp_path / "pkg" / "long.py"
    ok.write_text(_module(80))
    long_function.write_text(_module(81, extra_lines=420))
    assert check_sizes.problems_in(ok) == []
    assert check_sizes.problems_in(long_function) == [
        "pkg/long.py:1: module has 501 lines (max 500)",
        "pkg/long.py:1: function f has 81 lines (max 80)",
    ]
    (tmp_path / "tests").mkdir()
    test_module = tmp_path / "tests" / "test_long.py"
    test_module.write_text(_module(10, extra_lines=600))
    assert check_sizes.problems_in(test_module) == []


def test_the_repository_is_within_the_limits():
    assert check_sizes.main([]) == 0
