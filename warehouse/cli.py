"""``warehouse``: the command line. Each command is a thin front to package functions."""

from __future__ import annotations

import os
import sys
import traceback
import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from warehouse.settings import PROJECT_ROOT, get_settings

# platformdirs (imported by Airflow) warns once per process when run as root without a
# login session; it is noise on the console of `make run`
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
app = typer.Typer(help="Probation commissioning analytics warehouse.", no_args_is_help=True)
db_app = typer.Typer(help="The local warehouse PostgreSQL.", no_args_is_help=True)
app.add_typer(db_app, name="db")
console = Console(width=None if sys.stdout.isatty() else 160)


def _fail(message: str) -> None:
    console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(1)


# -- db -----------------------------------------------------------------------------------
@db_app.command("start")
def db_start() -> None:
    """Start the local warehouse (initialising it on first use)."""
    settings = get_settings()
    if not settings.is_local:
        _fail("WAREHOUSE_DSN is set: the warehouse is external, nothing to start")
    from warehouse.localdb import LocalPostgresError, start_local

    try:
        start_local(settings)
    except LocalPostgresError as exc:
        _fail(str(exc))
    console.print(f"warehouse running on {settings.host}:{settings.port}")


@db_app.command("stop")
def db_stop() -> None:
    """Stop the local warehouse (data is kept)."""
    from warehouse.localdb import for_settings

    stopped = for_settings(get_settings()).stop()
    console.print("warehouse stopped" if stopped else "warehouse was not running")


@db_app.command("status")
def db_status() -> None:
    """Say whether the warehouse is up and where."""
    settings = get_settings()
    from warehouse.db import connect

    info = settings.conninfo()
    try:
        with connect(settings) as conn:
            version = conn.execute("show server_version").fetchone()[0]
    except Exception as exc:  # noqa: BLE001 - report any connection problem plainly
        console.print(f"warehouse at {info.host}:{info.port} is [red]not reachable[/]: {exc}")
        raise typer.Exit(1) from None
    console.print(
        f"warehouse at {info.host}:{info.port} db={info.dbname} is [green]up[/] "
        f"(PostgreSQL {version})"
    )


@db_app.command("url")
def db_url() -> None:
    """Print a DSN for psql, BI tools and SQLAlchemy (contains the local password)."""
    typer.echo(get_settings().conninfo().url())


# -- steps --------------------------------------------------------------------------------
@app.command()
def generate(
    scale: Annotated[float, typer.Option(help="1 = Greater Manchester size")] = 1.0,
    seed: Annotated[int | None, typer.Option(help="random seed (default from settings)")] = None,
    out: Annotated[Path | None, typer.Option(help="folder (default: the landing folder)")] = None,
    dirt: Annotated[float | None, typer.Option(help="share of rows given a fault")] = None,
) -> None:
    """Write the synthetic feeds (deterministic for a seed)."""
    from warehouse import pipeline

    settings = get_settings()
    with console.status("generating synthetic feeds…"):
        report = pipeline.generate_landing(settings, out, scale, seed, dirt)
    console.print(
        f"wrote {len(report.files)} files, {report.total_rows:,} rows to {report.out_dir}"
    )


@app.command()
def ingest(
    feed: Annotated[str | None, typer.Option(help="one feed (default: all)")] = None,
    period: Annotated[str | None, typer.Option(help="only files of this period")] = None,
    workers: Annotated[int, typer.Option(help="feeds loaded at a time")] = 2,
) -> None:
    """Validate and load new files from the landing folder (without Airflow).

    Every feed runs even when one fails; the command then exits 1 naming each path that
    could not be processed (bad data is not a failure: it is quarantined or rejected)."""
    from warehouse import pipeline

    failed: list[str] = []
    with console.status(f"ingesting ({workers} feed(s) at a time)…"):
        for name, results, broken in pipeline.ingest_all(get_settings(), feed, period, workers):
            failed += broken
            loaded = sum(r.rows_loaded for r in results)
            quarantined = sum(r.rows_quarantined for r in results)
            rejected = sum(r.status == "rejected" for r in results)
            console.print(
                f"{name}: {len(results)} file(s), {loaded:,} loaded, {quarantined:,} quarantined"
                + (f", {rejected} rejected" if rejected else "")
            )
    if failed:
        _fail(f"{len(failed)} path(s) could not be processed:\n" + "\n".join(failed))


