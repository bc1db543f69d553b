"""The marts as their dbt contracts declare them (``dbt_project/models/marts/**/*.yml``).

Read by the Soda contract generator (``warehouse.soda_contracts``), the sharing rules
(``warehouse.sharing.agreements``) and the access matrix's test: one reader of the yml.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from warehouse.settings import PROJECT_ROOT

MARTS_DIR = PROJECT_ROOT / "dbt_project" / "models" / "marts"
# Keys that point at one person or their records (record-level extracts may carry them
# only pseudonymised); a mart whose contract carries one is person level.
PERSON_KEYS = re.compile(r"^(offender|event|disposal|assessment|client_record|cohort_member)_id$")


def read_models(folder: Path = MARTS_DIR) -> dict[str, tuple[dict[str, Any], Path]]:
    """Every model declared in a yml under ``folder``: name -> (its yml entry, the yml)."""
    found: dict[str, tuple[dict[str, Any], Path]] = {}
    for path in sorted(folder.rglob("*.yml")):
        for model in (yaml.safe_load(path.read_text()) or {}).get("models") or []:
            found[model["name"]] = (model, path)
    return found


@cache
def contract_columns() -> dict[str, list[dict[str, Any]]]:
    """Every mart and its contract's columns (the yml entries)."""
    return {name: list(m.get("columns") or []) for name, (m, _) in read_models().items()}


@cache
def mart_columns() -> dict[str, list[str]]:
    """Every mart and its columns, from the enforced contracts in the dbt project."""
    return {mart: [c["name"] for c in cols] for mart, cols in contract_columns().items()}


@cache
def person_level_marts() -> dict[str, frozenset[str]]:
    """The marts with one row per person or per record of a person (their contract carries a
    person key), each with its record keys: those person keys and its primary key."""
    out: dict[str, frozenset[str]] = {}
    for mart, cols in contract_columns().items():
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
