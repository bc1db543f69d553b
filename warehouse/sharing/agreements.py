"""Data sharing agreements: one YAML file per partner in ``agreements/``.

An agreement says who receives what, why and how: recipient, purpose, legal basis, the
datasets (a mart, its columns, a row filter), the level (aggregate, or pseudonymised
record-level), disclosure control, file format, schedule (cron), delivery and retention.
``load_agreement`` validates a file against the dbt marts' contracts and the sharing rules
of ``../shared/domain.md`` (``agreement_rules``) and names every problem, with the file and
the field.
``get_agreement`` opens only a regular file directly in ``agreements/`` named by a plain
agreement name, and ``all_agreements`` also refuses two agreements sharing a ``key_id``.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from warehouse.marts import (
    bi_visible_columns,
)
from warehouse.settings import PROJECT_ROOT
from warehouse.sharing import agreement_rules
from warehouse.sharing.anonymity import K_FLOOR
from warehouse.sharing.disclosure import Controls

AGREEMENTS_DIR = PROJECT_ROOT / "agreements"

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
    # counts that split a count without covering it, e.g. {caseload: [tier_1_caseload, ...]}
    # (a few on the caseload have no tier): the parts and the rest they leave of the total
    # (never published) are controlled as one line, so a reader holding the total and the
    # parts cannot work a small rest out
    parts: dict[str, list[str]] = {}
    # {rows: [...], columns: col, count: col}: counts with a summed Total row and column;
    # with row_total: <a value of the columns column> that value holds each row's total of
    # distinct people (a person counted under several columns is one person), so there
    # is no summed Total column; with row_total_from: <mart> those totals come from that
    # aggregate mart (one row per table row: e.g. jsna_ward_need beside jsna_ward_need_areas)
    table: dict[str, Any] | None = None
    pseudonymise: list[str] = []  # record level: person keys replaced by HMAC pseudonyms
    order_by: list[str] = []
    # record level: column -> generalisation steps, coarser and coarser (anonymity.py)
    generalise: dict[str, list[dict[str, Any]]] = {}
    # record level: columns the purpose needs, generalised but never withheld
    never_withhold: list[str] = []

    def marts_read(self) -> list[str]:
        """Its mart, and the mart of its table's row totals (``row_total_from``)."""
        source = (self.table or {}).get("row_total_from")
        return [self.mart, *([source] if source else [])]


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


def quasi_identifiers(d: Dataset) -> list[str]:
    """The released columns a recipient could also know: every column of the dataset that a
    BI-visible mart holds, except the pseudonymised keys (the recipient cannot map them)."""
    visible = bi_visible_columns()
    return [c for c in d.columns if c in visible and c not in d.pseudonymise]


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
    problems = agreement_rules.problems(agreement)
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


def _covers(value: object, la_code: str) -> bool:
    """Whether a dataset's ``la_code`` filter (none, one code or a list) takes the district."""
    if value is None:
        return True
    return la_code in {str(v) for v in (value if isinstance(value, list) else [value])}


def receiving(agreements: list[Agreement], la_code: str) -> list[Agreement]:
    """The aggregate agreements that receive the district's figures: its CSP's, and every
    agreement not limited to another district (the regional commissioner's area-wide
    tables hold the same cohorts)."""
    return [
        a
        for a in agreements
        if a.level == "aggregate"
        and a.disclosure is not None
        and any(_covers(d.filter.get("la_code"), la_code) for d in a.datasets)
    ]


def strictest(agreements: list[Agreement]) -> Controls:
    """The strictest threshold and rounding among the agreements (the floors if none): a
    cell published under two controls is only as safe as the weaker one."""
    found = [a.disclosure for a in agreements if a.disclosure is not None]
    if not found:
        return Controls()
    return Controls(
        threshold=max(c.threshold for c in found), rounding=max(c.rounding for c in found)
    )


def _report_control_clashes(agreements: list[Agreement]) -> list[str]:
    """An agreement receiving its district's JSNA pack delivers it beside its own files, and
    the pack is controlled as strictly as every agreement receiving the district's figures:
    its files must be controlled as the pack is. Two controls in one delivery let the reader
    combine them (a tier shown as 10 is 10..12 in one file and 8..12 in the other; a count
    one hides, the other shows), and confine what each alone protects."""
    out = []
    for a in agreements:
        district = a.report_district() if a.report else None
        if district is None or a.disclosure is None:
            continue
        others = receiving(agreements, district)
        pack = strictest(others)
        if (a.disclosure.threshold, a.disclosure.rounding) != (pack.threshold, pack.rounding):
            out.append(
                f"{a.source}: disclosure: receives the JSNA pack of {district}, controlled "
                f"at threshold {pack.threshold} and rounding {pack.rounding} (the strictest of "
                f"{', '.join(o.id for o in others)}); its own files at threshold "
                f"{a.disclosure.threshold} and rounding {a.disclosure.rounding} would let the "
                "reader combine the two: declare the pack's"
            )
    return out


def all_agreements(folder: Path = AGREEMENTS_DIR) -> list[Agreement]:
    """Every agreement in the folder, each valid, no two sharing a key_id, each receiving a
    JSNA pack controlled as the pack is."""
    agreements = [_parse(*_read_inside(folder, p.stem)) for p in sorted(folder.glob("*.yml"))]
    clashes = _key_id_clashes(agreements) + _report_control_clashes(agreements)
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
