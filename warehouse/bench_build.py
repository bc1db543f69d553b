"""``make bench-build``: dbt build time, full and incremental, at scale 1 (and 16).

For each scale, in a throwaway PostgreSQL: generate the feeds, hold back the files of the
last month (the "new day" of deliveries), ingest the rest and run the first full build;
then ingest the held-back files and time

* the daily run: ``dbt build`` (incremental facts add only what changed), and
* a full rebuild of the same data: ``dbt build --full-refresh``.

Writes the "dbt build" section of ``BENCHMARKS.md`` and prints, last,
``incremental_vs_full_ratio=<x>`` (at the largest scale measured).

    python -m warehouse.bench_build            # scale 1
    python -m warehouse.bench_build 1 16       # scale 1 and 16 (over an hour here)
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from warehouse.settings import PROJECT_ROOT, Settings, get_settings

HELD_BACK = "2009-03"  # the period of the files delivered "today"
SECTION = "## dbt build (make bench-build)"
SLOWEST = 6  # the models the benchmark names, slowest first


def measured_on() -> str:
    """When and on what a benchmark ran (the first sentence of its section)."""
    return (
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on "
        f"{platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} cores. "
    )


def replace_section(marker: str, lines: list[str]) -> None:
    """Replace one ``## `` section of BENCHMARKS.md (or append it), keeping the others."""
    path = PROJECT_ROOT / "BENCHMARKS.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if marker in text:
        before, rest = text.split(marker, 1)
        after = rest.split("\n## ", 1)
        tail = "\n## " + after[1] if len(after) > 1 else ""
    else:
        before, tail = text.rstrip() + "\n\n", ""
    path.write_text(before + "\n".join(lines).rstrip() + "\n" + tail)


@contextlib.contextmanager
def work_folder(settings: Settings, prefix: str) -> Iterator[Path]:
    """A scratch folder under the warehouse home (the server user can enter it)."""
    settings.home.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=prefix, dir=settings.home))
    os.chmod(work, 0o755)
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _deliver(settings: Settings, scale: float, cache_root: Path) -> None:
    """Put the generated feeds for ``scale`` into the landing folder.

    The generator is deterministic for (scale, seed, dirt), so its output is kept under
    ``.warehouse/bench-data/`` and copied on later runs: at scale 16 it saves about
    20 minutes a run (``make clean`` removes it)."""
    from warehouse.pipeline import generate_landing

    cache = cache_root / f"scale{scale:g}-seed{settings.seed}-dirt{settings.dirt:g}"
    done = cache / ".complete"
    if not done.exists():
        shutil.rmtree(cache, ignore_errors=True)
        cache.mkdir(parents=True)
        generate_landing(settings, out=cache, scale=scale)
        done.touch()
    shutil.copytree(
        cache, settings.landing_dir, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".complete")
    )


@contextlib.contextmanager
def throwaway_warehouse(scale: float, work: Path, cache_root: Path) -> Iterator[Settings]:
    """A new PostgreSQL under ``work`` holding the generated feeds for ``scale`` in its
    landing folder (nothing ingested yet); ``WAREHOUSE_DSN`` and ``WAREHOUSE_HOME`` point
    at it until the block ends, then it is removed."""
    from warehouse.localdb import LocalPostgres, free_port

    server = LocalPostgres(
        root=work / f"pg{scale:g}", host="127.0.0.1", port=free_port(), password="bench-only"
    )
    saved = {k: os.environ.get(k) for k in ("WAREHOUSE_DSN", "WAREHOUSE_HOME")}
    server.start()
    try:
        server.ensure_database("bench", "pipeline", "bench-only")
        os.environ["WAREHOUSE_DSN"] = (
            f"postgresql://pipeline:bench-only@127.0.0.1:{server.port}/bench"
        )
        os.environ["WAREHOUSE_HOME"] = str(work / f"home{scale:g}")
        settings = Settings()
        _deliver(settings, scale, cache_root)
        yield settings
    finally:
        server.destroy()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def ingest_all(settings: Settings) -> None:
    from ingestion.feeds import ALL_FEEDS
    from warehouse.pipeline import ingest_feed

    for feed in ALL_FEEDS:
        ingest_feed(settings, feed.name)


def _move_tree(source: Path, target_root: Path, pattern: str = "*") -> None:
    for path in list(source.rglob(pattern)):
        if path.is_file():
            target = target_root / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(path, target)


def _measure(scale: float, work: Path, cache_root: Path) -> dict[str, Any]:
    from warehouse.transform import run_dbt

    with throwaway_warehouse(scale, work, cache_root) as settings:
        held = work / f"held{scale:g}"
        _move_tree(settings.landing_dir, held, f"*{HELD_BACK}*")
        ingest_all(settings)
        started = time.perf_counter()
        run_dbt(settings, "build")
        first = time.perf_counter() - started
        _move_tree(held, settings.landing_dir)
        ingest_all(settings)
        started = time.perf_counter()
        daily = run_dbt(settings, "build")
        incremental = time.perf_counter() - started
        started = time.perf_counter()
        rebuild = run_dbt(settings, "build", "--full-refresh")
        full = time.perf_counter() - started
        return {
            "scale": scale,
            "first": first,
            "incremental": incremental,
            "full": full,
            "slowest_daily": daily.slowest(SLOWEST),
            "slowest_full": rebuild.slowest(SLOWEST),
        }


def _slowest(timed: list[tuple[str, float]]) -> str:
    return ", ".join(f"{name} {seconds:.0f}" for name, seconds in timed)


def main(scales: list[float]) -> None:
    settings = get_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    with work_folder(settings, "bench-build-") as work:
        results = [_measure(scale, work, settings.home / "bench-data") for scale in scales]
    lines = [
        SECTION,
        "",
        measured_on()
        + f"`dbt build` = seeds, snapshot, every model, unit and data tests. The files of "
        f"{HELD_BACK} are held back, the rest ingested and built (first build); then the "
        "held-back files are ingested (the new day's deliveries) and the daily run "
        "(`dbt build`, incremental facts) is timed against `dbt build --full-refresh` of the "
        "same data.",
        "",
        "| scale | first full build s | daily incremental build s | full rebuild s | incremental / full |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['scale']:g} | {r['first']:.0f} | {r['incremental']:.0f} | {r['full']:.0f} | "
            f"{r['incremental'] / r['full']:.2f} |"
        )
    lines += ["", f"The {SLOWEST} slowest models, seconds:", ""]
    for r in results:
        lines.append(f"- scale {r['scale']:g}, daily run: {_slowest(r['slowest_daily'])}")
        lines.append(f"- scale {r['scale']:g}, full rebuild: {_slowest(r['slowest_full'])}")
    replace_section(SECTION, [*lines, ""])
    for r in results:
        print(
            f"scale {r['scale']:g}: first build {r['first']:.0f} s, daily incremental "
            f"{r['incremental']:.0f} s, full rebuild {r['full']:.0f} s"
        )
        print(f"  slowest in the daily run: {_slowest(r['slowest_daily'])}")
    last = results[-1]
    print(f"incremental_vs_full_ratio={last['incremental'] / last['full']:.2f}")


if __name__ == "__main__":
    main([float(a) for a in sys.argv[1:]] or [1.0])
