"""Data sharing agreements: one YAML file per partner in ``agreements/``.

An agreement says who receives what, why and how: recipient, purpose, legal basis, the
datasets (a mart, its columns, a row filter), the level (aggregate, or pseudonymised
record-level), disclosure control, file format, schedule (cron), delivery and retention.
``load_agreement`` validates a file against the dbt marts' contracts and the sharing rules
of ``../shared/domain.md`` and names every problem, with the file and the field.
``get_agreement`` opens only a regular file directly in ``agreements/`` named by a plain
agreement name, and ``all_agreements`` also refuses two agreements sharing a ``key_id``.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Collection
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from warehouse.settings import PROJECT_ROOT
from warehouse.sharing.anonymity import K_FLOOR, AnonymityError, step_from_rule
from warehouse.sharing.disclosure import ROUNDING_FLOOR, THRESHOLD_FLOOR, Controls

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

# Person-level columns, never in an aggregate extract (its columns or its filter):
# - a person key, also under another name (index_disposal_id, first_assessment_id), or the
#   primary key of a person-level mart (conviction_id, offender_year_id: see below);
RECORD_KEYS = re.compile(
    r"^(\w+_)?(offender|event|disposal|assessment|client_record|cohort_member)_id$"
)
# - the date or time of something that happened to one person (an offence, a sentence, an
#   assessment, a cohort member's index date), also as a date key (assessment_date_id)...
EVENT_DATES = re.compile(r"^(date_of_\w+|\w+_(date|date_id|at|datetime|timestamp))$")
# ...but not the first or last day of a reporting period, which every row of it shares;
PERIOD_DATES = re.compile(r"^((month|quarter|week|year|period)_(start|end)|calendar)_date$")
# - an exact age (age, age_at_index, age_years, current_age); age bands (age_band) are fine.
EXACT_AGES = re.compile(r"^(\w+_)?age(_(at|on|when)_\w+|_years|_in_years|_months)?$")
# A mart whose contract carries a person key has one row per person or per record of a
# person (fct_reoffending_cohort, fct_offender_year_profile, dim_offender, the facts keyed
# by conviction, disposal or assessment). In an aggregate agreement such a mart is read only
# through a ``table:`` (counts summed over rows x columns under disclosure control): a flat
# dataset would ship its rows, one per person, as they are.

TABLE_KEYS = {"rows", "columns", "count", "row_total"}

# What ``get_agreement`` accepts as a name: the stem of a file in ``agreements/``.
AGREEMENT_NAME = re.compile(r"[a-z][a-z0-9_]*")


class AgreementError(ValueError):
    """An agreement file that cannot be used; the message names the file and fields."""


class Delivery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: Literal["outbox", "sftp"] = "outbox"
    sftp_conn_id: str | None = None  # an Airflow connection (SFTP provider)
    remote_path: str | None = None


class Rate(BaseModel):
    """A figure an aggregate extract computes from the figures it publishes, never reads
    from the mart (a rate read from the mart beside a rounded count gives the count back):
    ``of / per * scale``, or ``of - minus``, rounded to ``digits``; with ``within``, the
    ratio of the sums of ``of`` and ``per`` over the published rows sharing those columns
    (an area figure beside its districts)."""

    model_config = ConfigDict(extra="forbid")
    of: str
    per: str | None = None
    minus: str | None = None
    scale: int = Field(default=1, gt=0)
    digits: int = Field(default=4, ge=0, le=8)
    within: list[str] | None = None

    def inputs(self) -> list[str]:
        return [c for c in (self.of, self.per, self.minus) if c]


class Breakdown(BaseModel):
    """Rows of one population stacked in a flat file: the row whose ``by`` column holds
    ``total`` counts everyone; the rows of each ``partitions`` value split them (each
    person in exactly one). Secondary suppression runs across these margins."""

    model_config = ConfigDict(extra="forbid")
    by: str  # the column naming the breakdown (e.g. dimension: area, district, tier, ...)
    total: str  # its value on the row counting everyone (e.g. area)
    partitions: list[str] = Field(min_length=1)  # breakdowns that split the total


class Dataset(BaseModel):
    """One file of a delivery: rows of one mart, some of its columns."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    mart: str
    columns: list[str] = Field(min_length=1)
    filter: dict[str, str | int | list[str | int]] = {}
    period_column: str | None = None  # holds the financial year, e.g. '2008/09'
    # "latest": the latest period up to the one asked for that the mart holds (e.g. the
    # latest complete reoffending cohort: the year's own cohort is followed up later)
    period_match: Literal["equal", "latest"] = "equal"
    counts: list[str] = []  # counts of people or events under disclosure control
    rates: dict[str, Rate] = {}  # computed from the published figures (see Rate)
    means: dict[str, str] = {}  # a mean over the people a count counts -> that count
    public: list[str] = []  # figures not about people (population, money, beds): as they are
    breakdown: Breakdown | None = None
    # {rows: [...], columns: col, count: col}: counts with a summed Total row and column;
    # with row_total: <a value of the columns column> that value holds each row's total of
    # distinct people (a person counted under several columns is one person), so there
    # is no summed Total column
    table: dict[str, Any] | None = None
    pseudonymise: list[str] = []  # record level: person keys replaced by HMAC pseudonyms
    order_by: list[str] = []
    # record level: column -> generalisation steps, coarser and coarser (anonymity.py)
    generalise: dict[str, list[dict[str, Any]]] = {}
    # record level: columns the purpose needs, generalised but never withheld
    never_withhold: list[str] = []


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
    k_anonymity: int = K_FLOOR  # record level: every released class has at least k rows
    source: Path | None = None
    report: bool = False  # `report` among the datasets: the district's JSNA pack (HTML + PDF)

    @model_validator(mode="before")
    @classmethod
    def _report_entry(cls, raw: Any) -> Any:
        """``report`` in the datasets list is the JSNA pack, not a mart's file."""
        if isinstance(raw, dict) and isinstance(raw.get("datasets"), list):
            entries = raw["datasets"]
            if "report" in entries:
                raw = {**raw, "datasets": [d for d in entries if d != "report"], "report": True}
        return raw

    def report_district(self) -> str | None:
        """The district whose pack the agreement receives: its datasets' la_code filter."""
        codes = {str(d.filter["la_code"]) for d in self.datasets if "la_code" in d.filter}
        return codes.pop() if len(codes) == 1 else None


