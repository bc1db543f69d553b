"""Attack every aggregate delivery of a period as a recipient holding all of them would.

The attacker reads the published files (every aggregate agreement, every file), knows how
they are made (which counts add up to which, which rates are computed from which counts,
the threshold and rounding of each agreement: they are in the manifests) and solves for
each suppressed or rounded count its feasible range by integer linear programming
(scipy ``milp``): the smallest and largest true value consistent with everything
published. What the attacker uses:

- a published count R rounded to base b: the true count is in [R - b//2, R + b - 1 - b//2],
  and is 0 or at least the threshold (smaller counts would have been suppressed);
- a suppressed count (``*``): at least 1 (zeros are shown);
- every table adds up along its rows and columns to its totals (a table whose row total is
  a distinct count, e.g. offenders with any need, adds up along its columns; each of a
  row's cells is at most its distinct total);
- the reoffending breakdown: the districts, tiers, genders and age bands each add up to the
  area (one-way margins with the same total always fit some table of district x tier x
  gender x age band counts, so the finer cells would add no constraint on the sums);
  reoffenders <= cohort size and <= reoffences in every row; a requirement type's row is
  at most the area's;
- the same count published twice (a CSP's reoffending cohort and the regional
  commissioner's district row) is one unknown; parts are at most their whole (a need's
  offenders, plan gaps; outcomes achieved <= needs identified);
- a district's caseload is its four tiers and the few with no tier recorded: that rest is
  never published, but it is a count of people too, attacked like a suppressed one when
  it is small (1 .. threshold-1).

A suppressed count (or a small unpublished one) is *narrowed* when its feasible range
holds fewer values than the ``*`` itself allows (1 .. threshold-1); a rounded count is *recovered* when its range is a
single value. The test asserts neither happens, and that the true values (from an
uncontrolled run of the same agreements) lie in every range, so the model is sound.
Every rate and share in the files must be the declared function of the published figures
(then it tells the attacker nothing more than they are).
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from tests.attacker import Model
from tests.integration.conftest import SHARE_PERIOD
from warehouse.db import connect
from warehouse.sharing.agreements import Agreement, all_agreements
from warehouse.sharing.disclosure import Controls
from warehouse.sharing.extract import TOTAL, share_all

pytestmark = pytest.mark.integration

PERIOD = SHARE_PERIOD
REOFFENDING_DIMENSIONS = ("district", "tier", "gender", "age_band")
NO_TIER = "caseload_with_no_tier"  # the caseload less its tiers: never published


# -- reading what was published ---------------------------------------------------------------
def _rows(path: Path) -> list[dict[str, str]]:
    if path.suffix == ".csv":
        return list(csv.DictReader(io.StringIO(path.read_text())))
    from openpyxl import load_workbook

    ws = load_workbook(path, read_only=True).active
    values = [["" if v is None else str(v) for v in row] for row in ws.iter_rows(values_only=True)]
    return [dict(zip(values[0], row, strict=True)) for row in values[1:]]


def _published(agreement: Agreement, folder: Path) -> dict[str, list[dict[str, str]]]:
    manifest = json.loads((folder / "manifest.json").read_text())
    return {f["dataset"]: _rows(folder / f["file"]) for f in manifest["files"]}


# -- what the attacker knows about each file ------------------------------------------------------
def _table(m: Model, name: tuple, d, rows, c: Controls, observe=True) -> None:
    """A grid with its Total row and column: every line adds up to its total."""
    spec = d.table
    row_cols, col_col, count = spec["rows"], spec["columns"], spec["count"]
    grid: dict[tuple, dict[str, str]] = defaultdict(dict)
    for r in rows:
        grid[tuple(r[k] for k in row_cols)][r[col_col]] = r[count]
    total_row = tuple(TOTAL for _ in row_cols)
    for rk, line in grid.items():
        for ck, text in line.items():
            m.observe((*name, rk, ck), text, c)
    columns = [ck for ck in grid[total_row] if ck != TOTAL]
    distinct = spec.get("row_total")
    for rk in grid:
        if distinct:  # each column's people are among the row's distinct total
            for ck in columns:
                if ck != distinct:
                    m.at_most((*name, rk, ck), (*name, rk, distinct))
        else:
            m.equal((*name, rk, TOTAL), [(*name, rk, ck) for ck in columns])
    for ck in columns if distinct else [*columns, TOTAL]:
        m.equal((*name, total_row, ck), [(*name, rk, ck) for rk in grid if rk != total_row])


def _reoffending(m: Model, rows, c: Controls) -> None:
    measures = ("cohort_size", "reoffenders", "reoffences")
    for r in rows:
        for measure in measures:
            m.observe(("reoffending", measure, r["dimension"], r["dimension_value"]), r[measure], c)
        group = ("reoffending", "cohort_size", r["dimension"], r["dimension_value"])
        reoffenders = ("reoffending", "reoffenders", r["dimension"], r["dimension_value"])
        m.at_most(reoffenders, group)
        m.at_most(reoffenders, ("reoffending", "reoffences", *reoffenders[2:]))
    for measure in measures:
        area = ("reoffending", measure, "area", "All")
        for dim in REOFFENDING_DIMENSIONS:
            parts = [r["dimension_value"] for r in rows if r["dimension"] == dim]
            m.equal(area, [("reoffending", measure, dim, v) for v in parts])
        for r in rows:
            if r["dimension"] == "requirement_type":
                m.at_most(("reoffending", measure, "requirement_type", r["dimension_value"]), area)


def _district_profile(m: Model, d, rows, c: Controls) -> None:
    for r in rows:
        la = r["la_code"]
        for col in d.counts:
            key = ("profile", la, col)
            if col == "reoffending_cohort_size":  # the regional commissioner's district row
                key = ("reoffending", "cohort_size", "district", la)
            elif col == "reoffending_reoffenders":
                key = ("reoffending", "reoffenders", "district", la)
            m.observe(key, r[col], c)
        # the caseload is its four tiers and the few with no tier recorded (never published)
        # (a tier not applicable, empty, drops out: the rest is what the tiers shown leave)
        tiers = [("profile", la, f"tier_{t}_caseload") for t in range(1, 5)]
        tiers = [k for k in tiers if r[k[2]] != ""]
        if tiers and r["caseload"] != "":
            m.equal(("profile", la, "caseload"), [*tiers, ("profile", la, NO_TIER)])
            m.unpublished(("profile", la, NO_TIER), c)
        for col in d.counts:
            if col.endswith("_need_offenders"):
                m.at_most(("profile", la, col), ("profile", la, "offenders_assessed"))
        m.at_most(
            ("profile", la, "sentence_plan_gaps"), ("profile", la, "sentence_plan_objectives")
        )


def _flat(m: Model, a: Agreement, d, rows, c: Controls) -> None:
    for r in rows:
        key = tuple(r[k] for k in d.columns if k not in {*d.counts, *d.rates, *d.means, *d.public})
        for col in d.counts:
            m.observe((a.id, d.name, key, col), r[col], c)


def attack(agreements: list[Agreement], folders: dict[str, Path]) -> Model:
    m = Model()
    for a in agreements:
        c = a.disclosure
        for d in a.datasets:
            rows = _published(a, folders[a.id])[d.name]
            if d.table:
                _table(m, (a.id, d.name), d, rows, c)
            elif d.mart == "fct_reoffending_breakdowns":
                _reoffending(m, rows, c)
            elif d.mart == "jsna_district_profile":
                _district_profile(m, d, rows, c)
            else:
                _flat(m, a, d, rows, c)
        if a.id == "supporting_people":  # an outcome is achieved only for a need identified
            needs = [k for k in m.index if k[:2] == (a.id, "needs_identified")]
            for k in needs:
                m.at_most((a.id, "outcomes_achieved", *k[2:]), k)
    return m


# -- rates: functions of the published figures ---------------------------------------------------
def _number(text: str) -> Decimal | None:
    return None if text in ("", "*") else Decimal(text)


def _sums_within(rate, rows) -> dict[tuple, list[Decimal]]:  # type: ignore[no-untyped-def]
    """Per group of ``rate.within``: the sums of the published numerators and denominators."""
    sums: dict[tuple, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for r in rows:
        of, per = _number(r[rate.of]), _number(r[rate.per])
        if of is not None and per is not None:
            s = sums[tuple(r[k] for k in rate.within)]
            s[0] += of
            s[1] += per
    return sums


def _expected_rate(rate, r, sums, q: Decimal):  # type: ignore[no-untyped-def]
    """The rate a recipient computes from the row's published figures (or its group's)."""
    if rate.within:
        of, per = sums[tuple(r[k] for k in rate.within)]
        return (of * rate.scale / per).quantize(q, ROUND_HALF_UP) if per else None
    inputs = [r[col] for col in rate.inputs()]
    if "*" in inputs:
        return "*"
    if "" in inputs:
        return None
    if rate.minus:
        return (Decimal(inputs[0]) - Decimal(inputs[1])).quantize(q)
    if Decimal(inputs[1]) == 0:
        return None
    return (Decimal(inputs[0]) * rate.scale / Decimal(inputs[1])).quantize(q, ROUND_HALF_UP)


def _rate_problems(a: Agreement, rows_by_dataset) -> list[str]:
    out = []
    for d in a.datasets:
        rows = rows_by_dataset[d.name]
        for name, rate in d.rates.items():
            q = Decimal(1).scaleb(-rate.digits)
            sums = _sums_within(rate, rows) if rate.within else {}
            for r in rows:
                expected = _expected_rate(rate, r, sums, q)
                got = r[name]
                if ("*" if got == "*" else _number(got)) != expected:
                    out.append(f"{a.id}/{d.name}: {name} = {got!r}, from the published {expected}")
        for mean, count in d.means.items():
            out += [
                f"{a.id}/{d.name}: {mean} shown beside a suppressed {count}"
                for r in rows
                if r[count] == "*" and r[mean] != "*"
            ]
    return out


# -- the test ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def published(default_warehouse, period_deliveries):
    """Every aggregate agreement for the period, as delivered, and the same uncontrolled
    (without the JSNA pack: the attack reads the data files)."""
    agreements = [a for a in all_agreements() if a.level == "aggregate"]
    folders = {a.id: period_deliveries[a.id].folder for a in agreements}
    raw = Controls(threshold=1, rounding=1, secondary=False)
    copies = {
        f"uncontrolled_{a.id}": a.model_copy(
            update={"id": f"uncontrolled_{a.id}", "disclosure": raw, "report": False}
        )
        for a in agreements
    }
    truth: dict[str, Path] = {}
    try:
        for copy, outcome in share_all(default_warehouse, list(copies.values()), PERIOD):
            if isinstance(outcome, Exception):
                raise outcome
            truth[copy.id.removeprefix("uncontrolled_")] = outcome.folder
        yield agreements, folders, truth
    finally:  # the uncontrolled copies never stay, nor their audit rows
        for agreement_id in copies:
            shutil.rmtree(default_warehouse.outbox_dir / agreement_id, ignore_errors=True)
        with connect(default_warehouse) as conn:
            conn.execute(
                "delete from audit.extract_deliveries where agreement_id like 'uncontrolled\\_%%'"
            )


def test_no_rate_tells_more_than_the_published_counts(published):
    agreements, folders, _ = published
    problems = [p for a in agreements for p in _rate_problems(a, _published(a, folders[a.id]))]
    assert problems == []


def test_no_suppressed_or_rounded_count_is_recovered_or_narrowed(published, capsys):
    agreements, folders, truth_folders = published
    model = attack(agreements, folders)
    truth_model = attack(
        [a.model_copy(update={"disclosure": Controls(1, 1, False)}) for a in agreements],
        truth_folders,
    )
    truth = {key: truth_model.lo[i] for key, i in truth_model.index.items()}
    for key in [k for k in truth if k[-1] == NO_TIER]:  # never published: from its line
        profile = key[:-1]
        truth[key] = truth[(*profile, "caseload")] - sum(
            truth.get((*profile, f"tier_{t}_caseload"), 0) for t in range(1, 5)
        )
    narrowed, recovered = model.exposed(truth)
    ranges = model.ranges()
    unsound = [
        (key, truth[key], ranges[key])
        for key in truth
        if key in ranges and not ranges[key][0] <= truth[key] <= ranges[key][1]
    ]
    assert any(k[-1] == NO_TIER and 0 < v < 8 for k, v in truth.items())  # some to attack
    hidden = sum(1 for kind, _ in model.targets.values() if kind == "suppressed")
    with capsys.disabled():
        print(
            f"\ndisclosure attack {PERIOD}: {len(model.targets)} cells attacked "
            f"({hidden} suppressed, {len(model.targets) - hidden} rounded) over "
            f"{len(agreements)} agreements; narrowed {len(narrowed)}, recovered "
            f"{len(recovered)}"
        )
    assert unsound == [], "the attack model contradicts the true values"
    assert narrowed == [] and recovered == []


def test_no_year_of_a_csp_extract_narrows_the_caseload_with_no_tier(default_warehouse):
    # GIVEN each partnership's district profile (its tiers and caseload) delivered for
    # every year the tiers are known, and the true caseloads and tiers from the mart
    copies = [
        a.model_copy(
            update={
                "id": f"tiers_{a.id}",
                "report": False,
                "datasets": [d for d in a.datasets if d.mart == "jsna_district_profile"],
            }
        )
        for a in all_agreements()
        if a.level == "aggregate" and any(d.parts for d in a.datasets)
    ]
    assert len(copies) == 10
    with connect(default_warehouse) as conn:
        truth = {
            (fy, la): caseload - sum(tiers)
            for fy, la, caseload, *tiers in conn.execute(
                "select financial_year, la_code, caseload, tier_1_caseload, tier_2_caseload, "
                "tier_3_caseload, tier_4_caseload from marts.jsna_district_profile "
                "where tier_1_caseload is not null"
            ).fetchall()
        }
    attacked = small = 0
    try:
        for fy in sorted({fy for fy, _ in truth}):
            period = f"{fy[:4]}-{fy[5:]}"
            model = Model()
            for copy, outcome in share_all(default_warehouse, copies, period):
                if isinstance(outcome, Exception):
                    raise outcome
                (d,) = copy.datasets
                rows = _published(copy, outcome.folder)[d.name]
                _district_profile(model, d, rows, copy.disclosure)
            rests = {key: truth[fy, key[1]] for key in model.targets if key[-1] == NO_TIER}
            # WHEN the attacker solves every delivery of the year
            narrowed, _ = model.exposed(rests)
            # THEN no small rest is confined to fewer values than a * allows
            assert narrowed == [], (fy, narrowed)
            attacked += len(rests)
            small += sum(0 < v < 8 for v in rests.values())
    finally:
        for a in copies:
            shutil.rmtree(default_warehouse.outbox_dir / a.id, ignore_errors=True)
        with connect(default_warehouse) as conn:
            conn.execute(
                "delete from audit.extract_deliveries where agreement_id like 'tiers\\_%%'"
            )
    assert attacked == 30 and small > 10


def test_each_csp_file_and_its_pack_publish_the_caseload_and_its_tiers_alike(
    default_warehouse, published
):
    # GIVEN each partnership's delivery: its district profile file and its JSNA pack, side by
    # side in one folder (a reader holding both must learn nothing that one alone hides)
    from warehouse.report import district_controls
    from warehouse.report.model import Context
    from warehouse.report.sections_profile import indicators
    from warehouse.sharing.periods import financial_year

    agreements, folders, _ = published
    compared = 0
    with connect(default_warehouse) as conn:
        for a in (a for a in agreements if a.report):
            la = a.report_district()
            (row,) = _published(a, folders[a.id])["district_profile"]
            controls, source = district_controls(la)
            # THEN both are under one control, and print the same caseload and tiers
            assert (a.disclosure.threshold, a.disclosure.rounding) == (
                controls.threshold,
                controls.rounding,
            )
            ctx = Context(
                conn, la, row["la_name"], PERIOD, financial_year(PERIOD), controls, source
            )
            pack = {r["indicator_code"]: r["count"] for r in indicators(ctx)}
            shown = lambda v: "*" if v is None else str(v)  # noqa: E731
            assert row["caseload"] == shown(pack["caseload_per_1000"]), la
            for t in range(1, 5):
                assert row[f"tier_{t}_caseload"] == shown(pack[f"tier_{t}_share"]), (la, t)
            compared += 1
    assert compared == 10