@app.command()
def build() -> None:
    """dbt build (seeds, models, tests), then the Soda contracts (without Airflow)."""
    from warehouse.quality import verify_contracts
    from warehouse.transform import parse, run_dbt

    settings = get_settings()
    with console.status("dbt build…"):
        parse(settings)  # the manifests `mf query` reads (a build leaves them as they are)
        report = run_dbt(settings, "build")
    console.print(
        f"dbt: {report.count('model', 'success')} models, {report.count('seed', 'success')} seeds, "
        f"{report.count('test', 'pass')} tests passed"
    )
    with console.status("Soda contracts…"):
        soda = verify_contracts(settings)
    console.print(f"Soda: {soda.checks_passed} checks passed in {len(soda.results)} contract(s)")


@app.command()
def link(
    measure: Annotated[
        bool, typer.Option("--measure", help="also score the links against the planted truth")
    ] = False,
) -> None:
    """Partner record linkage (Splink): DAT and Supporting People records -> offenders,
    then dbt build of its marts and their Soda contracts (the analytics DAG's `link`)."""
    from warehouse.analytics.steps import get_step, run_step

    settings = get_settings()
    with console.status("linking partner records…"):
        figures = run_step(settings, get_step("link"))
        if measure:
            from warehouse.analytics.linkage import score

            figures.update(score(settings))
    for name, value in figures.items():
        console.print(f"{name}={value}", markup=False, highlight=False)


@app.command()
def calibrate() -> None:
    """Print the calibration figures (../shared/calibration.md): target vs actual, from the marts."""
    from warehouse.calibration import measure
    from warehouse.db import connect
    from warehouse.display import calibration_table

    settings = get_settings()
    with connect(settings) as conn:
        figures = measure(conn, settings.scale)
    console.print(calibration_table(figures), markup=False, highlight=False)
    if not all(f.ok for f in figures):
        raise typer.Exit(1)


@app.command()
def evaluate(
    intervention: Annotated[str, typer.Option(help="requirement type, e.g. PROG")],
    cohort: Annotated[str, typer.Option(help="cohort financial year, e.g. 2006 or 2006/07")],
) -> None:
    """Matched impact evaluation (Justice Data Lab style) of one intervention for one cohort."""
    from warehouse.analytics.evaluation import (
        EvaluationRefused,
        evaluate_intervention,
        what_you_can_say,
    )

    try:
        with console.status("matching…"):
            ev = evaluate_intervention(get_settings(), intervention, cohort)
    except EvaluationRefused as exc:
        _fail(str(exc))
    table = Table(
        title=f"{ev.intervention}, cohort {ev.cohort_year}: {ev.participants} participants"
    )
    for col in ("outcome", "participants", "comparison", "difference (95 % CI)", "p", "naive"):
        table.add_column(col)
    for name, c, naive in (
        ("binary", ev.binary, ev.naive_binary),
        ("frequency", ev.frequency, ev.naive_frequency),
    ):
        table.add_row(
            name,
            f"{c.treated_mean:.3f} ({c.treated_ci[0]:.3f}-{c.treated_ci[1]:.3f})",
            f"{c.control_mean:.3f} ({c.control_ci[0]:.3f}-{c.control_ci[1]:.3f})",
            f"{c.difference:+.3f} ({c.difference_ci[0]:+.3f} to {c.difference_ci[1]:+.3f})",
            f"{c.p_value:.3g}",
            f"{naive[1]:+.3f}",
        )
    console.print(table)
    before, after = ev.max_smd
    console.print(
        f"matched {len(ev.matched.treated)} of {ev.participants} (pool {ev.comparison_pool}); "
        f"largest |SMD| {before:.3f} before, {after:.3f} after matching"
    )
    console.print(what_you_can_say(ev))