@cache
def _contracts() -> dict[str, list[dict[str, Any]]]:
    """Every mart and its contract's columns, from the dbt project."""
    out: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(MARTS_DIR.glob("*/_*__models.yml")):
        for model in yaml.safe_load(path.read_text()).get("models", []):
            out[model["name"]] = list(model.get("columns", []))
    return out


@cache
def mart_columns() -> dict[str, list[str]]:
    """Every mart and its columns, from the enforced contracts in the dbt project."""
    return {mart: [c["name"] for c in cols] for mart, cols in _contracts().items()}


@cache
def person_level_marts() -> dict[str, frozenset[str]]:
    """The marts with one row per person or per record of a person (their contract carries a
    person key), each with its record keys: those person keys and its primary key."""
    out: dict[str, frozenset[str]] = {}
    for mart, cols in _contracts().items():
        keys = {c["name"] for c in cols if PERSON_KEYS.match(c["name"])}
        if keys:
            primary = {
                c["name"]
                for c in cols
                if any(k.get("type") == "primary_key" for k in c.get("constraints", []))
            }
            out[mart] = frozenset(keys | primary)
    return out


@cache
def bi_visible_columns() -> frozenset[str]:
    """Every column of a mart a BI login can read. bi_reader reads every mart
    (warehouse/sql/access.sql grants SELECT on each one), so: every contract column."""
    return frozenset(c for cols in mart_columns().values() for c in cols)


def quasi_identifiers(d: Dataset) -> list[str]:
    """The released columns a recipient could also know: every column of the dataset that a
    BI-visible mart holds, except the pseudonymised keys (the recipient cannot map them)."""
    visible = bi_visible_columns()
    return [c for c in d.columns if c in visible and c not in d.pseudonymise]


def _person_level(col: str, record_keys: Collection[str]) -> str | None:
    """Why ``col`` describes one person rather than a group (None when it does not)."""
    if RECORD_KEYS.match(col) or col in record_keys:
        return "is a person key"
    if EVENT_DATES.match(col) and not PERIOD_DATES.match(col):
        return "is an event date (a date of one person's record)"
    if EXACT_AGES.match(col):
        return "is an exact age (age bands are fine)"
    return None


