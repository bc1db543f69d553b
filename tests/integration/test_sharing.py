"""Partner extracts and BI access on the default dataset (built once, see conftest.py).

Privacy is tested like a feature: every output file is scanned for every identifier value
in the landing files; every published count is checked against the threshold; each BI role
logs in over TCP with its password and is shown what it can and cannot read.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from pathlib import Path

import psycopg
import pytest

from tests.integration.conftest import BI_PASSWORD, SHARE_PERIOD
from warehouse.db import connect
from warehouse.sharing.agreements import get_agreement
from warehouse.sharing.extract import share
from warehouse.sharing.pseudonymise import MissingKeyError

pytestmark = pytest.mark.integration

PERIOD = SHARE_PERIOD
MANCHESTER = "E08000003"


@pytest.fixture
def deliveries(period_deliveries):
    """`warehouse share --all --period 2008-09` (once per session: conftest.py)."""
    return period_deliveries


def _cells(path: Path) -> list[list[str]]:
    """Every value of a delivered file as text, whatever its format."""
    if path.suffix == ".csv":
        return list(csv.reader(io.StringIO(path.read_text())))
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        t = pq.read_table(path)
        return [t.column_names] + [
            ["" if v is None else str(v) for v in row.values()] for row in t.to_pylist()
        ]
    from openpyxl import load_workbook

    ws = load_workbook(path, read_only=True).active
    return [["" if v is None else str(v) for v in row] for row in ws.iter_rows(values_only=True)]


def _identifiers(landing: Path) -> dict[str, set[str]]:
    """Every direct identifier value in the delivered source files (loaded or rejected)."""
    wanted = {
        "CRN": "crn",
        "PNC_NUMBER": "pnc",
        "FIRST_NAME": "name",
        "SURNAME": "name",
        "DATE_OF_BIRTH": "dob",
        "POSTCODE": "postcode",
    }
    found: dict[str, set[str]] = {k: set() for k in set(wanted.values())}
    for path in landing.rglob("*.csv"):
        with path.open(newline="", errors="replace") as f:
            reader = csv.reader(f)
            header = [h.strip().upper() for h in next(reader, [])]
            cols = [(i, wanted[h]) for i, h in enumerate(header) if h in wanted]
            if not cols:
                continue
            for row in reader:
                for i, kind in cols:
                    if i < len(row) and row[i].strip():
                        found[kind].add(row[i].strip().lower())
    return found


def test_share_all_writes_every_agreement_with_a_manifest_and_an_audit_row(
    default_warehouse, deliveries
):
    for agreement_id, d in deliveries.items():
        manifest = json.loads(d.manifest.read_text())
        assert manifest["agreement"] == agreement_id and manifest["period"] == PERIOD
        assert manifest["files"], agreement_id
        for f in manifest["files"]:
            path = d.folder / f["file"]
            assert hashlib.sha256(path.read_bytes()).hexdigest() == f["sha256"]
            assert len(_cells(path)) - 1 == f["rows"] > 0, (agreement_id, f["file"])
            assert [c["name"] for c in f["schema"]] == _cells(path)[0]
        assert SHARE_KEY_NOT_IN(manifest)
    with connect(default_warehouse) as conn:
        logged = dict(
            conn.execute(
                """select agreement_id, count(*) from audit.extract_deliveries
                where period = %s group by 1""",
                [PERIOD],
            ).fetchall()
        )
    assert set(logged) == set(deliveries)


def SHARE_KEY_NOT_IN(manifest: dict) -> bool:  # noqa: N802 - reads as the assertion it is
    from tests.integration.conftest import SHARE_KEY

    return SHARE_KEY not in json.dumps(manifest)


def _found_in(text: str, values: set[str]) -> set[str]:
    """The values occurring anywhere in ``text`` (as ``v in text`` for each, but one pass per
    value length: every substring of that length, then a set intersection)."""
    found: set[str] = set()
    for n in {len(v) for v in values}:
        windows = {text[i : i + n] for i in range(len(text) - n + 1)}
        found |= {v for v in values if len(v) == n} & windows
    return found


def test_no_file_contains_an_identifier_from_the_landing_files(default_warehouse, deliveries):
    ids = _identifiers(default_warehouse.landing_dir)
    assert len(ids["crn"]) > 1000 and len(ids["dob"]) > 1000 and ids["name"]  # the scan sees data
    leaks = []
    for d in deliveries.values():
        for path in sorted(d.folder.iterdir()):
            raw = path.read_bytes().decode("latin-1").lower()
            if path.suffix == ".json":  # digests are hex: 'b033775' inside one is no CRN
                raw = re.sub(r"[0-9a-f]{16,}", "", raw)
            leaks += [(path.name, "crn", v) for v in _found_in(raw, ids["crn"])]
            leaks += [(path.name, "pnc", v) for v in _found_in(raw, ids["pnc"])]
            if path.suffix in {".json", ".html", ".pdf"}:  # the pack: test_jsna_pack.py scans
                continue  # its text for names, dates of birth and postcodes
            for row in _cells(path):
                for cell in row:
                    value = cell.strip().lower()
                    for kind in ("name", "dob", "postcode"):
                        if value in ids[kind]:
                            leaks.append((path.name, kind, value))
    assert not leaks, leaks[:10]


def test_no_aggregate_count_between_1_and_the_threshold_is_shown(deliveries):
    checked = 0
    for agreement_id, d in deliveries.items():
        agreement = get_agreement(agreement_id)
        if agreement.level != "aggregate":
            continue
        for dataset in agreement.datasets:
            rows = _cells(d.folder / f"{dataset.name}.{agreement.format}")
            header, body = rows[0], rows[1:]
            count_cols = dataset.counts or [dataset.table["count"]]
            for col in count_cols:
                for row in body:
                    value = row[header.index(col)]
                    checked += 1
                    if value in ("*", ""):
                        continue
                    assert not 0 < float(value) < agreement.disclosure.threshold, (
                        agreement_id,
                        dataset.name,
                        col,
                        value,
                    )
    assert checked > 1000


def test_the_same_agreement_and_period_twice_gives_byte_identical_files(
    default_warehouse, deliveries
):
    for agreement_id in (
        "csp_manchester",
        "dat_manchester",
        "supporting_people",
    ):  # csv, parquet, xlsx
        first = {p.name: p.read_bytes() for p in deliveries[agreement_id].folder.iterdir()}
        again = share(default_warehouse, get_agreement(agreement_id), PERIOD)
        assert {p.name: p.read_bytes() for p in again.folder.iterdir()} == first


def test_record_level_extract_is_pseudonymised_and_only_the_agreed_rows(
    default_warehouse, deliveries
):
    rows = _cells(deliveries["dat_manchester"].folder / "offenders_with_drug_need.parquet")
    header, body = rows[0], rows[1:]
    with connect(default_warehouse) as conn:
        expected = conn.execute(
            """select count(*) from marts.fct_offender_year_profile
            where la_code = %s and has_drug_need and financial_year = '2008/09'""",
            [MANCHESTER],
        ).fetchone()[0]
        ids = {str(i) for (i,) in conn.execute("select offender_id from marts.dim_offender")}
    anonymity = json.loads(deliveries["dat_manchester"].manifest.read_text())["files"][0][
        "anonymity"
    ]
    assert anonymity["rows_in_scope"] == expected > 0
    assert len(body) == anonymity["rows_released"] == expected - anonymity["rows_suppressed"]
    pseudonyms = [row[header.index("offender_id")] for row in body]
    assert len(set(pseudonyms)) == len(pseudonyms)
    assert all(len(p) == 32 and p not in ids for p in pseudonyms)


def _dat_extract(delivery) -> tuple[dict, list[str], list[tuple]]:
    """The DAT file's anonymity report, its quasi-identifiers and their values per row."""
    import pyarrow.parquet as pq

    entry = json.loads(delivery.manifest.read_text())["files"][0]
    qis = entry["anonymity"]["quasi_identifiers"]
    table = pq.read_table(delivery.folder / entry["file"]).to_pylist()
    return entry, qis, [tuple(row[c] for c in qis) for row in table]


