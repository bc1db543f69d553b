"""Stopping the default warehouse's builder process at the end of a test run
(tests/integration/default_build.py::stop_building), with stand-in processes in groups of
their own, as the builder runs."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.default_build import stop_building


@pytest.fixture
def group(tmp_path: Path):
    """A process leading a group of its own, recorded as the builder of ``tmp_path/default``."""
    process = subprocess.Popen(["sleep", "60"], start_new_session=True)
    built = tmp_path / "default"
    built.mkdir()
    built.with_name("default.started").write_text(str(process.pid))
    yield built, process
    if process.poll() is None:
        process.kill()
        process.wait()


def test_a_builder_still_running_at_the_end_of_the_run_is_stopped(group):
    built, process = group
    stop_building(built, timeout=10)
    # (stop_building reaps it when it is its child, as here: no exit status is left to read)
    assert process.poll() is not None


@pytest.mark.parametrize("marker", ["BUILT", "FAILED"])
def test_a_finished_builder_s_process_id_is_not_signalled(group, marker):
    # GIVEN the builder finished, and its process id now belongs to another process group
    built, process = group
    (built / marker).write_text("")
    # WHEN the run ends
    stop_building(built, timeout=10)
    time.sleep(0.2)
    # THEN that process group is left alone
    assert process.poll() is None
