"""Run an agreement for a period: query the marts, pseudonymise or apply disclosure
control, write the files and a manifest, deliver them and log the delivery.

Everything here is deterministic for a given warehouse state, agreement and period (sorted
rows, no timestamps inside files), so running the same agreement and period twice gives
byte-identical files. The delivery time is only in ``audit.extract_deliveries``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from psycopg import sql

from ingestion.load_records import sha256_of
from warehouse.db import connect
from warehouse.secret_files import private_dir
from warehouse.settings import Settings, code_version
from warehouse.sharing.agreements import Agreement, Dataset, Rate, quasi_identifiers
from warehouse.sharing.anonymity import anonymise, ladder
from warehouse.sharing.audit import AUDIT_DDL, log_delivery, purge_expired  # noqa: F401 (the CLI's)
from warehouse.sharing.delivery import deliver
from warehouse.sharing.disclosure import SUPPRESSED, Controls, protect, protect_lines
from warehouse.sharing.periods import ShareError, financial_year
from warehouse.sharing.pseudonymise import MissingKeyError, Pseudonymiser, fingerprint, get_key
from warehouse.sharing.writers import (
    HIDDEN_TEXT,
    SUPPRESSED_SUFFIX,
    WRITERS,
    file_schema,
    private,
)

TOTAL = "Total"


@dataclass(frozen=True)
class Delivery:
    agreement_id: str
    period: str
    folder: Path
    files: list[dict[str, Any]]
    manifest: Path
    delivery_id: int


# -- reading --------------------------------------------------------------------------------
def _query(conn, d: Dataset, fy: str) -> tuple[list[str], list[str], list[tuple]]:  # type: ignore[no-untyped-def]
    conditions, params = [], []
    for col, wanted in sorted(d.filter.items()):
        values = wanted if isinstance(wanted, list) else [wanted]
        conditions.append(sql.SQL("{}::text = any(%s)").format(sql.Identifier(col)))
        params.append([str(v) for v in values])
    if d.period_column and d.period_match == "latest":
        conditions.append(
            sql.SQL("{col} = (select max({col}) from marts.{mart} where {col} <= %s)").format(
                col=sql.Identifier(d.period_column), mart=sql.Identifier(d.mart)
            )
        )
        params.append(fy)
    elif d.period_column:
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


def _row_totals(conn, d: Dataset, fy: str) -> list[tuple]:  # type: ignore[no-untyped-def]
    """``table.row_total_from``: each row's distinct total read from its own mart (same
    filter but the columns column's, same period), as rows under the ``row_total`` column
    (e.g. each ward's offenders with any need, under ANY)."""
    spec = d.table or {}
    if not spec.get("row_total_from"):
        return []
    col_col = spec["columns"]
    source = d.model_copy(
        update={
            "mart": spec["row_total_from"],
            "columns": [*spec["rows"], spec["count"]],
            "filter": {k: v for k, v in d.filter.items() if k != col_col},
            "order_by": [],
            "table": None,
        }
    )
    cols, _, rows = _query(conn, source, fy)
    out = []
    for row in rows:
        named = {**dict(zip(cols, row, strict=True)), col_col: spec["row_total"]}
        out.append(tuple(named[c] for c in d.columns))
    return out


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
    """Counts suppressed (primary, then secondary across the breakdown's margins and each
    row's ``parts``) and rounded; means hidden with their count; rates computed from what
    is published."""
    idx = {col: i for i, col in enumerate(cols)}
    data = [list(r) for r in rows]
    lines = _breakdown_lines(d, idx, data)
    linked = {total: [total, *parts] for total, parts in d.parts.items()}
    alone = [[col] for col in d.counts if not any(col in g for g in linked.values())]
    for group in [*linked.values(), *alone]:
        _protect_group(d, group, idx, data, lines, c)
    for mean, count in d.means.items():
        for r in data:
            if r[idx[count]] is SUPPRESSED:
                r[idx[mean]] = SUPPRESSED
    for name, rate in d.rates.items():
        _compute_rate(name, rate, idx, data)
    return [tuple(r) for r in data]


REST = "<rest>"  # what a group's parts leave of its total (never a column, never published)


def _protect_group(d: Dataset, group: list[str], idx: dict, data: list[list], lines, c) -> None:
    """One ``protect_lines`` over the cells of ``group`` (a count alone, or a total and its
    parts): each column's cells add up along the breakdown's lines; in each row, the parts
    and their rest add up to the total. A null part (not applicable) is left out of its
    row's line: the rest is then what the parts shown leave."""
    cells: dict[tuple[int, str], int] = {}
    values: list[int] = []
    for col in group:
        for i, r in enumerate(data):
            if r[idx[col]] is not None:
                cells[i, col] = len(values)
                values.append(int(r[idx[col]]))
    own_lines, complete = _rest_lines(d, group, len(data), cells, values)
    for col in group:  # a null part of a breakdown line drops out (it is not applicable)
        own_lines += [
            (cells[t, col], [cells[p, col] for p in ps if (p, col) in cells])
            for t, ps in lines
            if (t, col) in cells
        ]
    own_lines += [  # the rests add up too, where every row of the line has every part
        (cells[t, REST], [cells[p, REST] for p in ps])
        for t, ps in lines
        if all(i in complete for i in (t, *ps))
    ]
    rests = [pos for (_, col), pos in cells.items() if col == REST]
    safe = protect_lines(values, own_lines, c, rests)
    for (i, col), pos in cells.items():
        if col != REST:
            data[i][idx[col]] = SUPPRESSED if safe[pos] is None else safe[pos]


def _rest_lines(d: Dataset, group: list[str], n_rows: int, cells: dict, values: list[int]):
    """Each row's line "total = the parts shown + their rest", the rest added to ``cells``
    and ``values``; and the rows with every part (their rests add up along a breakdown)."""
    total, *parts = group
    lines, complete = [], set()
    for i in range(n_rows) if parts else ():
        shown = [cells[i, p] for p in parts if (i, p) in cells]
        if (i, total) not in cells or not shown:
            continue
        rest = values[cells[i, total]] - sum(values[k] for k in shown)
        if rest < 0:
            raise ShareError(
                f"dataset {d.name} ({d.mart}), row {i + 1}: {' + '.join(parts)} add up to "
                f"more than {total}: the parts of a total cannot exceed it"
            )
        cells[i, REST] = len(values)
        values.append(rest)
        lines.append((cells[i, total], [*shown, cells[i, REST]]))
        if len(shown) == len(parts):
            complete.add(i)
    return lines, complete


def _breakdown_lines(d: Dataset, idx: dict[str, int], data: list[list]) -> list:
    """(total row, part rows) for each partition of the breakdown, within each period."""
    b = d.breakdown
    if b is None:
        return []
    groups: dict[Any, dict[str, list[int]]] = {}
    for i, r in enumerate(data):
        period = r[idx[d.period_column]] if d.period_column else None
        groups.setdefault(period, {}).setdefault(r[idx[b.by]], []).append(i)
    lines = []
    for by_value in groups.values():
        for total in by_value.get(b.total, []):
            lines += [(total, by_value.get(p, [])) for p in b.partitions]
    return lines


def _compute_rate(name: str, rate: Rate, idx: dict[str, int], data: list[list]) -> None:
    """Fill column ``name`` of every row from the published figures (see ``Rate``)."""
    quantum = Decimal(1).scaleb(-rate.digits)
    if rate.within is not None:
        sums: dict[tuple, list[Decimal]] = {}
        for r in data:
            of, per = r[idx[rate.of]], r[idx[rate.per or ""]]
            if _number(of) and _number(per):
                key = tuple(r[idx[k]] for k in rate.within)
                total = sums.setdefault(key, [Decimal(0), Decimal(0)])
                total[0] += Decimal(of)
                total[1] += Decimal(per)
        for r in data:
            of_sum, per_sum = sums.get(tuple(r[idx[k]] for k in rate.within), (0, 0))
            r[idx[name]] = (
                (Decimal(of_sum) * rate.scale / per_sum).quantize(quantum, ROUND_HALF_UP)
                if per_sum
                else None
            )
        return
    for r in data:
        inputs = [r[idx[col]] for col in rate.inputs()]
        if any(v is SUPPRESSED for v in inputs):
            r[idx[name]] = SUPPRESSED
        elif any(v is None for v in inputs):
            r[idx[name]] = None
        elif rate.minus is not None:
            r[idx[name]] = (Decimal(inputs[0]) - Decimal(inputs[1])).quantize(
                quantum, ROUND_HALF_UP
            )
        elif inputs[1] == 0:
            r[idx[name]] = None  # a rate of nobody is not applicable
        else:
            value = Decimal(inputs[0]) * rate.scale / Decimal(inputs[1])
            r[idx[name]] = value.quantize(quantum, ROUND_HALF_UP)


def _number(v: Any) -> bool:
    return v is not None and v is not SUPPRESSED


def _controlled_table(d: Dataset, cols: list[str], rows: list[tuple], c: Controls):
    """A grid (row keys x one column key) of counts, with totals, under full control
    (without a summed Total column when the table names its ``row_total``)."""
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
    distinct_total = spec.get("row_total")
    safe = protect(grid, c, row_totals=distinct_total is None)

    def record(row_key, col_key, value):
        named = dict(zip(row_cols, row_key, strict=True))
        named[col_col] = col_key
        named[count_col] = SUPPRESSED if value is None else value
        return tuple(named[col] for col in cols)

    out = []
    for i, rk in enumerate(row_keys):
        for j, ck in enumerate(col_keys):
            out.append(record(rk, ck, safe.cells[i][j]))
        if distinct_total is None:
            out.append(record(rk, TOTAL, safe.row_totals[i]))
    total_key = tuple(TOTAL for _ in row_cols)
    for j, ck in enumerate(col_keys):
        out.append(record(total_key, ck, safe.col_totals[j]))
    if distinct_total is None:
        out.append(record(total_key, TOTAL, safe.total))
    return out


def _controlled_columns(d: Dataset) -> list[str]:
    """The columns of an aggregate dataset that may hold a suppressed figure."""
    if d.table:
        return [d.table["count"]]
    return [c for c in d.columns if c in {*d.counts, *d.rates, *d.means}]


def _sort_key(v):
    return tuple((x is None, str(x)) for x in v) if isinstance(v, tuple) else (v is None, str(v))


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
    private_dir(settings.outbox_dir)
    work.mkdir(mode=0o700, parents=True)
    with connect(settings) as conn:
        files = [
            _dataset_file(conn, agreement, d, fy, pseudonymiser, work) for d in agreement.datasets
        ]
        pack = []
        if agreement.report:  # the district's JSNA pack, HTML + PDF (warehouse/report)
            from warehouse.report import attach

            pack = attach(conn, agreement, period, work)
        manifest = _manifest(agreement, period, fy, files, key_fp, pack)
        manifest_path = work / "manifest.json"
        private(manifest_path, (json.dumps(manifest, indent=2, sort_keys=False) + "\n").encode())
        shutil.rmtree(final, ignore_errors=True)
        work.rename(final)
        delivery_id, failed = _deliver_and_log(conn, agreement, manifest, final)
    if failed:  # raised once the audit row is committed (the connection's block has ended)
        raise ShareError(f"{agreement.id} {period}: delivery {delivery_id} failed: " + failed)
    return Delivery(agreement.id, period, final, files, final / "manifest.json", delivery_id)


def share_all(
    settings: Settings, agreements: list[Agreement], period: str, workers: int = 2
) -> Iterator[tuple[Agreement, Delivery | Exception]]:
    """``share`` for each agreement, two at a time in worker processes (spawned), those
    with a JSNA pack (seconds of rendering each) first; yields (agreement, its delivery or
    the error that stopped it) as each finishes. Agreements are independent: each writes
    its own outbox folder and audit row. Closing the iterator early cancels the agreements
    not yet started."""
    if workers <= 1 or len(agreements) <= 1:
        for a in agreements:
            yield a, _share_or_error(settings, a, period)
        return
    from warehouse.workers import as_finished

    with connect(settings) as conn:  # once, before the workers: no race to create it
        conn.execute(AUDIT_DDL)
    jobs = [(settings, a, period) for a in sorted(agreements, key=lambda a: not a.report)]
    for (_, agreement, _), outcome in as_finished(_share_or_error, jobs, workers):
        yield agreement, outcome


def _share_or_error(settings: Settings, agreement: Agreement, period: str) -> Delivery | Exception:
    """The delivery, or the exception that stopped it (one that may not cross a process
    boundary as it is comes back as a ShareError with its message)."""
    try:
        return share(settings, agreement, period)
    except (ShareError, MissingKeyError) as exc:
        return exc
    except Exception as exc:  # noqa: BLE001 - reported per agreement by the caller
        return ShareError(f"{type(exc).__name__}: {exc}")


def _deliver_and_log(conn, agreement: Agreement, manifest: dict[str, Any], final: Path):  # type: ignore[no-untyped-def]
    """Deliver the folder (outbox, or SFTP file by file) and record it in
    ``audit.extract_deliveries`` with each file's outcome; (delivery id, what failed: '' when
    every file arrived)."""
    delivered_to, outcomes = deliver(agreement, final)
    status = "delivered" if all(o["status"] == "delivered" for o in outcomes) else "failed"
    delivery_id = log_delivery(
        conn, manifest, sha256_of(final / "manifest.json"), delivered_to, status, outcomes
    )
    failed = [f"{o['file']} ({o['error']})" for o in outcomes if o["status"] != "delivered"]
    return delivery_id, "; ".join(failed)


def _dataset_file(conn, agreement: Agreement, d: Dataset, fy: str, pseudonymiser, work: Path):  # type: ignore[no-untyped-def]
    """Query one dataset, pseudonymise or control it, write its file; its manifest entry."""
    cols, types, rows = _query(conn, d, fy)
    rows += _row_totals(conn, d, fy)
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
    controlled = _controlled_columns(d) if agreement.level == "aggregate" else []
    WRITERS[agreement.format](path, cols, rows, controlled)
    return {
        "file": path.name,
        "dataset": d.name,
        "mart": d.mart,
        "rows": len(rows),
        "bytes": path.stat().st_size,
        "sha256": sha256_of(path),
        "schema": [
            {"name": c, "type": t}
            for c, t in file_schema(cols, types, controlled, agreement.format)
        ],
        **({"anonymity": anonymity} if anonymity else {}),
    }


def _disclosure_note(agreement: Agreement) -> dict[str, Any] | None:
    """The manifest's account of the disclosure control applied (None: record level)."""
    if agreement.disclosure is None:
        return None
    parquet = agreement.format == "parquet"
    return {
        "threshold": agreement.disclosure.threshold,
        "rounding": agreement.disclosure.rounding,
        "secondary_suppression": agreement.disclosure.secondary,
        "suppressed_shown_as": f"null, with <column>{SUPPRESSED_SUFFIX} true"
        if parquet
        else HIDDEN_TEXT,
        "not_applicable_shown_as": "null" if parquet else "empty",
        "rates": "computed from the published (suppressed and rounded) counts",
    }


def _manifest(
    agreement: Agreement, period: str, fy: str, files: list, key_fp, pack: list
) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """What the recipient reads first: who, why, what (files with sha256), how controlled;
    the JSNA pack's files under ``report`` (existing readers of ``files`` are untouched)."""
    return {
        "agreement": agreement.id,
        "recipient": agreement.recipient,
        "purpose": agreement.purpose,
        "legal_basis": agreement.legal_basis,
        "period": period,
        "financial_year": fy,
        "level": agreement.level,
        "disclosure": _disclosure_note(agreement),
        "format": agreement.format,
        "retention_days": agreement.retention_days,
        "files": files,
        "code_version": code_version(),
        "key_id": agreement.key_id,
        "key_fingerprint": key_fp,
        **({"report": pack} if pack else {}),
    }
