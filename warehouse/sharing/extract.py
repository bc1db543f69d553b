"""Run an agreement for a period: query the marts, pseudonymise or apply disclosure
control, write the files and a manifest, deliver them and log the delivery.

Everything here is deterministic for a given warehouse state, agreement and period (sorted
rows, no timestamps inside files), so running the same agreement and period twice gives
byte-identical files. The delivery time is only in ``audit.extract_deliveries``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from psycopg import sql

from warehouse.db import connect
from warehouse.settings import PROJECT_ROOT, Settings
from warehouse.sharing.agreements import Agreement, Dataset, quasi_identifiers
from warehouse.sharing.anonymity import anonymise, ladder
from warehouse.sharing.disclosure import Controls, protect, round_half_up
from warehouse.sharing.pseudonymise import Pseudonymiser, fingerprint, get_key

TOTAL = "Total"
HIDDEN_TEXT = "*"

AUDIT_DDL = """
create schema if not exists audit;
create table if not exists audit.extract_deliveries (
    delivery_id bigint generated always as identity primary key,
    agreement_id text not null,
    recipient text not null,
    period text not null,
    level text not null,
    files jsonb not null,
    total_rows integer not null,
    manifest_sha256 text not null,
    key_id text,
    key_fingerprint text,
    delivered_to text not null,
    code_version text not null,
    delivered_by text not null default current_user,
    delivered_at timestamptz not null default now(),
    expires_on date not null
);
alter table audit.extract_deliveries add column if not exists purged_at timestamptz;
"""


class ShareError(RuntimeError):
    pass


@dataclass(frozen=True)
class Delivery:
    agreement_id: str
    period: str
    folder: Path
    files: list[dict[str, Any]]
    manifest: Path
    delivery_id: int


def financial_year(period: str) -> str:
    """``2008-09`` (as on the command line) -> ``2008/09`` (as in the marts)."""
    m = re.fullmatch(r"(\d{4})-(\d{2})", period)
    if not m or (int(m.group(1)) + 1) % 100 != int(m.group(2)):
        raise ShareError(f"period {period!r}: expected a financial year like 2008-09")
    return f"{m.group(1)}/{m.group(2)}"


def period_of(day: Any) -> str:
    """The financial year holding ``day`` (a run's logical date), as ``2008-09``."""
    start = day.year if day.month >= 4 else day.year - 1
    return f"{start}-{(start + 1) % 100:02d}"


def code_version() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(PROJECT_ROOT), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        from importlib.metadata import version

        return "probation-warehouse " + version("probation-warehouse")


# -- reading --------------------------------------------------------------------------------
def _query(conn, d: Dataset, fy: str) -> tuple[list[str], list[str], list[tuple]]:  # type: ignore[no-untyped-def]
    conditions, params = [], []
    for col, wanted in sorted(d.filter.items()):
        values = wanted if isinstance(wanted, list) else [wanted]
        conditions.append(sql.SQL("{}::text = any(%s)").format(sql.Identifier(col)))
        params.append([str(v) for v in values])
    if d.period_column:
        conditions.append(sql.SQL("{} = %s").format(sql.Identifier(d.period_column)))
        params.append(fy)
    order = d.order_by or d.columns
    query = sql.SQL("select {} from marts.{} where {} order by {}").format(
        sql.SQL(", ").join(sql.Identifier(c) for c in d.columns),
        sql.Identifier(d.mart),
        sql.SQL(" and ").join(conditions) if conditions else sql.SQL("true"),
        sql.SQL(", ").join(sql.Identifier(c) for c in order),
    )
    cur = conn.execute(query, params)
    types = [_pg_type(conn, desc.type_code) for desc in cur.description]
    return list(d.columns), types, cur.fetchall()


def _pg_type(conn, oid: int) -> str:  # type: ignore[no-untyped-def]
    row = conn.execute("select format_type(%s, null)", [oid]).fetchone()
    return row[0] if row else "text"


# -- shaping --------------------------------------------------------------------------------
def _pseudonymised(d: Dataset, cols: list[str], rows: list[tuple], p: Pseudonymiser):
    idx = {c: i for i, c in enumerate(cols)}
    out = []
    for row in rows:
        values = list(row)
        for col in d.pseudonymise:
            values[idx[col]] = p(col, values[idx[col]])
        out.append(tuple(values))
    # sorted on the pseudonyms: the order reveals nothing about the source keys
    return sorted(out, key=lambda r: tuple("" if v is None else str(v) for v in r))


def _k_anonymous(d: Dataset, cols: list[str], rows: list[tuple], k: int):
    """The rows generalised, then suppressed, until every combination of the columns a
    recipient could also know is shared by at least k rows; and the report for the manifest."""
    qis = quasi_identifiers(d)
    ladders = {c: ladder(d.generalise.get(c, []), c not in d.never_withhold) for c in qis}
    result = anonymise(rows, cols, qis, k, ladders)
    # sorted again: a generalised row sorts among the others by its released values only
    released = sorted(result.rows, key=lambda r: tuple("" if v is None else str(v) for v in r))
    return released, result.manifest()


def _controlled_flat(d: Dataset, cols: list[str], rows: list[tuple], c: Controls):
    idx = {col: i for i, col in enumerate(cols)}
    out = []
    for row in rows:
        values = list(row)
        hidden = set()
        for col in d.counts:
            v = values[idx[col]]
            if v is None:
                continue
            if 0 < v < c.threshold:
                values[idx[col]] = None
                hidden.add(col)
            else:
                values[idx[col]] = round_half_up(int(v), c.rounding)
        for rate, count in d.rates.items():
            if count in hidden:
                values[idx[rate]] = None
        out.append(tuple(values))
    return out


def _controlled_table(d: Dataset, cols: list[str], rows: list[tuple], c: Controls):
    """A grid (row keys x one column key) of counts, with totals, under full control."""
    spec = d.table or {}
    row_cols, col_col, count_col = list(spec["rows"]), spec["columns"], spec["count"]
    idx = {col: i for i, col in enumerate(cols)}
    row_keys = sorted({tuple(r[idx[k]] for k in row_cols) for r in rows}, key=_sort_key)
    col_keys = sorted({r[idx[col_col]] for r in rows}, key=_sort_key)
    ri = {k: i for i, k in enumerate(row_keys)}
    ci = {k: i for i, k in enumerate(col_keys)}
    grid = [[0] * len(col_keys) for _ in row_keys]
    for r in rows:
        grid[ri[tuple(r[idx[k]] for k in row_cols)]][ci[r[idx[col_col]]]] += int(
            r[idx[count_col]] or 0
        )
    safe = protect(grid, c)

    def record(row_key, col_key, value):
        named = dict(zip(row_cols, row_key, strict=True))
        named[col_col] = col_key
        named[count_col] = value
        return tuple(named[col] for col in cols)

    out = []
    for i, rk in enumerate(row_keys):
        for j, ck in enumerate(col_keys):
            out.append(record(rk, ck, safe.cells[i][j]))
        out.append(record(rk, TOTAL, safe.row_totals[i]))
    total_key = tuple(TOTAL for _ in row_cols)
    for j, ck in enumerate(col_keys):
        out.append(record(total_key, ck, safe.col_totals[j]))
    out.append(record(total_key, TOTAL, safe.total))
    return out


def _sort_key(v):
    return tuple((x is None, str(x)) for x in v) if isinstance(v, tuple) else (v is None, str(v))


# -- writing --------------------------------------------------------------------------------
def _text(v: object, aggregate: bool) -> str:
    if v is None:
        return HIDDEN_TEXT if aggregate else ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, Decimal):
        return format(v.normalize(), "f") if v == v.to_integral() else str(v)
    return str(v)