def test_the_record_level_extract_is_k_anonymous_as_its_manifest_says(deliveries):
    from collections import Counter

    entry, qis, rows = _dat_extract(deliveries["dat_manchester"])
    report = entry["anonymity"]
    print("dat_manchester", PERIOD, json.dumps(report))
    # every released column a BI-visible mart holds, the pseudonym excepted
    assert qis == [c for c in (s["name"] for s in entry["schema"]) if c != "offender_id"]
    sizes = Counter(rows)
    assert min(sizes.values()) == report["k_achieved"] >= report["k_required"] == 5
    assert len(rows) == entry["rows"] == report["rows_released"]
    assert report["rows_released"] + report["rows_suppressed"] == report["rows_in_scope"]


def _generaliser(report: dict):
    """The generalisation the manifest names, applied to a row of the marts."""
    from warehouse.sharing.anonymity import ladder

    d = get_agreement("dat_manchester").datasets[0]
    steps = {}
    for c in report["quasi_identifiers"]:
        chain = ladder(d.generalise.get(c, []), c not in d.never_withhold)
        done = report["generalised"][c]
        steps[c] = [] if done == "as is" else chain[: [s.name for s in chain].index(done) + 1]

    def apply(column: str, value):
        for step in steps[column]:
            value = step.apply(value)
        return value

    return apply


