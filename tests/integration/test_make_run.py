"""The README's two commands inside the suite: the default warehouse every test reads is built
by ``make run`` (tests/integration/default_build.py: every DAG through Airflow, against a
throwaway cluster), and ``make bi-check`` asks Superset for every chart of the JSNA
dashboard on it. What ``make run`` printed is checked here against the warehouse it built."""

from __future__ import annotations

import re
import subprocess

import pytest

from ingestion.feeds import ALL_FEEDS
from tests.integration.default_build import console_of_make_run, make, make_env
from warehouse.db import connect
from warehouse.localdb import free_port
from warehouse.quality import contract_files
from warehouse.superset_check import bundle_charts

pytestmark = pytest.mark.integration

MAX_LINES = 150  # issue 11: the whole console of a fresh `make run`, venv creation included


@pytest.fixture(scope="module")
def console(default_warehouse) -> str:  # type: ignore[no-untyped-def]
    return console_of_make_run(default_warehouse.home).read_text()


def _figure(console: str, pattern: str) -> re.Match[str]:
    """The first match of ``pattern`` in ``console`` read as one line of words."""
    found = re.search(pattern, " ".join(console.split()))
    assert found, f"`make run` printed no line matching {pattern!r}:\n{console[-3000:]}"
    return found


def test_make_run_prints_a_short_summary_of_every_feed_and_stage(console):
    lines = console.splitlines()
    # one venv line (`make venv`, nothing to install here) is below the budget too
    assert len(lines) + 1 <= MAX_LINES, len(lines)
    assert "Traceback" not in console
    table = console[console.index("Feeds (latest load") :]
    assert all(re.search(rf"\b{feed.name}\b", table) for feed in ALL_FEEDS)
    seconds = _figure(console, r"pipeline\S*: (\d+)s \(([^)]*)\)")
    stages = dict(s.split() for s in seconds.group(2).split(" · "))
    assert {"generate", "ingest", "transform", "analytics"} <= set(stages)
    # every line of the summary is whole (not wrapped to the console's width)
    assert any(line.startswith("pipeline: ") and line.endswith(")") for line in lines)


def test_the_summary_of_make_run_agrees_with_the_warehouse_it_built(console, default_warehouse):
    nodes = _figure(console, r"dbt\S*: (\d+) nodes \(([^)]*)\) · (\d+) marts, ([\d,]+) rows")
    statuses = dict(reversed(s.split(" ")) for s in nodes.group(2).split(", "))
    assert set(statuses) <= {"success", "pass"} and int(nodes.group(1)) > 250
    soda = _figure(console, r"Soda\S*: (\d+) checks passed, (\d+) failed, in (\d+) contracts")
    assert int(soda.group(1)) > 300 and soda.group(2) == "0"
    loads = _figure(console, r"conservation\S* holds for (\d+) file loads")
    calibration = _figure(console, r"Calibration\S*: \S*?(\d+) of (\d+)")
    assert calibration.group(1) == calibration.group(2) and int(calibration.group(2)) >= 100
    with connect(default_warehouse) as conn:
        marts = conn.execute(
            "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            " where n.nspname = 'marts' and c.relkind in ('r', 'p', 'v', 'm')"
        ).fetchall()
        rows = sum(
            conn.execute(f'select count(*) from marts."{name}"').fetchone()[0] for (name,) in marts
        )
        (file_loads,) = conn.execute("select count(*) from audit.file_loads").fetchone()
    assert (int(nodes.group(3)), int(nodes.group(4).replace(",", ""))) == (len(marts), rows)
    assert int(loads.group(1)) == file_loads > 700
    assert int(soda.group(3)) == len(contract_files())  # every mart's contract, verified


def test_make_bi_check_answers_every_chart_of_the_dashboard_through_superset(default_warehouse):
    """`make bi-check` as CI ran it after `make run`: Superset (its own virtualenv, made by
    the target if missing) on this warehouse as bi_reader, every chart's data through its
    REST API."""
    done = subprocess.run(
        make("bi-check"),
        env=make_env(SUPERSET_PORT=str(free_port())),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    output = done.stdout + done.stderr
    charts = len(bundle_charts())
    assert done.returncode == 0, output[-4000:]
    last = done.stdout.splitlines()[-1]  # (pip's warnings go to stderr)
    assert last == f"superset_charts_ok={charts}/{charts}" and charts >= 8, output[-4000:]