def _agreement_problems(a: Agreement) -> list[str]:
    from croniter import croniter

    out: list[str] = []
    if not croniter.is_valid(a.schedule):
        out.append(f"schedule: {a.schedule!r} is not a valid cron expression")
    if a.level == "pseudonymised" and not a.key_id:
        out.append("key_id: a pseudonymised agreement names the recipient's key")
    if a.delivery.method == "sftp" and not (a.delivery.sftp_conn_id and a.delivery.remote_path):
        out.append("delivery: sftp needs sftp_conn_id and remote_path")
    if a.report and (a.level != "aggregate" or a.report_district() is None):
        out.append(
            "datasets: report (the JSNA pack) goes with an aggregate agreement whose "
            "datasets filter on one district (la_code)"
        )
    names = [d.name for d in a.datasets]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        out.append(f"datasets: {dup!r} appears twice")
    return out


def _disclosure_problems(a: Agreement) -> list[str]:
    c = a.disclosure
    if c is None:
        if a.level == "aggregate":
            return ["disclosure: an aggregate agreement needs disclosure control"]
        return []
    out = [f"disclosure: {p}" for p in c.problems()]
    if c.threshold < THRESHOLD_FLOOR:
        out.append(
            f"disclosure.threshold: {c.threshold} is below the floor of {THRESHOLD_FLOOR} "
            f"(the NHS rule: counts 1-{THRESHOLD_FLOOR - 1} are shown as *)"
        )
    if a.level == "aggregate" and c.rounding < ROUNDING_FLOOR:
        out.append(
            f"disclosure.rounding: {c.rounding} is below {ROUNDING_FLOOR} "
            "(an aggregate agreement rounds its counts to at least the nearest 5)"
        )
    if a.level == "aggregate" and not c.secondary:
        out.append(
            "disclosure.secondary: an aggregate agreement keeps secondary suppression "
            "(without it a hidden cell can be worked out from the totals)"
        )
    return out


def _referred(d: Dataset) -> dict[str, list[str]]:
    """Every column the dataset names, by the field that names it."""
    table = d.table or {}
    table_cols = [*table.get("rows", []), table.get("columns"), table.get("count")]
    return {
        "columns": d.columns,
        "filter": list(d.filter),
        "period_column": [d.period_column] if d.period_column else [],
        "counts": d.counts,
        "rates": [*d.rates, *(c for r in d.rates.values() for c in r.inputs())]
        + [c for r in d.rates.values() for c in r.within or []],
        "means": [*d.means, *d.means.values()],
        "public": d.public,
        "breakdown": [d.breakdown.by] if d.breakdown else [],
        "table": [c for c in table_cols if c],
        "pseudonymise": d.pseudonymise,
        "order_by": d.order_by,
    }


def _column_problems(where: str, d: Dataset, known: set[str]) -> list[str]:
    """Columns the mart lacks, direct identifiers, and the dataset's own consistency."""
    referred = _referred(d)
    out = [
        f"{where}.{field}: {d.mart} has no column {col!r}"
        for field, cols in referred.items()
        for col in cols
        if col not in known
    ]
    for col in d.columns:
        if DIRECT_IDENTIFIERS.match(col):
            out.append(f"{where}.columns: {col!r} is a direct identifier and is never shared")
    fields = (
        "counts",
        "rates",
        "means",
        "public",
        "breakdown",
        "table",
        "pseudonymise",
        "order_by",
    )
    for field in fields:
        for col in referred[field]:
            if col in known and col not in d.columns:
                out.append(f"{where}.{field}: {col!r} is not among the dataset's columns")
    if d.table and not {"rows", "columns", "count"} <= set(d.table) <= TABLE_KEYS:
        out.append(f"{where}.table: needs rows, columns and count (and may name a row_total)")
    elif d.table and sorted(d.columns) != sorted(referred["table"]):
        out.append(f"{where}.columns: a table's columns are its rows, columns and count")
    return out


