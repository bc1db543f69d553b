"""``make run`` generates the feeds in a process of its own (``warehouse.run.Generation``),
so that Airflow can get ready on the other core: what a person sees of it (progress, the
number of files, the generator's own error) must be what the generator in this process
would have given."""

from __future__ import annotations

import hashlib
import time

import pytest

from warehouse import progress
from warehouse.pipeline import generate_landing
from warehouse.run import Generation
from warehouse.settings import Settings


def _settings(tmp_path, name: str, **overrides) -> Settings:  # type: ignore[no-untyped-def]
    return Settings(
        **{"home": tmp_path / name, "scale": 0.01, "seed": 5, "dirt": 0.02, **overrides}
    )


def _digests(folder):  # type: ignore[no-untyped-def]
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_the_generator_process_writes_what_this_process_would_and_reports_its_progress(
    tmp_path,
):
    # GIVEN a listener, as `warehouse run`'s display listens
    heard: list[tuple[str, int, int | None]] = []

    def listener(stage, n, total, info):  # type: ignore[no-untyped-def]
        heard.append((stage, n, total))

    progress.listen(listener)
    try:
        # WHEN the feeds are generated in their own process
        apart = _settings(tmp_path, "apart")
        started = time.monotonic()
        generation = Generation(apart)
        files = generation.wait()
        waited = time.monotonic()
    finally:
        progress.stop_listening(listener)
    # THEN the files are those this process writes for the same settings, byte for byte
    here = _settings(tmp_path, "here")
    report = generate_landing(here)
    assert files == len(report.files) > 100
    assert _digests(apart.landing_dir) == _digests(here.landing_dir)
    # and every file's progress reached this process's listener, with the total at the end
    generated = [h for h in heard if h[0] == "generate"]
    assert sum(n for _, n, _ in generated) == files
    assert generated[-1][2] == files
    # and the time it ended is known (the summary's "generate" stage), on this clock
    assert started < generation.finished <= waited


def test_a_generator_that_fails_is_reported_with_its_own_first_error_line(tmp_path):
    # GIVEN settings the generator refuses (dirt must be below one half)
    generation = Generation(_settings(tmp_path, "bad", dirt=0.7))
    # WHEN the run waits for it THEN the error names the generator's reason
    with pytest.raises(RuntimeError, match=r"generating the feeds failed: dirt must be in"):
        generation.wait()