@app.command()
def analytics(
    step: Annotated[str | None, typer.Option(help="one step (default: all)")] = None,
) -> None:
    """The analytics steps without Airflow: run, dbt build of their marts, Soda contracts."""
    from warehouse.analytics.steps import STEPS, get_step, run_step

    settings = get_settings()
    for s in [get_step(step)] if step else STEPS:
        with console.status(f"{s.name}…"):
            figures = run_step(settings, s)
        console.print(f"{s.name}: {figures}")


@app.command()
def report(
    district: Annotated[
        list[str] | None, typer.Option(help="a district code, e.g. E08000001 (repeatable)")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="every district")] = False,
    period: Annotated[str, typer.Option(help="financial year, e.g. 2008-09")] = "2008-09",
) -> None:
    """The JSNA pack: per district one HTML page and the same as a PDF, from the marts."""
    import time

    from warehouse.report import ReportError, build_packs
    from warehouse.sharing.periods import ShareError

    if bool(district) == all_:
        _fail("name a --district or pass --all")
    started = time.monotonic()
    try:
        with console.status("writing the JSNA packs…"):
            packs = build_packs(get_settings(), period, None if all_ else district)
    except (ReportError, ShareError) as exc:
        _fail(str(exc))
    table = Table(title=f"JSNA packs for {period}")
    for col in ("district", "charts", "html", "pdf"):
        table.add_column(col, justify="right" if col == "charts" else "left")
    for p in packs:
        table.add_row(f"{p.la_code} {p.la_name}", str(p.charts), str(p.html), str(p.pdf))
    console.print(table)
    folders = sorted({str(p.html.parent) for p in packs})
    console.print(
        f"{len(packs)} pack(s) (HTML + PDF) in {time.monotonic() - started:.1f} s, in "
        + ", ".join(folders),
        soft_wrap=True,
    )


@app.command()
def share(
    agreement: Annotated[
        str | None, typer.Argument(help="agreement id (a file in agreements/)")
    ] = None,
    period: Annotated[str, typer.Option(help="financial year, e.g. 2008-09")] = "2008-09",
    all_: Annotated[bool, typer.Option("--all", help="every agreement")] = False,
    check: Annotated[
        bool, typer.Option("--check", help="only validate the agreement files")
    ] = False,
    purge: Annotated[
        bool, typer.Option("--purge-expired", help="remove outbox deliveries past retention")
    ] = False,
) -> None:
    """Write a partner extract (files + manifest) to the outbox and log the delivery."""
    from warehouse.sharing.agreements import AgreementError, all_agreements, get_agreement

    if purge:
        from datetime import date

        from warehouse.sharing.extract import purge_expired

        for folder in purge_expired(get_settings(), date.today()):
            console.print(f"removed {folder} (past its retention)")
        return
    if bool(agreement) == all_:
        _fail("name one agreement or pass --all")
    try:
        agreements = all_agreements() if all_ else [get_agreement(agreement or "")]
    except AgreementError as exc:
        _fail(str(exc))
    if check:
        console.print(f"{len(agreements)} agreement(s) valid")
        return
    _share_and_report(get_settings(), agreements, period)


def _share_and_report(settings, agreements: list, period: str) -> None:  # type: ignore[no-untyped-def]
    """Every agreement, two at a time; a table of the deliveries, then each failure named."""
    from warehouse.sharing import extract

    table = Table(title=f"Deliveries for {period}")
    for col in ("agreement", "level", "files", "rows", "folder"):
        table.add_column(col, justify="right" if col in ("files", "rows") else "left")
    done: dict[str, extract.Delivery | Exception] = {}
    with console.status(f"{len(agreements)} agreement(s), two at a time…"):
        for a, outcome in extract.share_all(settings, agreements, period):
            done[a.id] = outcome
    for a in agreements:
        d = done[a.id]
        if not isinstance(d, Exception):
            rows = sum(f["rows"] for f in d.files)
            table.add_row(a.id, a.level, str(len(d.files)), f"{rows:,}", str(d.folder))
    console.print(table)
    failed = [f"{a.id}: {done[a.id]}" for a in agreements if isinstance(done[a.id], Exception)]
    if failed:  # every agreement was tried; each failure is named
        _fail("\n".join(failed))