def _aggregate_problems(where: str, d: Dataset) -> list[str]:
    """An aggregate dataset: groups only, never a person's row, key, event date or age."""
    record_keys = person_level_marts().get(d.mart)
    out: list[str] = []
    if d.pseudonymise:
        out.append(f"{where}.pseudonymise: only pseudonymised agreements carry person keys")
    for field, cols in (("columns", d.columns), ("filter", list(d.filter))):
        for col in cols:
            reason = _person_level(col, record_keys or ())
            if reason:
                out.append(f"{where}.{field}: {col!r} {reason} in an aggregate extract")
    if not (d.counts or d.table):
        out.append(f"{where}: an aggregate dataset declares its counts or its table")
    out += _figure_problems(where, d)
    if record_keys and not d.table:
        out.append(
            f"{where}.mart: {d.mart} has one row per person or record (it carries "
            f"{', '.join(sorted(record_keys))}): an aggregate dataset from it must be a "
            "table: (counts summed over rows x columns)"
        )
    return out


NUMERIC_TYPES = re.compile(
    r"^(smallint|integer|int|bigint|numeric.*|decimal.*|real|double.*|float.*)$"
)


def _figure_problems(where: str, d: Dataset) -> list[str]:
    """Every figure of a flat aggregate dataset says what it is, so none is published
    uncontrolled: a count (suppressed and rounded), a rate computed from the published
    figures, a mean published only with its population's count, or a public figure."""
    if d.table:
        return []
    types = {c["name"]: str(c.get("data_type", "")) for c in _contracts().get(d.mart, [])}
    labelled = {*d.counts, *d.rates, *d.means, *d.public}
    out = [
        f"{where}.columns: {col!r} is a figure ({types[col]}) but neither a count, a rate, "
        "a mean nor public: say which, so it is controlled"
        for col in d.columns
        if NUMERIC_TYPES.match(types.get(col, "")) and col not in labelled
    ]
    for col in sorted(set(d.counts) & (set(d.rates) | set(d.means) | set(d.public))):
        out.append(f"{where}.counts: {col!r} is declared twice (a count and something else)")
    known = set(d.counts) | set(d.means) | set(d.public)
    for name, rate in d.rates.items():
        if (rate.per is None) == (rate.minus is None):
            out.append(f"{where}.rates.{name}: needs exactly one of per (a ratio) or minus")
        for col in rate.inputs():
            if col not in known:
                out.append(
                    f"{where}.rates.{name}: {col!r} is not a published count, mean, public "
                    "figure or an earlier rate (a rate is computed from what is published)"
                )
        known.add(name)
    for mean, count in d.means.items():
        if count not in d.counts:
            out.append(f"{where}.means.{mean}: {count!r} is not one of the dataset's counts")
    return out


def _record_problems(where: str, d: Dataset) -> list[str]:
    """A pseudonymised dataset: every person key it carries is pseudonymised."""
    out: list[str] = []
    if not d.pseudonymise:
        out.append(f"{where}: record-level data without pseudonymise (which person key?)")
    for col in d.columns:
        if PERSON_KEYS.match(col) and col not in d.pseudonymise:
            out.append(f"{where}.columns: person key {col!r} must be pseudonymised")
    return out


def _dataset_problems(a: Agreement) -> list[str]:
    marts = mart_columns()
    out: list[str] = []
    for i, d in enumerate(a.datasets):
        where = f"datasets[{i}] ({d.name})"
        if d.mart not in marts:
            out.append(f"{where}: unknown mart {d.mart!r}")
            continue
        out += _column_problems(where, d, set(marts[d.mart]))
        if a.level == "aggregate":
            out += _aggregate_problems(where, d)
        else:
            out += _record_problems(where, d)
    return out


def _anonymity_problems(a: Agreement) -> list[str]:
    """k at or above the floor; generalisation rules on released columns, well formed."""
    out: list[str] = []
    if a.k_anonymity < K_FLOOR:
        out.append(
            f"k_anonymity: {a.k_anonymity} is below the floor of {K_FLOOR} (every row of a "
            f"record-level extract is shared by at least {K_FLOOR} rows on what a recipient "
            "could also know)"
        )
    for i, d in enumerate(a.datasets):
        where = f"datasets[{i}] ({d.name}).generalise"
        if (d.generalise or d.never_withhold) and a.level != "pseudonymised":
            out.append(f"{where}: only record-level (pseudonymised) datasets are generalised")
        for col in d.never_withhold:
            if col not in d.columns or col in d.pseudonymise:
                out.append(f"datasets[{i}] ({d.name}).never_withhold: {col!r} is not released")
        for col, rules in sorted(d.generalise.items()):
            if col not in d.columns or col in d.pseudonymise:
                out.append(f"{where}.{col}: not a released column of the dataset")
            for rule in rules:
                try:
                    step_from_rule(rule)
                except AnonymityError as exc:
                    out.append(f"{where}.{col}: {exc}")
    return out


