"""Data sharing agreements: one YAML file per partner in ``agreements/``.

An agreement says who receives what, why and how: recipient, purpose, legal basis, the
datasets (a mart, its columns, a row filter), the level (aggregate, or pseudonymised
record-level), disclosure control, file format, schedule (cron), delivery and retention.
``load_agreement`` validates a file against the dbt marts' contracts and the sharing rules
of ``../shared/domain.md`` and names every problem, with the file and the field.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from warehouse.settings import PROJECT_ROOT
from warehouse.sharing.disclosure import Controls

AGREEMENTS_DIR = PROJECT_ROOT / "agreements"
MARTS_DIR = PROJECT_ROOT / "dbt_project" / "models" / "marts"

# Never shipped, whatever an agreement asks (domain.md, "Sharing data with partners"):
# CRN, PNC number, names, date of birth, full postcode, free text.
DIRECT_IDENTIFIERS = re.compile(
    r"^(crn|pnc(_number)?|(first|fore|sur|last|family|given)_?name|name|full_name|"
    r"date_of_birth|dob|birth_date|postcode|full_postcode|address.*|notes?|comments?|"
    r"free_text|.*_text|nhs_number|ni_number|attributor)$"
)
# Keys that point at one person or their records: record-level extracts may carry them
# only pseudonymised.
PERSON_KEYS = re.compile(r"^(offender|event|disposal|assessment|client_record|cohort_member)_id$")


class AgreementError(ValueError):
    """An agreement file that cannot be used; the message names the file and fields."""


class Delivery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: Literal["outbox", "sftp"] = "outbox"
    sftp_conn_id: str | None = None  # an Airflow connection (SFTP provider)
    remote_path: str | None = None


class Dataset(BaseModel):
    """One file of a delivery: rows of one mart, some of its columns."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    mart: str
    columns: list[str] = Field(min_length=1)
    filter: dict[str, str | int | list[str | int]] = {}
    period_column: str | None = None  # holds the financial year, e.g. '2008/09'
    counts: list[str] = []  # counts under disclosure control (aggregate level)
    rates: dict[str, str] = {}  # rate column -> the count it is derived from
    table: dict[str, Any] | None = None  # {rows: [...], columns: col, count: col}
    pseudonymise: list[str] = []  # record level: person keys replaced by HMAC pseudonyms
    order_by: list[str] = []


