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

import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

from warehouse.settings import PROJECT_ROOT, Settings, get_settings

HELD_BACK = "2009-03"  # the period of the files delivered "today"
SECTION = "## dbt build (make bench-build)"


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


def _deliver(settings: Settings, scale: float, cache_root: Path) -> None:
    """Put the generated feeds for ``scale`` into the landing folder.

    The generator is deterministic for (scale, seed, dirt), so its output is kept under
    ``.warehouse/bench-data/`` and copied on later runs: at scale 16 it saves about
    20 minutes a run (``make clean`` removes it)."""
    from warehouse.pipeline import generate

    cache = cache_root / f"scale{scale:g}-seed{settings.seed}-dirt{settings.dirt:g}"
    done = cache / ".complete"
    if not done.exists():
        shutil.rmtree(cache, ignore_errors=True)
        cache.mkdir(parents=True)
        generate(settings, out=cache, scale=scale)
        done.touch()
    shutil.copytree(
        cache, settings.landing_dir, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".complete")
    )


def _measure(scale: float, work: Path, cache_root: Path) -> dict[str, float]:
    from ingestion.feeds import ALL_FEEDS
    from warehouse.localdb import LocalPostgres, free_port
    from warehouse.pipeline import ingest_feed
    from warehouse.transform import run_dbt

    server = LocalPostgres(
        root=work / f"pg{scale:g}", host="127.0.0.1", port=free_port(), password="bench-only"
    )
    server.start()
    try:
        server.ensure_database("bench", "pipeline", "bench-only")
        os.environ["WAREHOUSE_DSN"] = (
            f"postgresql://pipeline:bench-only@127.0.0.1:{server.port}/bench"
        )
        os.environ["WAREHOUSE_HOME"] = str(work / f"home{scale:g}")
        settings = Settings()
        _deliver(settings, scale, cache_root)
        held = work / f"held{scale:g}"
        for path in settings.landing_dir.rglob(f"*{HELD_BACK}*"):
            target = held / path.relative_to(settings.landing_dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(path, target)
        for feed in ALL_FEEDS:
            ingest_feed(settings, feed.name)
        started = time.perf_counter()
        run_dbt(settings, "build")
        first = time.perf_counter() - started
        for path in held.rglob("*"):
            if path.is_file():
                target = settings.landing_dir / path.relative_to(held)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(path, target)
        for feed in ALL_FEEDS:
            ingest_feed(settings, feed.name)
        started = time.perf_counter()
        run_dbt(settings, "build")
        incremental = time.perf_counter() - started
        started = time.perf_counter()
        run_dbt(settings, "build", "--full-refresh")
        full = time.perf_counter() - started
        return {"scale": scale, "first": first, "incremental": incremental, "full": full}
    finally:
        server.destroy()


def main(scales: list[float]) -> None:
    settings = get_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-build-", dir=settings.home))
    os.chmod(work, 0o755)
    saved = {k: os.environ.get(k) for k in ("WAREHOUSE_DSN", "WAREHOUSE_HOME")}
    try:
        results = [_measure(scale, work, settings.home / "bench-data") for scale in scales]
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(work, ignore_errors=True)
    lines = [
        SECTION,
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on "
        f"{platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} cores. "
        f"`dbt build` = seeds, snapshot, every model, unit and data tests. The files of "
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
    replace_section(SECTION, [*lines, ""])
    for r in results:
        print(
            f"scale {r['scale']:g}: first build {r['first']:.0f} s, daily incremental "
            f"{r['incremental']:.0f} s, full rebuild {r['full']:.0f} s"
        )
    last = results[-1]
    print(f"incremental_vs_full_ratio={last['incremental'] / last['full']:.2f}")


if __name__ == "__main__":
    main([float(a) for a in sys.argv[1:]] or [1.0])