def _problems(a: Agreement) -> list[str]:
    return [
        *_agreement_problems(a),
        *_disclosure_problems(a),
        *_dataset_problems(a),
        *_anonymity_problems(a),
    ]


def _parse(path: Path, text: str) -> Agreement:
    """Validate the text of one agreement file; every problem is named in one error."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
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


def load_agreement(path: Path) -> Agreement:
    """Read and validate one agreement file; every problem is named in one error."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise AgreementError(f"{path}: cannot read the agreement: {exc}") from exc
    return _parse(path, text)


def _checked_name(name: str) -> str:
    """``name`` if it is a plain agreement name; checked before any file is looked at."""
    if not isinstance(name, str) or not AGREEMENT_NAME.fullmatch(name):
        raise AgreementError(
            f"name {name!r} is not an agreement name: the stem of a file in agreements/, "
            f"matching ^{AGREEMENT_NAME.pattern}$ (no path, no '..', no extension)"
        )
    return name


def _read_inside(folder: Path, name: str) -> tuple[Path, str]:
    """The path and text of ``folder/<name>.yml``, only if it is a regular file directly in
    the folder: never through a symlink, never a directory, FIFO or device."""
    file_name = f"{_checked_name(name)}.yml"  # before anything touches the filesystem
    home = folder.resolve()
    path = home / file_name
    if path.is_symlink() or not path.resolve().is_relative_to(home):
        raise AgreementError(f"{path}: not a regular file in {home} (a symlink)")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)  # O_NOFOLLOW: a symlink swapped in since is refused too
    except FileNotFoundError:
        known = ", ".join(p.stem for p in sorted(home.glob("*.yml"))) or "none"
        raise AgreementError(f"no agreement {name!r} in {home} (known: {known})") from None
    except OSError as exc:
        raise AgreementError(f"{path}: not a regular file in {home}: {exc}") from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise AgreementError(f"{path}: not a regular file in {home}")
    with os.fdopen(fd, "rb") as fh:
        data = fh.read()
    try:
        return path, data.decode()
    except UnicodeDecodeError as exc:
        raise AgreementError(f"{path}: cannot read the agreement: {exc}") from exc


def _key_id_clashes(agreements: list[Agreement]) -> list[str]:
    """Each recipient has its own key (domain.md): two agreements never share a key_id."""
    users: dict[str, list[Agreement]] = {}
    for a in agreements:
        if a.key_id:
            users.setdefault(a.key_id, []).append(a)
    return [
        f"{' and '.join(str(a.source) for a in sharing)}: key_id: {key_id!r} is used by "
        f"{len(sharing)} agreements ({'; '.join(a.recipient for a in sharing)}); each "
        "recipient has its own key, so two partners cannot join their extracts"
        for key_id, sharing in sorted(users.items())
        if len(sharing) > 1
    ]


def all_agreements(folder: Path = AGREEMENTS_DIR) -> list[Agreement]:
    """Every agreement in the folder, each valid, no two sharing a key_id."""
    agreements = [_parse(*_read_inside(folder, p.stem)) for p in sorted(folder.glob("*.yml"))]
    clashes = _key_id_clashes(agreements)
    if clashes:
        raise AgreementError("\n".join(clashes))
    return agreements


def _key_id_users(folder: Path, key_id: str) -> list[Agreement]:
    """The readable, valid agreements in the folder naming ``key_id`` (others are skipped:
    ``all_agreements`` reports them)."""
    users = []
    for p in sorted(folder.glob("*.yml")):
        try:
            a = _parse(*_read_inside(folder, p.stem))
        except AgreementError:
            continue
        if a.key_id == key_id:
            users.append(a)
    return users


def get_agreement(name: str, folder: Path = AGREEMENTS_DIR) -> Agreement:
    """The agreement in ``folder/<name>.yml``. ``name`` is checked before the filesystem is
    touched; the file must be a regular file in the folder; its key_id its own."""
    agreement = _parse(*_read_inside(folder, name))
    if agreement.key_id:
        clashes = _key_id_clashes(_key_id_users(folder, agreement.key_id))
        if clashes:
            raise AgreementError("\n".join(clashes))
    return agreement