def _private(path: Path, data: bytes) -> None:
    """Write a delivered file readable by this user only: created 0600, never chmod-ed."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _write_csv(path: Path, cols, rows, aggregate: bool) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in rows:
        w.writerow([_text(v, aggregate) for v in r])
    _private(path, buf.getvalue().encode())


def _write_parquet(path: Path, cols, rows, aggregate: bool) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = list(zip(*rows, strict=True)) if rows else [() for _ in cols]
    data = {c: [_plain(v) for v in values] for c, values in zip(cols, columns, strict=True)}
    buf = io.BytesIO()
    pq.write_table(pa.table(data), buf, compression="zstd")
    _private(path, buf.getvalue())


def _plain(v):
    if v is None:
        return None
    if isinstance(v, Decimal):
        return float(v)
    return v if isinstance(v, (int, float, bool, str)) else str(v)


def _write_xlsx(path: Path, cols, rows, aggregate: bool) -> None:
    from datetime import datetime

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = path.stem[:31]
    ws.append(cols)
    for r in rows:
        ws.append([HIDDEN_TEXT if v is None and aggregate else _plain(v) for v in r])
    fixed = datetime(2000, 1, 1)
    wb.properties.created = wb.properties.modified = fixed
    wb.properties.creator = "probation-warehouse"
    tmp = io.BytesIO()
    wb.save(tmp)
    # openpyxl stamps each zip entry with the current time: rewrite them with a fixed one
    out = io.BytesIO()
    with zipfile.ZipFile(tmp) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps the save time here
                data = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2000-01-01T00:00:00Z", data
                )
            entry = zipfile.ZipInfo(info.filename, (1980, 1, 1, 0, 0, 0))
            dst.writestr(entry, data, zipfile.ZIP_DEFLATED)
    _private(path, out.getvalue())


WRITERS = {"csv": _write_csv, "parquet": _write_parquet, "xlsx": _write_xlsx}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- the whole delivery -----------------------------------------------------------------------
def share(settings: Settings, agreement: Agreement, period: str) -> Delivery:
    """Write the agreement's files and manifest for ``period`` and log the delivery."""
    fy = financial_year(period)
    pseudonymiser = key_fp = None
    if agreement.level == "pseudonymised":
        key = get_key(agreement.key_id or "", settings)
        # per period: a person's rows of two deliveries cannot be linked (anonymity.py)
        pseudonymiser, key_fp = Pseudonymiser(key, scope=period), fingerprint(key)
    final = settings.outbox_dir / agreement.id / period
    work = final.with_name(final.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    settings.outbox_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    settings.outbox_dir.chmod(0o700)
    work.mkdir(mode=0o700, parents=True)
    files = []
    with connect(settings) as conn:
        for d in agreement.datasets:
            cols, types, rows = _query(conn, d, fy)
            anonymity = None
            if agreement.level == "pseudonymised":
                rows = _pseudonymised(d, cols, rows, pseudonymiser)
                rows, anonymity = _k_anonymous(d, cols, rows, agreement.k_anonymity)
                pseudo = set(d.pseudonymise)
                types = ["text" if c in pseudo else t for c, t in zip(cols, types, strict=True)]
            elif d.table:
                rows = _controlled_table(d, cols, rows, agreement.disclosure)
                count = d.table["count"]
                types = [t if c == count else "text" for c, t in zip(cols, types, strict=True)]
            else:
                rows = _controlled_flat(d, cols, rows, agreement.disclosure)
            path = work / f"{d.name}.{agreement.format}"
            WRITERS[agreement.format](path, cols, rows, agreement.level == "aggregate")
            files.append(
                {
                    "file": path.name,
                    "dataset": d.name,
                    "mart": d.mart,
                    "rows": len(rows),
                    "bytes": path.stat().st_size,
                    "sha256": _sha256(path),
                    "schema": [{"name": c, "type": t} for c, t in zip(cols, types, strict=True)],
                    **({"anonymity": anonymity} if anonymity else {}),
                }
            )
        manifest = {
            "agreement": agreement.id,
            "recipient": agreement.recipient,
            "purpose": agreement.purpose,
            "legal_basis": agreement.legal_basis,
            "period": period,
            "financial_year": fy,
            "level": agreement.level,
            "disclosure": None
            if agreement.disclosure is None
            else {
                "threshold": agreement.disclosure.threshold,
                "rounding": agreement.disclosure.rounding,
                "secondary_suppression": agreement.disclosure.secondary,
                "hidden_shown_as": HIDDEN_TEXT,
            },
            "format": agreement.format,
            "retention_days": agreement.retention_days,
            "files": files,
            "code_version": code_version(),
            "key_id": agreement.key_id,
            "key_fingerprint": key_fp,
        }
        manifest_path = work / "manifest.json"
        _private(manifest_path, (json.dumps(manifest, indent=2, sort_keys=False) + "\n").encode())
        shutil.rmtree(final, ignore_errors=True)
        work.rename(final)
        delivered_to = _deliver(agreement, final)
        conn.execute(AUDIT_DDL)
        (delivery_id,) = conn.execute(
            """insert into audit.extract_deliveries (agreement_id, recipient, period, level,
                files, total_rows, manifest_sha256, key_id, key_fingerprint, delivered_to,
                code_version, expires_on)
            values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,
                current_date + %s::integer)
            returning delivery_id""",
            [
                agreement.id,
                agreement.recipient,
                period,
                agreement.level,
                json.dumps(files),
                sum(f["rows"] for f in files),
                _sha256(final / "manifest.json"),
                agreement.key_id,
                key_fp,
                delivered_to,
                manifest["code_version"],
                agreement.retention_days,
            ],
        ).fetchone()
    return Delivery(agreement.id, period, final, files, final / "manifest.json", delivery_id)


def _deliver(agreement: Agreement, folder: Path) -> str:
    """The outbox folder is the delivery by default; SFTP through Airflow when configured."""
    if agreement.delivery.method == "outbox":
        return str(folder)
    from airflow.providers.sftp.hooks.sftp import SFTPHook

    remote = f"{agreement.delivery.remote_path.rstrip('/')}/{agreement.id}/{folder.name}"
    hook = SFTPHook(ssh_conn_id=agreement.delivery.sftp_conn_id)
    hook.create_directory(remote)
    for path in sorted(folder.iterdir()):
        hook.store_file(f"{remote}/{path.name}", str(path))
    return f"sftp://{agreement.delivery.sftp_conn_id}{remote}"


def purge_expired(settings: Settings, today: Any) -> list[Path]:
    """Remove outbox deliveries past their agreement's retention (``expires_on`` before
    ``today``) and record when; the audit rows stay, so what was shared remains known."""
    removed = []
    with connect(settings) as conn:
        conn.execute(AUDIT_DDL)
        rows = conn.execute(
            """select delivery_id, delivered_to from audit.extract_deliveries as d
            where expires_on < %s and purged_at is null
                and not exists (  -- a later delivery to the same folder is still retained
                    select 1 from audit.extract_deliveries as n
                    where n.delivered_to = d.delivered_to and n.expires_on >= %s
                )
            order by delivery_id""",
            [today, today],
        ).fetchall()
        outbox = settings.outbox_dir.resolve()
        for delivery_id, target in rows:
            folder = Path(target)
            if folder.resolve().is_relative_to(outbox) and folder.exists():
                shutil.rmtree(folder)
                removed.append(folder)
            conn.execute(
                "update audit.extract_deliveries set purged_at = now() where delivery_id = %s",
                [delivery_id],
            )
    return removed