class Agreement(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    recipient: str
    purpose: str
    legal_basis: str
    level: Literal["aggregate", "pseudonymised"]
    datasets: list[Dataset] = Field(min_length=1)
    disclosure: Controls | None = None
    format: Literal["csv", "parquet", "xlsx"] = "csv"
    schedule: str
    delivery: Delivery = Delivery()
    retention_days: int = Field(gt=0)
    key_id: str | None = None  # names the recipient's pseudonymisation key (never the key)
    source: Path | None = None


@cache
def mart_columns() -> dict[str, list[str]]:
    """Every mart and its columns, from the enforced contracts in the dbt project."""
    out: dict[str, list[str]] = {}
    for path in sorted(MARTS_DIR.glob("*/_*__models.yml")):
        for model in yaml.safe_load(path.read_text()).get("models", []):
            out[model["name"]] = [c["name"] for c in model.get("columns", [])]
    return out


def _problems(a: Agreement) -> list[str]:
    from croniter import croniter

    marts = mart_columns()
    out: list[str] = []
    if not croniter.is_valid(a.schedule):
        out.append(f"schedule: {a.schedule!r} is not a valid cron expression")
    if a.level == "aggregate" and a.disclosure is None:
        out.append("disclosure: an aggregate agreement needs disclosure control")
    if a.disclosure is not None:
        out += [f"disclosure: {p}" for p in a.disclosure.problems()]
    if a.level == "pseudonymised" and not a.key_id:
        out.append("key_id: a pseudonymised agreement names the recipient's key")
    if a.delivery.method == "sftp" and not (a.delivery.sftp_conn_id and a.delivery.remote_path):
        out.append("delivery: sftp needs sftp_conn_id and remote_path")
    names = [d.name for d in a.datasets]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        out.append(f"datasets: {dup!r} appears twice")
    for i, d in enumerate(a.datasets):
        where = f"datasets[{i}] ({d.name})"
        if d.mart not in marts:
            out.append(f"{where}: unknown mart {d.mart!r}")
            continue
        known = set(marts[d.mart])
        table = d.table or {}
        table_cols = [*table.get("rows", []), table.get("columns"), table.get("count")]
        referred = {
            "columns": d.columns,
            "filter": list(d.filter),
            "period_column": [d.period_column] if d.period_column else [],
            "counts": d.counts,
            "rates": [*d.rates, *d.rates.values()],
            "table": [c for c in table_cols if c],
            "pseudonymise": d.pseudonymise,
            "order_by": d.order_by,
        }
        for field, cols in referred.items():
            for col in cols:
                if col not in known:
                    out.append(f"{where}.{field}: {d.mart} has no column {col!r}")
        for col in d.columns:
            if DIRECT_IDENTIFIERS.match(col):
                out.append(f"{where}.columns: {col!r} is a direct identifier and is never shared")
        for field in ("counts", "rates", "table", "pseudonymise", "order_by"):
            for col in referred[field]:
                if col in known and col not in d.columns:
                    out.append(f"{where}.{field}: {col!r} is not among the dataset's columns")
        if d.table and set(d.table) != {"rows", "columns", "count"}:
            out.append(f"{where}.table: needs exactly rows, columns and count")
        elif d.table and sorted(d.columns) != sorted(c for c in table_cols if c):
            out.append(f"{where}.columns: a table's columns are its rows, columns and count")
        if d.pseudonymise and a.level != "pseudonymised":
            out.append(f"{where}.pseudonymise: only pseudonymised agreements carry person keys")
        person_keys = [c for c in d.columns if PERSON_KEYS.match(c)]
        if a.level == "aggregate":
            for col in person_keys:
                out.append(f"{where}.columns: {col!r} is a person key in an aggregate extract")
            if not (d.counts or d.table):
                out.append(f"{where}: an aggregate dataset declares its counts or its table")
        else:
            if not d.pseudonymise:
                out.append(f"{where}: record-level data without pseudonymise (which person key?)")
            for col in person_keys:
                if col not in d.pseudonymise:
                    out.append(f"{where}.columns: person key {col!r} must be pseudonymised")
    return out


def load_agreement(path: Path) -> Agreement:
    """Read and validate one agreement file; every problem is named in one error."""
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise AgreementError(f"{path}: cannot read the agreement: {exc}") from exc
    if not isinstance(raw, dict):
        raise AgreementError(f"{path}: an agreement is a YAML mapping")
    try:
        agreement = Agreement(**raw, source=path)
    except ValidationError as exc:
        lines = [f"  {'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise AgreementError(f"{path}: invalid agreement:\n" + "\n".join(lines)) from None
    problems = _problems(agreement)
    if agreement.id != path.stem:
        problems.insert(0, f"id: {agreement.id!r} differs from the file name {path.stem!r}")
    if problems:
        raise AgreementError(
            f"{path}: invalid agreement:\n" + "\n".join(f"  {p}" for p in problems)
        )
    return agreement


def all_agreements(folder: Path = AGREEMENTS_DIR) -> list[Agreement]:
    return [load_agreement(p) for p in sorted(folder.glob("*.yml"))]


def get_agreement(name: str, folder: Path = AGREEMENTS_DIR) -> Agreement:
    path = folder / f"{name}.yml"
    if not path.exists():
        known = ", ".join(p.stem for p in sorted(folder.glob("*.yml"))) or "none"
        raise AgreementError(f"no agreement {name!r} in {folder} (known: {known})")
    return load_agreement(path)
