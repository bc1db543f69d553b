"""The JSNA pack: per district, one self-contained HTML page and the same as a PDF, built from
the marts only, under the sharing layer's disclosure control.

The conductor (``build_pack``) runs one small function per section, in the order of the
issue, then the methods page (last: it lists the marts the sections read)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from warehouse import secret_files
from warehouse.report.methods import methods_section
from warehouse.report.model import Context, ReportError, Section
from warehouse.report.render import html_page, write_pdf
from warehouse.report.sections_analytics import (
    cost_complexity_section,
    evaluation_section,
    forecast_section,
    linkage_section,
)
from warehouse.report.sections_profile import (
    need_section,
    plans_section,
    spine_section,
    tiers_section,
    trends_section,
)
from warehouse.report.sections_services import (
    costs_section,
    partners_section,
    reoffending_section,
    wards_section,
)
from warehouse.settings import Settings
from warehouse.sharing.disclosure import Controls

SECTIONS: list[Callable[[Context], Section]] = [
    spine_section,
    trends_section,
    tiers_section,
    need_section,
    plans_section,
    wards_section,
    costs_section,
    cost_complexity_section,
    reoffending_section,
    evaluation_section,
    forecast_section,
    partners_section,
    linkage_section,
]


@dataclass(frozen=True)
class Pack:
    la_code: str
    la_name: str
    period: str
    html: Path
    pdf: Path
    charts: int

    def manifest_entries(self) -> list[dict]:
        return [
            {
                "file": p.name,
                "bytes": p.stat().st_size,
                "sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
                "kind": "report",
            }
            for p in (self.html, self.pdf)
        ]


def district_controls(la_code: str) -> tuple[Controls, str]:
    """The strictest disclosure control of the aggregate agreements that receive the
    district's figures (``agreements.receiving``: its CSP's, and every agreement not limited
    to another district), else the sharing layer's floors. The agreements receiving the
    pack declare the same (``agreements.all_agreements`` refuses them otherwise)."""
    from warehouse.sharing.agreements import all_agreements, receiving, strictest

    found = receiving(all_agreements(), la_code)
    if not found:
        return Controls(), "the sharing layer's floors"
    return strictest(found), "as agreed in " + ", ".join(f"agreements/{a.id}.yml" for a in found)


def _private(path: Path):  # type: ignore[no-untyped-def]
    """A pack file readable by this user only (created 0600, as the extracts are)."""
    return os.fdopen(secret_files.open_private(path), "wb")


def attach(conn, agreement, period: str, folder: Path) -> list[dict]:  # type: ignore[no-untyped-def]
    """The agreement's district pack written into a delivery folder, as manifest entries."""
    la_code = agreement.report_district()
    names = dict(districts(conn))
    if la_code not in names:
        raise ReportError(f"{agreement.id}: report: no district {la_code!r} in dim_district")
    pack = build_pack(conn, la_code, names[la_code], period, folder)
    return [
        {**entry, "district": la_code, "charts": pack.charts} for entry in pack.manifest_entries()
    ]


def districts(conn) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """The districts the JSNA profiles (dim_district also holds an 'UNKNOWN' member)."""
    return conn.execute(
        "select la_code, la_name from marts.dim_district where la_code in "
        "(select la_code from marts.jsna_district_profile) order by 1"
    ).fetchall()


def latest_period(settings: Settings) -> str:
    """The latest complete financial year of jsna_indicators, as ``2008-09``."""
    from warehouse.db import connect

    with connect(settings) as conn:
        (fy,) = conn.execute("select max(financial_year) from marts.jsna_indicators").fetchone()
    if fy is None:
        raise ReportError("marts.jsna_indicators holds no complete financial year")
    return fy.replace("/", "-")


def output_dir(settings: Settings, period: str) -> Path:
    return settings.home / "reports" / period


def build_pack(conn, la_code: str, la_name: str, period: str, out: Path) -> Pack:  # type: ignore[no-untyped-def]
    from warehouse.sharing.periods import financial_year

    controls, source = district_controls(la_code)
    ctx = Context(conn, la_code, la_name, period, financial_year(period), controls, source)
    sections = [make(ctx) for make in SECTIONS]
    sections.append(methods_section(ctx))
    page = html_page(la_code, la_name, ctx.fy, sections)
    out.mkdir(parents=True, exist_ok=True)
    html, pdf = out / f"jsna_pack_{la_code}.html", out / f"jsna_pack_{la_code}.pdf"
    with _private(html) as f:
        f.write(page.encode())
    with _private(pdf) as f:
        write_pdf(page, f)
    return Pack(la_code, la_name, period, html, pdf, sum(len(s.charts) for s in sections))


def _build_one(job: tuple[Settings, str, str, str, Path]) -> Pack:
    from warehouse.db import connect

    settings, code, name, period, out = job
    with connect(settings) as conn:
        return build_pack(conn, code, name, period, out)


def build_packs(
    settings: Settings, period: str, only: list[str] | None = None, workers: int | None = None
) -> list[Pack]:
    """Packs of every district (or those in ``only``) for the period, ``workers`` at a time
    (default: one per CPU, at most 4; each worker has its own connection)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from warehouse.db import connect
    from warehouse.sharing.periods import financial_year

    fy = financial_year(period)  # a bad period is refused before any work
    with connect(settings) as conn:
        known = districts(conn)
        years = [
            y
            for (y,) in conn.execute(
                "select distinct financial_year from marts.jsna_indicators order by 1"
            )
        ]
    if fy not in years:
        raise ReportError(
            f"period {period}: not a complete financial year of the marts (jsna_indicators "
            f"holds {', '.join(years) or 'none'})"
        )
    if only:
        unknown = sorted(set(only) - {code for code, _ in known})
        if unknown:
            raise ReportError(
                f"unknown district(s) {', '.join(unknown)}; known: "
                + ", ".join(code for code, _ in known)
            )
        known = [(c, n) for c, n in known if c in only]
    jobs = [(settings, code, name, period, output_dir(settings, period)) for code, name in known]
    workers = min(len(jobs), workers or min(4, os.cpu_count() or 1))
    if workers <= 1:
        return [_build_one(job) for job in jobs]
    # spawn, not fork: a forked worker would share the caller's open database connections
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        return list(pool.map(_build_one, jobs))
