"""``make bench-airflow``: the transform DAG through Airflow against the same work bare.

For each scale (1 and 4), in a throwaway PostgreSQL: generate and ingest the feeds and run
a first build; then, on that same warehouse state, alternately time

* bare: ``dbt build`` then the Soda contracts (what ``warehouse build`` runs), and
* Airflow: the ``transform`` DAG run exactly as ``make run`` runs it (``dag.test()`` in
  this process, the DAG files parsed once per process: BI access, one dbt build, a task
  per model, Soda),

in the order bare, Airflow, Airflow, bare, bare, Airflow (so a drift of the shared machine
falls on both). Output of both goes to a log file, as in ``make run``. Writes the "Airflow
overhead" section of ``BENCHMARKS.md`` and prints, last, ``airflow_vs_bare_ratio=<x>``: the
larger of the ratios of the medians measured at the two scales.

    python -m warehouse.bench_airflow          # scales 1 and 4
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from warehouse.bench_build import (
    ingest_all,
    measured_on,
    replace_section,
    throwaway_warehouse,
    work_folder,
)
from warehouse.settings import Settings, get_settings

SECTION = "## Airflow overhead (make bench-airflow)"
ORDER = ("bare", "airflow", "airflow", "bare", "bare", "airflow")


def _bare(settings: Settings) -> None:
    from warehouse.quality import verify_contracts
    from warehouse.transform import run_dbt

    run_dbt(settings, "build")
    verify_contracts(settings)


def _measure(scale: float, work: Path, cache_root: Path) -> dict[str, object]:
    from warehouse import airflow_local
    from warehouse.run import RunResult, output_to, run_dag

    with throwaway_warehouse(scale, work, cache_root) as settings:
        log = work / f"bench-airflow-scale{scale:g}.log"
        with output_to(log):
            ingest_all(settings)
            _bare(settings)  # the first build: the state both are then timed on
            airflow_local.configure(settings)
            airflow_local.migrate(settings)
            transform = airflow_local.load_dags()["transform"]
            times: dict[str, list[float]] = {"bare": [], "airflow": []}
            # as in `make run`, the DAG files are parsed once per process: here the first
            # Airflow run pays for it (in `make run`, the first ingestion DAG does)
            with airflow_local.dag_files_parsed_once():
                for kind in ORDER:
                    result = RunResult(run_id="bench", log_dir=work)
                    started = time.perf_counter()
                    if kind == "bare":
                        _bare(settings)
                    else:
                        run_dag(transform, result)
                    times[kind].append(time.perf_counter() - started)
                    if result.failures:
                        raise RuntimeError(f"transform DAG failed: {result.failures}")
    bare, airflow = statistics.median(times["bare"]), statistics.median(times["airflow"])
    return {"scale": scale, "bare": bare, "airflow": airflow, "times": times}


def main(scales: list[float]) -> None:
    settings = get_settings()
    with work_folder(settings, "bench-airflow-") as work:
        results = [_measure(scale, work, settings.home / "bench-data") for scale in scales]
    lines = [
        SECTION,
        "",
        measured_on() + "Same warehouse state (feeds ingested, first build done), alternating "
        f"{', '.join(ORDER)}; medians. Bare = `dbt build` + Soda contracts; Airflow = the "
        "`transform` DAG as `make run` runs it (`dag.test()`, the DAG files parsed once per "
        "process, so the first Airflow run pays for the parse: BI access, one `dbt build`, "
        "a task per seed/model/snapshot and unit test, Soda).",
        "",
        "| scale | bare s | Airflow s | Airflow / bare | runs (bare; Airflow) |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        runs = "; ".join(
            ", ".join(f"{t:.1f}" for t in r["times"][k])  # type: ignore[index]
            for k in ("bare", "airflow")
        )
        lines.append(
            f"| {r['scale']:g} | {r['bare']:.1f} | {r['airflow']:.1f} | "
            f"{r['airflow'] / r['bare']:.2f} | {runs} |"  # type: ignore[operator]
        )
    replace_section(SECTION, [*lines, ""])
    for r in results:
        print(
            f"scale {r['scale']:g}: bare {r['bare']:.1f} s, Airflow {r['airflow']:.1f} s, "
            f"ratio {r['airflow'] / r['bare']:.2f}"  # type: ignore[operator]
        )
    worst = max(r["airflow"] / r["bare"] for r in results)  # type: ignore[operator]
    print(f"airflow_vs_bare_ratio={worst:.2f}")


if __name__ == "__main__":
    main([float(a) for a in sys.argv[1:]] or [1.0, 4.0])
