"""The JSNA packs of the default warehouse, checked as a reader would: every page opened in
headless Chromium (Debian's, through Playwright), every PDF page rasterised by pdftoppm,
and both scanned for direct identifiers and unsuppressed small counts."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ingestion.feeds import ALL_FEEDS
from warehouse.report import Pack, build_packs

pytestmark = pytest.mark.integration

PERIOD = "2008-09"
A4_WIDTH_PX = 794  # 210 mm at 96 px per inch
SYSTEM_PACKAGES = Path(__file__).parents[1] / "system_packages.sh"


@pytest.fixture(scope="session")
def packs(default_warehouse, period_deliveries) -> list[Pack]:
    """Every district's pack for the period, as ``warehouse share --all`` delivered them to
    the community safety partnerships (fixture period_deliveries: rendering a pack takes
    seconds, and each district's is rendered there already). That ``warehouse report``
    builds the same bytes: test_report_builds_the_packs_the_partnerships_receive."""
    import json

    from warehouse.db import connect

    with connect(default_warehouse) as conn:
        names = dict(conn.execute("select la_code, la_name from marts.dim_district").fetchall())
    found = []
    for delivery in period_deliveries.values():
        entries = json.loads(delivery.manifest.read_text()).get("report", [])
        files = {Path(e["file"]).suffix: delivery.folder / e["file"] for e in entries}
        if entries:
            code = entries[0]["district"]
            found.append(
                Pack(code, names[code], PERIOD, files[".html"], files[".pdf"], entries[0]["charts"])
            )
    return sorted(found, key=lambda p: p.la_code)


def test_report_builds_the_packs_the_partnerships_receive(default_warehouse, packs):
    # WHEN `warehouse report` builds two districts' packs, in two processes
    delivered = {p.la_code: p for p in packs}
    two = sorted(delivered)[:2]
    built = build_packs(default_warehouse, PERIOD, only=two, workers=2)
    # THEN each is byte for byte the pack that district's partnership received
    assert sorted(p.la_code for p in built) == two
    for p in built:
        same = delivered[p.la_code]
        assert p.html.read_bytes() == same.html.read_bytes(), p.la_code
        assert p.pdf.read_bytes() == same.pdf.read_bytes(), p.la_code
        assert (p.la_name, p.charts) == (same.la_name, same.charts)


@pytest.fixture(scope="session")
def browser():
    check = subprocess.run([str(SYSTEM_PACKAGES)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr  # says exactly what to install
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=shutil.which("chromium"), args=["--no-sandbox"]
        )
        yield chromium
        chromium.close()


def test_every_district_has_an_html_and_a_pdf_pack_with_ten_charts(default_warehouse, packs):
    from warehouse.db import connect

    with connect(default_warehouse) as conn:
        (districts,) = conn.execute(  # dim_district also has an UNKNOWN member: no pack
            "select count(distinct la_code) from marts.jsna_district_profile"
        ).fetchone()
    assert len(packs) == districts == 10
    for p in packs:
        assert p.html.stat().st_size > 0 and p.pdf.read_bytes()[:5] == b"%PDF-"
        html = p.html.read_text()
        assert html.count('<figure class="chart"') == p.charts >= 10, p.la_code
        assert "src=" not in html and "<link" not in html  # self-contained


READER_CHECK = """() => {
  const out = {charts: [], emptyCharts: [], overflow: [], brokenImages: []};
  for (const fig of document.querySelectorAll('figure.chart')) {
    const marks = [...fig.querySelectorAll('[id*="-mark-"]')].filter(el => {
      const b = el.getBBox(); return b.width > 0 || b.height > 0; });
    out.charts.push(fig.dataset.chart);
    if (marks.length === 0) out.emptyCharts.push(fig.dataset.chart);
  }
  for (const el of document.querySelectorAll('p, td, th, h1, h2, figcaption, caption')) {
    if (el.scrollWidth > el.clientWidth + 1) out.overflow.push(el.textContent.slice(0, 60));
  }
  for (const img of document.images) {
    if (!img.complete || img.naturalWidth === 0) out.brokenImages.push(img.src);
  }
  out.pageWidth = document.documentElement.scrollWidth;
  return out;
}"""


def test_every_pack_reads_cleanly_in_chromium(packs, browser):
    page = browser.new_page(viewport={"width": A4_WIDTH_PX, "height": 1123})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
    for p in packs:
        page.goto(p.html.as_uri())
        found = page.evaluate(READER_CHECK)
        assert errors == [], (p.la_code, errors)
        assert len(found["charts"]) == p.charts >= 10, p.la_code
        assert found["emptyCharts"] == [], (p.la_code, found["emptyCharts"])
        assert found["overflow"] == [], (p.la_code, found["overflow"])
        assert found["brokenImages"] == [], p.la_code
        assert found["pageWidth"] <= A4_WIDTH_PX, (p.la_code, found["pageWidth"])
    page.close()


def test_every_pdf_page_has_content(packs, tmp_path):
    from PIL import Image

    for p in packs:
        prefix = tmp_path / p.la_code
        subprocess.run(["pdftoppm", "-r", "20", "-png", str(p.pdf), str(prefix)], check=True)
        pages = sorted(tmp_path.glob(f"{p.la_code}*.png"))
        assert len(pages) >= 3, p.la_code
        for png in pages:
            gray = Image.open(png).convert("L")
            inked = sum(1 for v in gray.getdata() if v < 200)
            assert inked > 0.002 * gray.width * gray.height, (p.la_code, png.name)


# -- no direct identifier, no small count ----------------------------------------------------
def _identifier_patterns() -> list[re.Pattern]:
    """From the feed declarations' personal columns: their patterns (CRN, PNC, postcode),
    and, for the dates of birth, any date in their declared range of years (the pack's own
    load times are later)."""
    out = []
    for feed in ALL_FEEDS:
        for col in feed.columns:
            if col.personal and col.pattern and len(col.pattern) > 12:  # not 2-letter initials
                out.append(re.compile(r"\b" + col.pattern.strip("^$") + r"\b"))
            elif col.personal and col.type == "date":
                first, last = int(str(col.min_value)[:4]), int(str(col.max_value)[:4])
                years = "|".join(str(y) for y in range(first, last + 1))
                out.append(
                    re.compile(rf"\b(?:{years})-\d{{2}}-\d{{2}}\b|\b\d{{2}}/\d{{2}}/(?:{years})\b")
                )
    return out


def _full_names(landing: Path) -> set[str]:
    names = set()
    # loaded files are moved to processed/ (rejected ones to rejected/)
    for path in sorted(landing.rglob("ndelius_offenders_*.csv"))[:12]:
        with path.open(newline="", encoding="utf-8", errors="replace") as f:
            for row in csv.DictReader(f):
                if row.get("FIRST_NAME") and row.get("SURNAME"):
                    names.add(f"{row['FIRST_NAME']} {row['SURNAME']}".lower())
    return names


def test_no_direct_identifier_and_no_small_count_in_any_pack(default_warehouse, packs, browser):
    patterns, names = _identifier_patterns(), _full_names(default_warehouse.landing_dir)
    assert len(patterns) >= 4 and len(names) > 100  # the check has something to look for
    page = browser.new_page()
    for p in packs:
        page.goto(p.html.as_uri())
        pdf_text = subprocess.run(
            ["pdftotext", "-layout", str(p.pdf), "-"], capture_output=True, text=True, check=True
        ).stdout
        for text in (page.inner_text("body"), pdf_text):
            hits = [m.group(0) for pat in patterns for m in pat.finditer(text)]
            assert hits == [], (p.la_code, hits[:5])
            lowered = " ".join(text.lower().split())
            assert [n for n in names if n in lowered] == [], p.la_code
        counts = page.eval_on_selector_all("td.count", "cells => cells.map(c => c.textContent)")
        assert counts, p.la_code
        for value in counts:
            if value.strip() != "*":
                n = int(value.replace(",", ""))
                assert n == 0 or n >= 8, (p.la_code, value)
                assert n % 5 == 0, (p.la_code, value)  # rounded as the agreement says
    page.close()


def test_the_packs_read_only_marts_the_jsna_pack_dag_waits_for(packs):
    from warehouse.analytics.steps import STEPS
    from warehouse.orchestration import REPORT_MARTS

    waited = set(REPORT_MARTS) | {m for step in STEPS for m in step.marts}
    for p in packs:
        found = re.search(r"Built from the warehouse marts only \(([^)]*)\)", p.html.read_text())
        assert found, p.la_code
        read = {m.strip() for m in found.group(1).split(",")}
        assert read and read <= waited, read - waited
