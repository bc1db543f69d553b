"""``warehouse``: the command line. Each command is a thin front to package functions."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from warehouse.settings import PROJECT_ROOT, Settings, get_settings

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
    from warehouse.pipeline import generate as run

    settings = get_settings()
    with console.status("generating synthetic feeds…"):
        report = run(settings, out, scale, seed, dirt)
    console.print(
        f"wrote {len(report.files)} files, {report.total_rows:,} rows to {report.out_dir}"
    )


@app.command()
def ingest(
    feed: Annotated[str | None, typer.Option(help="one feed (default: all)")] = None,
    period: Annotated[str | None, typer.Option(help="only files of this period")] = None,
) -> None:
    """Validate and load new files from the landing folder (without Airflow)."""
    from ingestion.feeds import ALL_FEEDS
    from warehouse.pipeline import ingest_feed

    settings = get_settings()
    names = [feed] if feed else [f.name for f in ALL_FEEDS]
    for name in names:
        with console.status(f"ingesting {name}…"):
            results = ingest_feed(settings, name, period)
        loaded = sum(r.rows_loaded for r in results)
        quarantined = sum(r.rows_quarantined for r in results)
        console.print(
            f"{name}: {len(results)} file(s), {loaded:,} loaded, {quarantined:,} quarantined"
        )


@app.command()
def build() -> None:
    """dbt build (seeds, models, tests), then the Soda contracts (without Airflow)."""
    from warehouse.quality import verify_contracts
    from warehouse.transform import run_dbt

    settings = get_settings()
    with console.status("dbt build…"):
        report = run_dbt(settings, "build")
    console.print(
        f"dbt: {report.count('model', 'success')} models, {report.count('seed', 'success')} seeds, "
        f"{report.count('test', 'pass')} tests passed"
    )
    with console.status("Soda contracts…"):
        soda = verify_contracts(settings)
    console.print(f"Soda: {soda.checks_passed} checks passed in {len(soda.results)} contract(s)")


@app.command()
def calibrate() -> None:
    """Print the calibration figures (../shared/calibration.md): target vs actual, from the marts."""
    from warehouse.calibration import measure, table
    from warehouse.db import connect

    settings = get_settings()
    with connect(settings) as conn:
        figures = measure(conn, settings.scale)
    console.print(table(figures), markup=False, highlight=False)
    if not all(f.ok for f in figures):
        raise typer.Exit(1)


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
    from warehouse.sharing.extract import ShareError
    from warehouse.sharing.extract import share as run_share
    from warehouse.sharing.pseudonymise import MissingKeyError

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
    settings = get_settings()
    table = Table(title=f"Deliveries for {period}")
    for col in ("agreement", "level", "files", "rows", "folder"):
        table.add_column(col, justify="right" if col in ("files", "rows") else "left")
    for a in agreements:
        try:
            with console.status(f"{a.id}…"):
                d = run_share(settings, a, period)
        except (ShareError, MissingKeyError) as exc:
            _fail(f"{a.id}: {exc}")
        rows = sum(f["rows"] for f in d.files)
        table.add_row(a.id, a.level, str(len(d.files)), f"{rows:,}", str(d.folder))
    console.print(table)


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
    """Write the Great Expectations suites in expectations/gx/ from the declared feed schemas."""
    from ingestion.feeds import ALL_FEEDS
    from ingestion.validation import write_suite

    for feed in ALL_FEEDS:
        console.print(f"wrote {write_suite(feed).relative_to(PROJECT_ROOT)}")


@app.command()
def docs() -> None:
    """Generate and serve the dbt docs on http://127.0.0.1:8080."""
    from warehouse.transform import run_dbt

    settings = get_settings()
    run_dbt(settings, "docs", "generate")
    run_dbt(settings, "docs", "serve", "--port", "8080", "--host", "127.0.0.1")


# -- the whole pipeline through Airflow ---------------------------------------------------
def _run_dag(dags: dict[str, Any], dag_id: str) -> Any:
    started = time.monotonic()
    with console.status(f"Airflow: running DAG [bold]{dag_id}[/]…"):
        run = dags[dag_id].test()
    state = str(getattr(run, "state", "unknown"))
    colour = "green" if state == "success" else "red"
    console.print(f"  DAG {dag_id}: [{colour}]{state}[/] in {time.monotonic() - started:.0f}s")
    if state != "success":
        _fail(f"DAG {dag_id} ended {state}; see the task logs above")
    return run


