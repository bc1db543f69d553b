"""The sharing rules an agreement must meet (``../shared/domain.md``, "Sharing data with
partners"), checked against the marts' dbt contracts: no direct identifier ever; person-level
columns only pseudonymised and only in a record-level agreement; disclosure control at least
the floors; columns, filters, rates and breakdowns that exist and make sense.

``problems(agreement)`` names every breach; ``warehouse.sharing.agreements`` refuses an
agreement file that has any.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import TYPE_CHECKING

from warehouse.marts import PERSON_KEYS, contract_columns, mart_columns, person_level_marts
from warehouse.sharing.anonymity import K_FLOOR, AnonymityError, step_from_rule
from warehouse.sharing.disclosure import ROUNDING_FLOOR, THRESHOLD_FLOOR

if TYPE_CHECKING:
    from warehouse.sharing.agreements import Agreement, Dataset

# Never shipped, whatever an agreement asks (domain.md, "Sharing data with partners"):
# CRN, PNC number, names, date of birth, full postcode, free text.
DIRECT_IDENTIFIERS = re.compile(
    r"^(crn|pnc(_number)?|(first|fore|sur|last|family|given)_?name|name|full_name|"
    r"date_of_birth|dob|birth_date|postcode|full_postcode|address.*|notes?|comments?|"
    r"free_text|.*_text|nhs_number|ni_number|attributor)$"
)
# Keys that point at one person or their records (PERSON_KEYS, warehouse/marts.py):
# record-level extracts may carry them only pseudonymised.

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

TABLE_KEYS = {"rows", "columns", "count", "row_total", "row_total_from"}


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
        "parts": [*d.parts, *(c for parts in d.parts.values() for c in parts)],
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
        "parts",
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
    if d.table:  # its counts add up along its own margins
        return (
            [f"{where}.parts: a table's counts are controlled with its margins"] if d.parts else []
        )
    types = {c["name"]: str(c.get("data_type", "")) for c in contract_columns().get(d.mart, [])}
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
    return out + _parts_problems(where, d)


def _parts_problems(where: str, d: Dataset) -> list[str]:
    """Each total and part a count of the dataset; a part of one total only, never a total."""
    out, seen = [], set()
    for total, parts in d.parts.items():
        for col in (total, *parts):
            if col not in d.counts:
                out.append(f"{where}.parts.{total}: {col!r} is not one of the dataset's counts")
        if not parts:
            out.append(f"{where}.parts.{total}: names no part")
        for col in parts:
            if col in d.parts or col in seen:
                out.append(f"{where}.parts.{total}: {col!r} is already a total or another part")
            seen.add(col)
    return out


def _record_problems(where: str, d: Dataset) -> list[str]:
    """A pseudonymised dataset: every person key it carries is pseudonymised."""
    out: list[str] = []
    if not d.pseudonymise:
        out.append(f"{where}: record-level data without pseudonymise (which person key?)")
    for col in d.columns:
        if PERSON_KEYS.match(col) and col not in d.pseudonymise:
            out.append(f"{where}.columns: person key {col!r} must be pseudonymised")
    if d.parts:
        out.append(f"{where}.parts: record-level data has no counts to control")
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
        out += _row_total_source_problems(where, d, marts)
        if a.level == "aggregate":
            out += _aggregate_problems(where, d)
        else:
            out += _record_problems(where, d)
    return out


def _row_total_source_problems(where: str, d: Dataset, marts: dict) -> list[str]:
    """``table.row_total_from``: the aggregate mart holding each row's distinct total (e.g.
    offenders with any need per ward), read with the dataset's filter (but the columns
    column's) and period, with the table's rows and count columns."""
    spec = d.table or {}
    source = spec.get("row_total_from")
    if not source:
        return []
    where = f"{where}.table.row_total_from"
    if not spec.get("row_total"):
        return [f"{where}: needs row_total (the column its totals are published under)"]
    if source not in marts:
        return [f"{where}: unknown mart {source!r}"]
    if source in person_level_marts():
        return [f"{where}: {source} is person level"]
    wanted = [
        *spec.get("rows", []),
        spec.get("count"),
        *(c for c in d.filter if c != spec.get("columns")),
        *([d.period_column] if d.period_column else []),
    ]
    return [f"{where}: {source} has no column {c!r}" for c in wanted if c not in marts[source]]


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


def problems(a: Agreement) -> list[str]:
    """Everything wrong with an agreement under the sharing rules (empty: nothing)."""
    return [
        *_agreement_problems(a),
        *_disclosure_problems(a),
        *_dataset_problems(a),
        *_anonymity_problems(a),
    ]