@app.command()
def keys() -> None:
    """Create local pseudonymisation keys (local warehouse only) for record-level agreements."""
    from warehouse.sharing.pseudonymise import create_local_keys, env_name

    settings = get_settings()
    if not settings.is_local:
        _fail("WAREHOUSE_DSN is set: give each key in the environment (WAREHOUSE_SHARE_KEY_...)")
    for key_id, path in create_local_keys(settings).items():
        console.print(f"key {key_id}: {path} (or set {env_name(key_id)})")


@app.command()
def access() -> None:
    """Create the BI roles and district logins; grant and protect every mart (idempotent)."""
    from warehouse.access import ensure_access

    settings = get_settings()
    logins = ensure_access(settings)
    info = settings.conninfo()
    table = Table(title=f"BI logins on {info.host}:{info.port}/{info.dbname}")
    for col in ("role", "sees", "password"):
        table.add_column(col)
    for login in logins:
        where = (
            "no login (set WAREHOUSE_BI_PASSWORD_...)"
            if login.password is None
            else (
                f"{settings.secrets_dir}/{login.role}_password"
                if settings.is_local
                else "(from env)"
            )
        )
        table.add_row(login.role, login.la_code or "every district", where)
    console.print(table)


@app.command()
def expectations() -> None:
    """Write the GX suites (expectations/gx/) from the declared feed schemas and the Soda
    contracts (expectations/soda/contracts/) from the marts' dbt contracts + overlay.yml."""
    from ingestion.feeds import ALL_FEEDS
    from ingestion.validation import write_suite
    from warehouse.soda_contracts import write_contracts

    for feed in ALL_FEEDS:
        console.print(f"wrote {write_suite(feed).relative_to(PROJECT_ROOT)}")
    for path in write_contracts():
        console.print(f"wrote {path.relative_to(PROJECT_ROOT)}")


@app.command()
def docs() -> None:
    """Generate and serve the dbt docs on http://127.0.0.1:8080."""
    from warehouse.transform import run_dbt

    settings = get_settings()
    run_dbt(settings, "docs", "generate")
    run_dbt(settings, "docs", "serve", "--port", "8080", "--host", "127.0.0.1")


# -- the whole pipeline through Airflow ---------------------------------------------------
@app.command()
def run(
    skip_generate: Annotated[
        bool, typer.Option("--skip-generate", help="use files already in the landing folder")
    ] = False,
) -> None:
    """Start the warehouse, generate the data and run every DAG through Airflow; print a summary."""
    from warehouse import progress
    from warehouse.display import StageProgress, print_failures, print_summary
    from warehouse.run import new_run_id, output_to, run_pipeline

    settings = get_settings()
    log_file = settings.home / "logs" / new_run_id() / "run.log"
    failure: Exception | None = None
    with output_to(log_file) as terminal:
        screen = Console(file=terminal, width=None if terminal.isatty() else 120)
        where = "local PostgreSQL" if settings.is_local else "WAREHOUSE_DSN"
        screen.print(f"warehouse run: scale {settings.scale:g}, warehouse {where}")
        with StageProgress(screen) as display:
            progress.listen(display)
            try:
                result = run_pipeline(settings, skip_generate, log_dir=log_file.parent)
            except Exception as exc:  # a run that could not go on: the generator, Airflow's set-up
                failure = exc
            finally:
                progress.stop_listening(display)
        if failure is not None:
            # after the display: while it is live, rich sends stderr to a terminal's screen
            traceback.print_exception(failure, file=sys.stderr)  # into the run's log
            failed = progress.first_error_line(failure)
            screen.print(f"[bold red]run failed[/]: {failed}\nLog: {log_file}", soft_wrap=True)
            raise typer.Exit(1)
        if not result.ok:
            print_failures(screen, result)
            raise typer.Exit(1)
        print_summary(screen, settings, result)


def main() -> None:  # pragma: no cover - the console script `warehouse` (pyproject.toml)
    os.environ.setdefault("DO_NOT_TRACK", "1")
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
