"""``make bench``: validated ingestion against plain COPY, and memory at two scales.

For scale 1 and scale 4: generate the feeds, take the largest CSV feed (by bytes) and join
its monthly files into one file, then in the same run and the same database

* load it with the loader (GX-validated, quarantine, registry): rows per second, and the
  loader process's peak memory (each load runs in its own process);
* COPY the same file into an unindexed table of text columns: rows per second.

Writes ``BENCHMARKS.md`` and prints, last, ``ingest_vs_copy_ratio=<x>
peak_mem_ratio_scale4_vs_1=<y>`` (the ratio at scale 4, the larger file).
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from warehouse.settings import get_settings

SCALES = (1, 4)
RUNS = 5  # validated loads per scale, each between two plain COPYs


def _largest_feed(landing: Path) -> tuple[str, list[Path]]:
    from ingestion.feeds import ALL_FEEDS

    sizes = {}
    for feed in ALL_FEEDS:
        if feed.file_format != "csv":
            continue
        files = sorted(p for p in (landing / feed.system).glob("*.csv") if feed.matches(p.name))
        sizes[feed.name] = (sum(p.stat().st_size for p in files), files)
    name = max(sizes, key=lambda n: sizes[n][0])
    return name, sizes[name][1]


def _join(files: list[Path], target: Path, width: int) -> int:
    """One file from many (structurally sound lines only, so plain COPY can read it)."""
    rows = 0
    with target.open("wb") as out:
        for i, path in enumerate(files):
            with path.open("rb") as f:
                header = f.readline()
                if i == 0:
                    out.write(header)
                for line in f:
                    if line.count(b",") == width - 1 and b'"' not in line:
                        out.write(line if line.endswith(b"\n") else line + b"\n")
                        rows += 1
    return rows


def _child(feed_name: str, path: str, dsn: str, warmup: str) -> None:
    """Runs in its own process: plain COPYs and validated loads, interleaved; prints the
    numbers as JSON.

    A small file of the same feed is loaded first with the same validator, so the timed
    loads measure steady-state throughput (as in a run over many files), not GX's and
    SQLAlchemy's first-call set-up. Each load is timed between two plain COPYs of the same
    file, so both see the same machine: on a shared VM the speed drifts by tens of per cent
    within a minute, and a ratio of runs taken minutes apart measures the drift.
    """
    import psycopg

    from ingestion.ddl import ensure_schema
    from ingestion.feeds import get_feed
    from ingestion.loader import load_file
    from ingestion.validation import GxValidator, sqlalchemy_url

    feed = get_feed(feed_name)
    source = Path(path)
    with psycopg.connect(dsn, autocommit=True) as conn:
        ensure_schema(conn)
        validator = GxValidator(feed, sqlalchemy_url(conn))
        load_file(conn, Path(warmup), feed, move=False, validator=validator)
        copies = [_plain_copy(conn, feed, source)]
        loads = []
        for run in range(RUNS):
            # the same rows, made a new delivery (a trailing blank line changes the sha256)
            # a period of its own (inside the feed's window: 2003-2007), so none supersedes
            copy = source.with_name(source.name.replace("_2010-", f"_200{run + 3}-"))
            copy.write_bytes(source.read_bytes() + b"\n" * (run + 1))
            started = time.perf_counter()
            result = load_file(conn, copy, feed, move=False, validator=validator)
            loads.append(time.perf_counter() - started)
            copy.unlink()
            copies.append(_plain_copy(conn, feed, source))
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    copy_seconds = [seconds for _, seconds in copies]
    ratios = [(copy_seconds[i] + copy_seconds[i + 1]) / 2 / loads[i] for i in range(len(loads))]
    print(
        json.dumps(
            {
                "rows_in": result.rows_in,
                "rows_loaded": result.rows_loaded,
                "rows_quarantined": result.rows_quarantined,
                "copy_rows": copies[0][0],
                "copy_seconds": _median(copy_seconds),
                "seconds": _median(loads),
                "ratio": _median(ratios),
                "peak_mb": peak_kb / 1024,
            }
        )
    )


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def _plain_copy(conn, feed, path: Path) -> tuple[int, float]:  # type: ignore[no-untyped-def]
    cols = ", ".join(f"{c.db_name} text" for c in feed.columns)
    conn.execute("drop table if exists public.bench_copy")
    conn.execute(f"create table public.bench_copy ({cols})")
    started = time.perf_counter()
    with conn.cursor() as cur, path.open("rb") as f:
        with cur.copy("copy public.bench_copy from stdin with (format csv, header true)") as copy:
            while block := f.read(1 << 20):
                copy.write(block)
    seconds = time.perf_counter() - started
    (rows,) = conn.execute("select count(*) from public.bench_copy").fetchone()
    conn.execute("drop table public.bench_copy")
    return rows, seconds


def main() -> None:

    from ingestion.feeds import get_feed
    from ingestion.synthetic.generator import generate
    from warehouse.localdb import LocalPostgres, free_port

    settings = get_settings()
    rows_out = []
    work = Path(tempfile.mkdtemp(prefix="bench-", dir=settings.home))
    os.chmod(work, 0o755)
    # a throwaway server (durable settings, as in production) for both measurements
    server = LocalPostgres(
        root=work / "pg", host="127.0.0.1", port=free_port(), password="bench-only"
    )
    server.start()
    server.ensure_database("bench", "pipeline", "bench-only")
    dsn = f"postgresql://pipeline:bench-only@127.0.0.1:{server.port}/bench"
    try:
        for scale in SCALES:
            landing = work / f"scale{scale}"
            started = time.perf_counter()
            generate(landing, scale=scale, seed=settings.seed, dirt=settings.dirt)
            gen_seconds = time.perf_counter() - started
            feed_name, files = _largest_feed(landing)
            feed = get_feed(feed_name)
            path = work / f"{feed_name}_2010-{scale:02d}.csv"
            _join(files, path, len(feed.columns))
            warmup = work / f"{feed_name}_2009-{scale:02d}.csv"
            shutil.copy(min(files, key=lambda p: p.stat().st_size), warmup)
            size_mb = path.stat().st_size / 1e6
            out = (
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "warehouse.bench",
                        "--child",
                        feed_name,
                        str(path),
                        dsn,
                        str(warmup),
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                    env={**os.environ, **settings.tool_env()},
                )
                .stdout.strip()
                .splitlines()[-1]
            )
            load = json.loads(out)
            rows_out.append(
                {
                    "scale": scale,
                    "feed": feed_name,
                    "file_mb": size_mb,
                    "rows": load["rows_in"],
                    "generate_s": gen_seconds,
                    "copy_rows_s": load["copy_rows"] / load["copy_seconds"],
                    "ingest_rows_s": load["rows_in"] / load["seconds"],
                    "ratio": load["ratio"],
                    "quarantined": load["rows_quarantined"],
                    "peak_mb": load["peak_mb"],
                }
            )
            shutil.rmtree(landing)
    finally:
        server.destroy()
        shutil.rmtree(work, ignore_errors=True)
    big, small = rows_out[-1], rows_out[0]
    ratio = big["ratio"]
    mem_ratio = big["peak_mb"] / small["peak_mb"]
    _write_markdown(rows_out, ratio, mem_ratio)
    for r in rows_out:
        print(
            f"scale {r['scale']}: {r['feed']} {r['rows']:,} rows ({r['file_mb']:.0f} MB): "
            f"COPY {r['copy_rows_s']:,.0f} rows/s, validated ingest {r['ingest_rows_s']:,.0f} "
            f"rows/s ({r['quarantined']:,} quarantined), peak {r['peak_mb']:.0f} MB"
        )
    print(f"ingest_vs_copy_ratio={ratio:.2f} peak_mem_ratio_scale4_vs_1={mem_ratio:.2f}")


def _write_markdown(rows: list[dict], ratio: float, mem_ratio: float) -> None:
    from warehouse.bench_build import replace_section

    marker = "## Ingestion (make bench)"
    lines = [
        marker,
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on "
        f"{platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} cores. "
        "Largest CSV feed joined into one file. In one process, after a warm-up load of "
        f"one monthly file: {RUNS} validated loads of the same rows (GX, quarantine, "
        "registry, partition attach), each between two plain COPYs of the file into an "
        "unindexed table of text columns. Rows/s are medians; the ratio is the median of "
        "each load against the mean of the COPYs either side of it (the machine is a "
        "shared VM whose speed drifts by tens of per cent within a minute). Peak memory is "
        "that process's peak RSS.",
        "",
        "| scale | feed | rows | MB | generate s | COPY rows/s | ingest rows/s | ratio | quarantined | peak MB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['scale']} | {r['feed']} | {r['rows']:,} | {r['file_mb']:.0f} | "
            f"{r['generate_s']:.0f} | {r['copy_rows_s']:,.0f} | {r['ingest_rows_s']:,.0f} | "
            f"{r['ratio']:.2f} | {r['quarantined']:,} | "
            f"{r['peak_mb']:.0f} |"
        )
    lines += [
        "",
        f"Targets: ratio >= 0.5 (measured {ratio:.2f} at scale 4); peak memory scale 4 / "
        f"scale 1 <= 1.5 (measured {mem_ratio:.2f}).",
        "",
    ]
    replace_section(marker, lines)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(*sys.argv[2:6])
    else:
        main()
