"""What ``warehouse run`` shows a person: one progress bar per stage, then a summary."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from warehouse.run import RunResult
from warehouse.settings import Settings

if TYPE_CHECKING:
    from warehouse.calibration import Figure

STAGES = {
    "generate": "generate feeds",
    "ingest": "load files",
    "dbt": "dbt nodes",
    "soda": "Soda contracts",
    "analytics": "analytics steps",
}
# units of work inside one step of a stage, shown in that stage's bar (stage, unit)
STEP_UNITS = {"forecast": ("analytics", "series")}


class StageProgress:
    """A ``warehouse.progress`` listener drawing one bar per stage as its work starts."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            TextColumn("{task.description:<15}"),
            BarColumn(bar_width=30),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.tasks: dict[str, Any] = {}
        self.rows: dict[str, int] = {}
        self.started: dict[str, float] = {}
        self.steps_done: dict[str, set[str]] = {}

    def __enter__(self) -> StageProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def _task(self, stage: str, total: int | None) -> Any:
        if stage not in self.tasks:
            self.started[stage] = time.monotonic()
            self.tasks[stage] = self.progress.add_task(STAGES[stage], total=total, detail="")
        elif total is not None:
            self.progress.update(self.tasks[stage], total=total)
        return self.tasks[stage]

    def __call__(self, stage: str, n: int, total: int | None, info: dict[str, Any]) -> None:
        if stage in STEP_UNITS:
            self._step_units(stage, n, total)
            return
        if stage not in STAGES:
            return
        if stage in self.tasks and self.progress.tasks[self.tasks[stage]].finished:
            return  # a finished bar stays as it was: the analytics steps' own dbt and Soda
            # runs after the transform are not the transform's nodes and contracts
        task = self._task(stage, total)
        detail = self.progress.tasks[task].fields.get("detail", "")
        if "rows" in info:
            self.rows[stage] = self.rows.get(stage, 0) + int(info["rows"] or 0)
            rate = self.rows[stage] / max(time.monotonic() - self.started[stage], 1e-6)
            detail = f"{self.rows[stage]:,} rows, {rate:,.0f} rows/s"
        if "step" in info:  # the step now running; none once the last is done
            n, detail = self._step(stage, str(info["step"]), n, total)
        self.progress.update(task, advance=n, detail=detail)

    def _step(self, stage: str, step: str, n: int, total: int | None) -> tuple[int, str]:
        """A step of ``stage`` starting (``n`` 0) or done (``n`` 1): the steps to count
        (a retried step counts once) and the bar's detail (the step, none after the last)."""
        done = self.steps_done.setdefault(stage, set())
        if n == 0:
            self.rows.pop(step, None)  # a step (re)starting counts its own units from 0
        elif step in done:
            n = 0
        else:
            done.add(step)
        return n, "" if len(done) >= (total or 0) > 0 else step

    def _step_units(self, step: str, n: int, total: int | None) -> None:
        """``n`` more units of a step (e.g. forecast series) into its stage's bar detail."""
        stage, unit = STEP_UNITS[step]
        if stage not in self.tasks:
            return
        done = self.rows[step] = self.rows.get(step, 0) + n
        of = f"/{total}" if total else ""
        self.progress.update(self.tasks[stage], detail=f"{step} {done}{of} {unit}")


def print_failures(console: Console, result: RunResult) -> None:
    console.print("[bold red]The run failed:[/]")
    for failure in result.failures:
        console.print(f"  [red]✗[/] {failure}")
    console.print(f"  full log: {result.log_dir / 'run.log'}  (dbt: {result.log_dir}/dbt.log)")


def print_summary(console: Console, settings: Settings, result: RunResult) -> None:
    """Per feed, then the rejected files and the commonest quarantine reasons, then one
    line each for dbt, Soda, conservation, calibration and timings."""
    from warehouse.pipeline import summarise

    summary = summarise(settings)
    feeds = Table(title="Feeds (latest load of each delivered file)", title_justify="left")
    for col in ("feed", "files", "rejected", "rows in", "loaded", "quarantined"):
        feeds.add_column(col, justify="left" if col == "feed" else "right")
    for feed, f in summary.feeds.items():
        feeds.add_row(
            feed,
            str(f["files"]),
            str(f["rejected"]) if f["rejected"] else "",
            f"{f['rows_in']:,}",
            f"{f['rows_loaded']:,}",
            f"{f['rows_quarantined']:,}",
        )
    console.print(feeds)
    for f in [f for f in summary.files if f["status"] == "rejected"][:8]:
        reason = (f["reason"] or "")[: max(20, 100 - len(f["file_name"]))]
        console.print(f"  [red]rejected[/] {f['file_name']}: {reason}")
    if summary.top_reasons:
        console.print("Commonest quarantine reasons (fields):")
        for reason, n in summary.top_reasons[:5]:
            console.print(f"  {n:>7,}  {reason[:100]}")
    marts = sum(summary.mart_counts.values())
    nodes = result.dbt_nodes
    soda = result.soda.get("contracts", {})
    console.print(
        f"[bold]dbt[/]: {sum(nodes.values())} nodes ({', '.join(f'{n} {s}' for s, n in sorted(nodes.items()))}) · "
        f"{len(summary.mart_counts)} marts, {marts:,} rows",
        soft_wrap=True,  # one line each, whatever the width: a reader (or a test) finds it
    )
    console.print(
        f"[bold]Soda[/]: {sum(c['passed'] for c in soda.values())} checks passed, "
        f"{sum(c['failed'] for c in soda.values())} failed, in {len(soda)} contracts · "
        f"[bold]conservation[/] holds for {result.loads_checked} file loads",
        soft_wrap=True,
    )
    _print_calibration(console, settings)
    stages = " · ".join(f"{k} {v:.0f}s" for k, v in result.seconds.items())
    console.print(f"[bold]pipeline[/]: {result.pipeline_seconds:.0f}s ({stages})", soft_wrap=True)
    info = settings.conninfo()
    console.print(
        f"[bold]Logs[/]: {result.log_dir}/\n"
        f"[bold]Warehouse[/]: database {info.dbname} at {info.host}:{info.port} · "
        f'psql "$(.venv/bin/warehouse db url)" · stop: make stop',
        soft_wrap=True,
    )


def _print_calibration(console: Console, settings: Settings) -> None:
    from warehouse.calibration import measure
    from warehouse.db import connect

    with connect(settings) as conn:
        figures = measure(conn, settings.scale)
    off = [f for f in figures if not f.ok]
    colour = "green" if not off else "red"
    console.print(
        f"[bold]Calibration[/]: [{colour}]{len(figures) - len(off)} of {len(figures)}[/] "
        "figures within tolerance, out of the marts (`make calibrate` prints them all)",
        soft_wrap=True,
    )
    for f in off:
        console.print(f"  [red]off[/] {f.name}: target {f.target}, actual {f.actual}")


def calibration_table(figures: list[Figure]) -> str:
    """A plain-text table of target vs actual (one line a figure)."""
    width = max(len(f.name) for f in figures)
    lines = [f"{'figure':<{width}}  {'target':>26}  {'actual':>24}  ok"]
    for f in figures:
        lines.append(
            f"{f.name:<{width}}  {f.target:>26}  {f.actual:>24}  {'yes' if f.ok else 'NO'}"
        )
    passed = sum(f.ok for f in figures)
    lines.append(f"{passed} of {len(figures)} figures within tolerance")
    return "\n".join(lines)