def test_a_district_login_cannot_read_the_rows_the_dat_extract_was_made_from(
    default_warehouse,
):
    """District logins get aggregates only (warehouse/access_matrix.yml): the person-level
    mart the DAT extract comes from is refused, so the join below needs bi_reader."""
    with _login(default_warehouse, "bi_manchester") as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select 1 from marts.fct_offender_year_profile limit 1").fetchall()


def test_a_bi_login_joining_the_dat_extract_to_the_marts_singles_no_one_out(
    default_warehouse, deliveries
):
    """The attack of issue 12: the broadest BI login (bi_reader, every person-level row)
    joins the DAT extract to the person-level mart on every column both hold, with the same
    generalisation applied to the mart's rows and the agreement's filter (Manchester, drug
    need, the year) known: no row is singled out."""
    from collections import Counter

    role = "bi_reader"
    entry, qis, rows = _dat_extract(deliveries["dat_manchester"])
    generalise = _generaliser(entry["anonymity"])
    known = ", ".join(qis)
    with _login(default_warehouse, role) as conn:
        mart = conn.execute(
            f"""select {known} from marts.fct_offender_year_profile
            where la_code = %s and has_drug_need and financial_year = %s""",
            [MANCHESTER, "2008/09"],
        ).fetchall()
    assert mart, role  # the login reads the rows the extract was made from
    candidates = Counter(
        tuple(generalise(c, v) for c, v in zip(qis, row, strict=True)) for row in mart
    )
    matches = [candidates[row] for row in rows]
    print(role, f"{len(rows)} extract rows, {len(mart)} mart rows, fewest matches {min(matches)}")
    assert all(m != 0 for m in matches)  # the join works: every row is found in the mart
    assert sum(m == 1 for m in matches) == 0
    assert min(matches) >= entry["anonymity"]["k_required"]


def test_the_dat_extracts_of_two_periods_share_no_pseudonym(default_warehouse, deliveries):
    """A stable pseudonym would link a person's rows of two years: a longer quasi-identifier
    than each file is k-anonymous on (measured: 38-69 people singled out per pair of years)."""
    import pyarrow.parquet as pq

    def pseudonyms(delivery) -> set[str]:
        path = delivery.folder / "offenders_with_drug_need.parquet"
        return set(pq.read_table(path, columns=["offender_id"]).column(0).to_pylist())

    earlier = share(default_warehouse, get_agreement("dat_manchester"), "2006-07")
    this_year = pseudonyms(deliveries["dat_manchester"])
    assert this_year and pseudonyms(earlier)
    assert not this_year & pseudonyms(earlier)


def test_a_missing_key_stops_a_record_level_extract(default_warehouse, monkeypatch):
    monkeypatch.delenv("WAREHOUSE_SHARE_KEY_DAT_MANCHESTER")
    with pytest.raises(MissingKeyError, match="WAREHOUSE_SHARE_KEY_DAT_MANCHESTER"):
        share(default_warehouse, get_agreement("dat_manchester"), "2007-08")
    assert not (default_warehouse.outbox_dir / "dat_manchester" / "2007-08").exists()


def test_share_all_reports_each_agreements_failure_and_delivers_the_others(
    default_warehouse, monkeypatch
):
    from warehouse.sharing.extract import share_all

    # GIVEN a record-level agreement whose key is missing, beside an aggregate one
    monkeypatch.delenv("WAREHOUSE_SHARE_KEY_DAT_MANCHESTER")
    agreements = [get_agreement("dat_manchester"), get_agreement("supporting_people")]
    # WHEN both are shared two at a time (worker processes)
    outcomes = {a.id: o for a, o in share_all(default_warehouse, agreements, "2007-08")}
    # THEN the first's error names the key, and the other was delivered
    assert isinstance(outcomes["dat_manchester"], MissingKeyError)
    assert "WAREHOUSE_SHARE_KEY_DAT_MANCHESTER" in str(outcomes["dat_manchester"])
    assert not (default_warehouse.outbox_dir / "dat_manchester" / "2007-08").exists()
    assert outcomes["supporting_people"].manifest.is_file()