@app.command()
def run(
    skip_generate: Annotated[
        bool, typer.Option("--skip-generate", help="use files already in the landing folder")
    ] = False,
) -> None:
    """Start the warehouse, generate the data and run every DAG through Airflow; print a summary."""
    from warehouse import airflow_local
    from warehouse.pipeline import assert_conservation

    settings = get_settings()
    t0 = time.monotonic()
    if settings.is_local:
        from warehouse.localdb import start_local
        from warehouse.sharing.pseudonymise import create_local_keys

        with console.status("starting the local warehouse PostgreSQL…"):
            start_local(settings)
            create_local_keys(settings)  # for record-level agreements, outside git
        console.print(f"[1/5] warehouse up on {settings.host}:{settings.port}")
    else:
        console.print("[1/5] using the external warehouse from WAREHOUSE_DSN")
    if not skip_generate:
        from warehouse.pipeline import generate as gen

        with console.status(f"[2/5] generating synthetic feeds (scale {settings.scale})…"):
            report = gen(settings)
        console.print(f"[2/5] generated {len(report.files)} files, {report.total_rows:,} rows")
    with console.status("[3/5] preparing Airflow (SQLite metadata, db migrate)…"):
        airflow_local.configure(settings)
        airflow_local.migrate(settings)
        logging.getLogger("airflow").setLevel(logging.WARNING)
        dags = airflow_local.load_dags()
    console.print(f"[3/5] Airflow ready: {len(dags)} DAGs")
    console.print("[4/5] ingestion DAGs")
    for dag_id in sorted(d for d in dags if d.startswith("ingest_")):
        _run_dag(dags, dag_id)
    console.print("[5/5] transform DAG (dbt via Cosmos, then Soda)")
    transform = _run_dag(dags, "transform")
    checked = assert_conservation(settings)
    _print_summary(settings, transform, checked, time.monotonic() - t0)
    from warehouse.calibration import measure, table
    from warehouse.db import connect

    with connect(settings) as conn:
        figures = measure(conn, settings.scale)
    console.print("\nCalibration (../shared/calibration.md), target vs actual out of the marts:")
    console.print(table(figures), markup=False, highlight=False)


def _task_counts(dag_run: Any) -> dict[str, int]:
    counts = {"models": 0, "seeds": 0, "tests": 0, "failed": 0}
    for ti in dag_run.get_task_instances():
        state = str(ti.state)
        if state != "success":
            counts["failed"] += state in ("failed", "upstream_failed")
            continue
        tid = ti.task_id
        if tid.endswith(".test") or "_test" in tid.rsplit(".", 1)[-1]:
            counts["tests"] += 1
        elif tid.endswith("_seed") or tid.endswith(".seed"):
            counts["seeds"] += 1
        elif tid.endswith(".run") or tid.endswith("_run"):
            counts["models"] += 1
    return counts


def _print_summary(settings: Settings, transform: Any, checked: int, seconds: float) -> None:
    from warehouse.pipeline import summarise

    summary = summarise(settings)
    table = Table(title="Files (latest load of each delivered file)", show_lines=False)
    for col in ("file", "status", "rows in", "loaded", "quarantined", "reason"):
        table.add_column(
            col, justify="right" if col.startswith(("rows", "loaded", "quar")) else "left"
        )
    for f in summary.files:
        colour = {"loaded": "green", "rejected": "red"}.get(f["status"], "yellow")
        table.add_row(
            f["file_name"],
            f"[{colour}]{f['status']}[/]",
            f"{f['rows_in']:,}",
            f"{f['rows_loaded']:,}",
            f"{f['rows_quarantined']:,}",
            (f["reason"] or "")[:70],
        )
    console.print(table)
    totals = Table(title="Totals")
    totals.add_column("what")
    totals.add_column("count", justify="right")
    for name, n in {**summary.raw_counts, **summary.mart_counts}.items():
        totals.add_row(name, f"{n:,}")
    totals.add_row("rows quarantined", f"{sum(f['rows_quarantined'] for f in summary.files):,}")
    totals.add_row("files rejected", str(sum(f["status"] == "rejected" for f in summary.files)))
    console.print(totals)
    if summary.top_reasons:
        reasons = Table(title="Most common quarantine reasons")
        reasons.add_column("reason")
        reasons.add_column("fields", justify="right")
        for reason, n in summary.top_reasons:
            reasons.add_row(reason, f"{n:,}")
        console.print(reasons)
    counts = _task_counts(transform)
    soda = next(
        (
            ti.xcom_pull(task_ids="soda_contracts")
            for ti in transform.get_task_instances()
            if ti.task_id == "soda_contracts"
        ),
        None,
    )
    soda_passed = sum(c["passed"] for c in (soda or {}).get("contracts", {}).values())
    info = settings.conninfo()
    console.print(
        f"\n[bold]dbt[/]: {counts['seeds']} seeds and {counts['models']} models built, "
        f"{counts['tests']} test tasks passed · [bold]Soda[/]: {soda_passed} checks passed · "
        f"conservation holds for {checked} file loads · {seconds:.0f}s in all"
    )
    console.print(
        f"\n[bold]Outputs[/]: schemas raw, staging, marts, reference and audit in database "
        f"[cyan]{info.dbname}[/] at {info.host}:{info.port}\n"
        f"  landing folder: {settings.landing_dir}\n"
        f'[bold]Connect[/]: psql "$(.venv/bin/warehouse db url)"   '
        f"(user {info.user}; the password is in {settings.secrets_dir}/)\n"
        f"[bold]Stop[/]: make stop"
    )


def main() -> None:  # pragma: no cover - console script entry
    os.environ.setdefault("DO_NOT_TRACK", "1")
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
