"""Agreement files: every shipped one is valid; each kind of mistake gets a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from warehouse.sharing.agreements import (
    AGREEMENTS_DIR,
    AgreementError,
    all_agreements,
    load_agreement,
)
from warehouse.sharing.pseudonymise import MissingKeyError, Pseudonymiser, env_name, get_key

AGGREGATE = {
    "id": "example",
    "recipient": "Example CSP",
    "purpose": "strategic assessment",
    "legal_basis": "Crime and Disorder Act 1998 s.115",
    "level": "aggregate",
    "disclosure": {"threshold": 8, "rounding": 5, "secondary": True},
    "format": "csv",
    "schedule": "0 6 10 * *",
    "retention_days": 365,
    "datasets": [
        {
            "name": "profile",
            "mart": "jsna_district_profile",
            "period_column": "financial_year",
            "columns": ["la_code", "caseload"],
            "counts": ["caseload"],
        }
    ],
}
RECORD = {
    **AGGREGATE,
    "level": "pseudonymised",
    "disclosure": None,
    "key_id": "example",
    "datasets": [
        {
            "name": "offenders",
            "mart": "fct_offender_year_profile",
            "columns": ["offender_id", "tier_band"],
            "pseudonymise": ["offender_id"],
        }
    ],
}


def _write(tmp_path: Path, doc: dict) -> Path:
    path = tmp_path / f"{doc['id']}.yml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _error(tmp_path: Path, doc: dict) -> str:
    with pytest.raises(AgreementError) as exc:
        load_agreement(_write(tmp_path, doc))
    return str(exc.value)


def test_every_shipped_agreement_is_valid_and_covers_each_kind_of_partner():
    agreements = all_agreements()
    ids = {a.id for a in agreements}
    assert len(agreements) == len(list(AGREEMENTS_DIR.glob("*.yml")))
    assert {a.level for a in agreements} == {"aggregate", "pseudonymised"}
    assert {"dat_manchester", "supporting_people", "regional_commissioner"} <= ids
    assert sum(i.startswith("csp_") for i in ids) == 10  # one per local authority


def test_the_examples_here_are_valid(tmp_path):
    assert load_agreement(_write(tmp_path, AGGREGATE)).id == "example"
    assert load_agreement(_write(tmp_path, RECORD)).level == "pseudonymised"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"datasets": [{**AGGREGATE["datasets"][0], "mart": "fct_nothing"}]},
            "unknown mart 'fct_nothing'",
        ),
        (
            {
                "datasets": [
                    {**AGGREGATE["datasets"][0], "columns": ["la_code", "caseload", "shoe_size"]}
                ]
            },
            "jsna_district_profile has no column 'shoe_size'",
        ),
        ({"schedule": "every tuesday"}, "not a valid cron expression"),
        ({"disclosure": None}, "needs disclosure control"),
        ({"disclosure": {"threshold": 7, "rounding": 5}}, "below the threshold"),
        ({"format": "docx"}, "format"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_a_bad_aggregate_agreement_is_refused_with_the_field_named(tmp_path, change, message):
    text = _error(tmp_path, {**AGGREGATE, **change})
    assert "example.yml" in text and message in text


@pytest.mark.parametrize(
    "identifier", ["crn", "date_of_birth", "surname", "postcode", "pnc_number", "notes"]
)
def test_a_direct_identifier_is_never_allowed(tmp_path, identifier):
    dataset = {**RECORD["datasets"][0], "columns": ["offender_id", identifier]}
    text = _error(tmp_path, {**RECORD, "datasets": [dataset]})
    assert f"'{identifier}' is a direct identifier" in text


def test_record_level_without_pseudonymisation_is_refused(tmp_path):
    dataset = {**RECORD["datasets"][0], "pseudonymise": []}
    text = _error(tmp_path, {**RECORD, "datasets": [dataset]})
    assert "record-level data without pseudonymise" in text
    assert "person key 'offender_id' must be pseudonymised" in text


def test_a_person_key_in_an_aggregate_extract_is_refused(tmp_path):
    dataset = {
        "name": "x",
        "mart": "fct_offender_year_profile",
        "columns": ["offender_id", "tier_band"],
        "counts": [],
        "table": None,
    }
    text = _error(tmp_path, {**AGGREGATE, "datasets": [dataset]})
    assert "'offender_id' is a person key in an aggregate extract" in text


def test_a_missing_or_short_key_is_an_error_never_a_fallback(monkeypatch):
    monkeypatch.delenv(env_name("nobody"), raising=False)
    with pytest.raises(MissingKeyError, match="WAREHOUSE_SHARE_KEY_NOBODY"):
        get_key("nobody")
    monkeypatch.setenv(env_name("nobody"), "short")
    with pytest.raises(MissingKeyError, match="at least 32"):
        get_key("nobody")


def test_pseudonyms_are_stable_per_key_and_unlinkable_across_recipients():
    a, b = Pseudonymiser(b"a" * 32), Pseudonymiser(b"b" * 32)
    assert a("offender_id", 42) == a("offender_id", 42)
    assert a("offender_id", 42) != b("offender_id", 42)
    assert a("offender_id", 42) != a("offender_id", 43)
    assert "42" not in a("offender_id", 42)