# -- BI access --------------------------------------------------------------------------------
def _login(settings, role: str) -> psycopg.Connection:
    info = settings.conninfo()
    return psycopg.connect(
        host=info.host, port=info.port, dbname=info.dbname, user=role, password=BI_PASSWORD
    )


def _can_read(conn: psycopg.Connection, relation: str) -> bool:
    try:
        conn.execute(f"select 1 from {relation} limit 1").fetchall()
        return True
    except psycopg.errors.InsufficientPrivilege:
        conn.rollback()
        return False


def test_bi_reader_reads_every_mart_and_nothing_else(default_warehouse):
    # every mart the access matrix grants it: all but the sharing extracts' stacked
    # fct_reoffending_breakdowns (bi_reader: none)
    from warehouse.access import READER, load_matrix

    matrix = load_matrix()
    granted = {m for m in matrix.marts if matrix.scope(m, READER).using is not None}
    assert "fct_reoffending_breakdowns" not in granted and len(granted) > 40
    with connect(default_warehouse) as conn:
        relations = conn.execute(
            """select table_schema, table_name from information_schema.tables
            where table_schema in ('marts', 'raw', 'staging', 'snapshots', 'audit', 'intermediate')"""
        ).fetchall()
        owner_rows = conn.execute("select count(*) from marts.fct_caseload_monthly").fetchone()[0]
    with _login(default_warehouse, "bi_reader") as conn:
        for schema, name in relations:
            readable = _can_read(conn, f'"{schema}"."{name}"')
            assert readable == (schema == "marts" and name in granted), (schema, name)
        assert (
            conn.execute("select count(*) from marts.fct_caseload_monthly").fetchone()[0]
            == owner_rows
        )


def test_deliveries_past_their_retention_are_purged_from_the_outbox(default_warehouse):
    from datetime import date, timedelta

    from warehouse.sharing.extract import purge_expired

    # GIVEN a delivery whose retention has run out, and one whose has not
    old = share(default_warehouse, get_agreement("supporting_people"), "2006-07")
    kept = share(default_warehouse, get_agreement("regional_commissioner"), "2006-07")
    with connect(default_warehouse) as conn:
        conn.execute(
            "update audit.extract_deliveries set expires_on = %s where delivery_id = %s",
            [date.today() - timedelta(days=1), old.delivery_id],
        )
    # WHEN the purge runs THEN only the expired folder goes, and the audit row stays
    assert old.folder in purge_expired(default_warehouse, date.today())
    assert not old.folder.exists() and kept.folder.exists()
    with connect(default_warehouse) as conn:
        purged = conn.execute(
            "select purged_at is not null from audit.extract_deliveries where delivery_id = %s",
            [old.delivery_id],
        ).fetchone()[0]
    assert purged


def test_delivered_files_are_readable_by_the_owner_only(default_warehouse, deliveries):
    for delivery in deliveries.values():
        assert delivery.folder.stat().st_mode & 0o077 == 0, delivery.folder
        for path in delivery.folder.iterdir():
            # created 0600 (the manifest too), never readable by group or others
            assert path.stat().st_mode & 0o777 == 0o600, path
    assert default_warehouse.outbox_dir.stat().st_mode & 0o077 == 0


def test_a_ward_tables_any_need_column_is_jsna_ward_need_under_control(
    default_warehouse, deliveries
):
    # the need areas come from jsna_ward_need_areas, the ANY column (each offender once)
    # from jsna_ward_need (table.row_total_from): every ward of the district, each count
    # suppressed or within the rounding of the mart's
    agreement = get_agreement("csp_manchester")
    rows = _cells(deliveries[agreement.id].folder / f"ward_need.{agreement.format}")
    header, body = rows[0], rows[1:]
    ward, need, count = (
        header.index(c) for c in ("ward_code", "need_area_code", "offenders_with_need")
    )
    published = {r[ward]: r[count] for r in body if r[need] == "ANY" and r[ward] != "Total"}
    with connect(default_warehouse) as conn:
        truth = dict(
            conn.execute(
                "select ward_code, offenders_with_need from marts.jsna_ward_need"
                " where la_code = %s and financial_year = '2008/09'",
                [MANCHESTER],
            ).fetchall()
        )
    assert truth and set(published) == set(truth)
    rounding = agreement.disclosure.rounding
    shown = {w: float(v) for w, v in published.items() if v not in ("*", "")}
    assert shown, "every ward's total suppressed"
    for w, v in shown.items():
        assert abs(v - truth[w]) < rounding, (w, v, truth[w])
    assert {r[need] for r in body} >= {"ANY", "ACCOM", "DRUGS"}
