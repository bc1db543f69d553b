"""Agreement files: every shipped one is valid; each kind of mistake gets a clear error."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from warehouse.sharing.agreements import (
    AGREEMENTS_DIR,
    AgreementError,
    all_agreements,
    get_agreement,
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


@pytest.mark.parametrize("k", [0, 1, 3, 4])
def test_a_record_level_agreement_with_k_below_5_is_refused(tmp_path, k):
    text = _error(tmp_path, {**RECORD, "k_anonymity": k})
    assert "example.yml" in text and f"k_anonymity: {k} is below the floor of 5" in text


@pytest.mark.parametrize("k", [5, 11])
def test_k_of_5_or_more_is_accepted_and_5_is_the_default(tmp_path, k):
    assert load_agreement(_write(tmp_path, {**RECORD, "k_anonymity": k})).k_anonymity == k
    assert load_agreement(_write(tmp_path, RECORD)).k_anonymity == 5


@pytest.mark.parametrize(
    ("generalise", "message"),
    [
        ({"tier_band": [{"round": 5}]}, "tier_band: {'round': 5}: a step is"),
        ({"offender_id": [{"keep_items": ["x"]}]}, "offender_id: not a released column"),
        ({"gender_code": [{"bands": {"F": "*"}}]}, "gender_code: not a released column"),
    ],
)
def test_a_bad_generalisation_rule_is_refused_with_the_column_named(tmp_path, generalise, message):
    dataset = {**RECORD["datasets"][0], "generalise": generalise}
    text = _error(tmp_path, {**RECORD, "datasets": [dataset]})
    assert f"datasets[0] (offenders).generalise.{message}" in text


def test_never_withhold_names_a_released_column(tmp_path):
    dataset = {**RECORD["datasets"][0], "never_withhold": ["offender_id", "tier_band"]}
    text = _error(tmp_path, {**RECORD, "datasets": [dataset]})
    assert "datasets[0] (offenders).never_withhold: 'offender_id' is not released" in text
    assert "'tier_band' is not released" not in text


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


def test_pseudonyms_of_two_periods_cannot_be_linked():
    key = b"a" * 32
    y1, y2 = Pseudonymiser(key, scope="2007-08"), Pseudonymiser(key, scope="2008-09")
    assert y1("offender_id", 42) == Pseudonymiser(key, "2007-08")("offender_id", 42)
    assert y1("offender_id", 42) != y2("offender_id", 42) != Pseudonymiser(key)("offender_id", 42)


# -- refusals (issue 12, point 5): each test is an attack that must fail --------------------
def _table(mart: str, rows: list[str], columns: str, count: str) -> dict:
    return {
        "name": "t",
        "mart": mart,
        "columns": [*rows, columns, count],
        "table": {"rows": rows, "columns": columns, "count": count},
    }


@pytest.mark.parametrize("threshold", [1, 3, 5, 7])
def test_an_agreement_with_threshold_below_the_floor_is_refused(tmp_path, threshold):
    disclosure = {"threshold": threshold, "rounding": 5, "secondary": True}
    text = _error(tmp_path, {**AGGREGATE, "disclosure": disclosure})
    assert "example.yml" in text and f"disclosure.threshold: {threshold} is below" in text


@pytest.mark.parametrize("rounding", [1, 2, 4])
def test_an_aggregate_agreement_with_rounding_below_5_is_refused(tmp_path, rounding):
    disclosure = {"threshold": 8, "rounding": rounding, "secondary": True}
    text = _error(tmp_path, {**AGGREGATE, "disclosure": disclosure})
    assert "example.yml" in text and f"disclosure.rounding: {rounding} is below" in text


def test_an_aggregate_agreement_without_secondary_suppression_is_refused(tmp_path):
    disclosure = {"threshold": 8, "rounding": 5, "secondary": False}
    text = _error(tmp_path, {**AGGREGATE, "disclosure": disclosure})
    assert "example.yml" in text and "disclosure.secondary:" in text


@pytest.mark.parametrize(
    ("mart", "column", "count"),
    [
        ("fct_reoffending_cohort", "index_date", "reoffence_count"),
        ("fct_convictions", "offence_date", "days_offence_to_conviction"),
        ("fct_assessment_needs", "assessment_date", "score"),
        ("fct_assessment_needs", "assessment_date_id", "score"),
        ("fct_requirements", "sentence_start_date", "requirement_length"),
        ("fct_need_change", "latest_assessment_date", "score_change"),
        ("dim_offender_history", "valid_from_date", "tier"),
    ],
)
def test_an_event_date_in_an_aggregate_table_is_refused(tmp_path, mart, column, count):
    dataset = _table(mart, [column], "la_code", count)
    text = _error(tmp_path, {**AGGREGATE, "datasets": [dataset]})
    assert "example.yml" in text and f"datasets[0] (t).columns: {column!r} is an event date" in text


def test_an_exact_age_in_an_aggregate_table_is_refused(tmp_path):
    dataset = _table("fct_reoffending_cohort", ["age_at_index"], "gender_code", "reoffence_count")
    text = _error(tmp_path, {**AGGREGATE, "datasets": [dataset]})
    assert (
        "example.yml" in text and "datasets[0] (t).columns: 'age_at_index' is an exact age" in text
    )


@pytest.mark.parametrize(
    ("mart", "column", "count"),
    [
        ("fct_reoffending_cohort", "index_disposal_id", "reoffence_count"),
        ("fct_need_change", "first_assessment_id", "score_change"),
        ("fct_convictions", "conviction_id", "days_offence_to_conviction"),
        ("fct_offender_year_profile", "offender_year_id", "tier"),
    ],
)
def test_a_record_key_in_an_aggregate_table_is_refused(tmp_path, mart, column, count):
    dataset = _table(mart, [column], "la_code", count)
    text = _error(tmp_path, {**AGGREGATE, "datasets": [dataset]})
    assert "example.yml" in text and f"datasets[0] (t).columns: {column!r} is a person key" in text


def test_an_aggregate_filtered_down_to_one_person_is_refused(tmp_path):
    dataset = {
        **_table("fct_reoffending_cohort", ["age_band"], "gender_code", "reoffence_count"),
        "filter": {"offender_id": 42},
    }
    text = _error(tmp_path, {**AGGREGATE, "datasets": [dataset]})
    assert "example.yml" in text and "datasets[0] (t).filter: 'offender_id' is a person key" in text


@pytest.mark.parametrize(
    ("mart", "columns", "count"),
    [
        ("fct_reoffending_cohort", ["la_code", "age_band"], "reoffence_count"),
        ("fct_offender_year_profile", ["la_code", "age_band"], "tier"),
        ("dim_offender", ["la_code", "age_band"], "tier"),
        ("fct_assessment_needs", ["la_code", "need_area_code"], "score"),
        ("fct_commencements", ["la_code", "disposal_type_code"], "requirement_count"),
    ],
)
def test_a_person_level_mart_as_a_flat_aggregate_dataset_is_refused(tmp_path, mart, columns, count):
    # one row per person (or record) with its counts rounded is still one row per person
    dataset = {"name": "flat", "mart": mart, "columns": [*columns, count], "counts": [count]}
    text = _error(tmp_path, {**AGGREGATE, "datasets": [dataset]})
    assert "example.yml" in text
    assert f"datasets[0] (flat).mart: {mart} has one row per person or record" in text


def test_a_table_over_a_person_level_mart_by_bands_is_allowed(tmp_path):
    # the rule above is not "never": counts summed over age band x gender pass
    dataset = _table("fct_reoffending_cohort", ["age_band"], "gender_code", "reoffence_count")
    assert load_agreement(_write(tmp_path, {**AGGREGATE, "datasets": [dataset]})).id == "example"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """An agreements folder with one valid agreement, and valid agreements outside it."""
    inside = tmp_path / "agreements"
    inside.mkdir()
    _write(inside, AGGREGATE)
    _write(tmp_path, {**AGGREGATE, "id": "outside"})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _write(elsewhere, {**AGGREGATE, "id": "linked"})
    return inside


@pytest.mark.parametrize(
    "name",
    [
        "../outside",
        "..",
        "./example",
        "sub/example",
        "Example",
        "example.yml",
        "ex ample",
        "example\n",
        "",
        "1example",
        "ex-ample",
        "example\x00",
    ],
)
def test_a_name_that_is_not_an_agreement_name_is_refused(folder, name):
    with pytest.raises(AgreementError, match="is not an agreement name"):
        get_agreement(name, folder)


def test_an_absolute_path_as_a_name_is_refused(folder):
    outside = folder.parent / "outside"
    with pytest.raises(AgreementError, match="is not an agreement name"):
        get_agreement(str(outside), folder)


def test_a_bad_name_is_refused_before_touching_the_filesystem(folder, monkeypatch):
    touched: list[str] = []

    def spy(name: str):
        def refuse(*args, **kwargs):
            touched.append(name)
            raise OSError("this test has no filesystem")

        return refuse

    methods = ("exists", "is_file", "is_dir", "is_symlink", "resolve", "glob", "iterdir")
    with monkeypatch.context() as m:  # undone before pytest needs the filesystem again
        for method in (*methods, "open", "read_text", "stat", "lstat"):
            m.setattr(Path, method, spy(method))
        m.setattr(os, "open", spy("os.open"))
        try:
            get_agreement("../outside", folder)
            outcome: Exception | None = None
        except Exception as exc:  # inspected below, once the patch is undone
            outcome = exc
    assert isinstance(outcome, AgreementError) and "is not an agreement name" in str(outcome)
    assert touched == []


def test_a_symlink_out_of_the_folder_is_refused(folder):
    (folder / "linked.yml").symlink_to(folder.parent / "elsewhere" / "linked.yml")
    with pytest.raises(AgreementError, match="linked.yml: not a regular file"):
        get_agreement("linked", folder)
    with pytest.raises(AgreementError, match="linked.yml: not a regular file"):
        all_agreements(folder)


def test_a_folder_named_like_an_agreement_is_refused(folder):
    (folder / "hollow.yml").mkdir()
    with pytest.raises(AgreementError, match="hollow.yml: not a regular file"):
        get_agreement("hollow", folder)


def test_two_agreements_sharing_a_key_id_are_refused(tmp_path):
    _write(tmp_path, {**RECORD, "id": "dat_one", "recipient": "One", "key_id": "shared"})
    _write(tmp_path, {**RECORD, "id": "dat_two", "recipient": "Two", "key_id": "shared"})
    with pytest.raises(AgreementError) as exc:
        all_agreements(tmp_path)
    text = str(exc.value)
    assert "dat_one.yml" in text and "dat_two.yml" in text and "key_id: 'shared'" in text
    with pytest.raises(AgreementError, match="key_id: 'shared'"):
        get_agreement("dat_two", tmp_path)


def _profile(**dataset) -> dict:
    base = {**AGGREGATE["datasets"][0], **dataset}
    return {**AGGREGATE, "datasets": [base]}


@pytest.mark.parametrize(
    "dataset, message",
    [
        # a share read from the mart beside its rounded count gives the count back
        (
            {"columns": ["la_code", "caseload", "tier_1_share"]},
            "'tier_1_share' is a figure (numeric) but neither a count, a rate, a mean nor public",
        ),
        # a rate must be computed from what the file publishes
        (
            {
                "columns": ["la_code", "caseload", "tier_1_share"],
                "rates": {"tier_1_share": {"of": "tier_1_caseload", "per": "caseload"}},
            },
            "rates.tier_1_share: 'tier_1_caseload' is not a published count",
        ),
        (
            {
                "columns": ["la_code", "caseload", "tier_1_caseload", "tier_1_share"],
                "counts": ["caseload", "tier_1_caseload"],
                "rates": {"tier_1_share": {"of": "tier_1_caseload"}},
            },
            "rates.tier_1_share: needs exactly one of per (a ratio) or minus",
        ),
        (
            {
                "columns": ["la_code", "caseload", "reoffending_predicted_rate"],
                "means": {"reoffending_predicted_rate": "reoffending_cohort_size"},
            },
            "means.reoffending_predicted_rate: 'reoffending_cohort_size' is not one of",
        ),
        (
            {
                "columns": ["la_code", "caseload", "population"],
                "counts": ["caseload", "population"],
                "public": ["population"],
            },
            "'population' is declared twice",
        ),
        # parts: counts of the dataset, each the part of one total
        (
            {
                "columns": ["la_code", "caseload", "tier_1_caseload"],
                "counts": ["caseload"],
                "parts": {"caseload": ["tier_1_caseload"]},
            },
            "parts.caseload: 'tier_1_caseload' is not one of the dataset's counts",
        ),
        (
            {
                "columns": ["la_code", "caseload", "tier_1_caseload"],
                "counts": ["caseload", "tier_1_caseload"],
                "parts": {"caseload": ["tier_1_caseload", "tier_2_caseload"]},
            },
            "parts: 'tier_2_caseload' is not among the dataset's columns",
        ),
        (
            {
                "columns": ["la_code", "caseload", "tier_1_caseload", "tier_2_caseload"],
                "counts": ["caseload", "tier_1_caseload", "tier_2_caseload"],
                "parts": {
                    "caseload": ["tier_1_caseload", "tier_2_caseload"],
                    "tier_1_caseload": ["tier_2_caseload"],
                },
            },
            "parts.caseload: 'tier_1_caseload' is already a total or another part",
        ),
        (
            {
                "columns": ["la_code", "caseload", "tier_1_caseload"],
                "counts": ["caseload", "tier_1_caseload"],
                "parts": {"caseload": []},
            },
            "parts.caseload: names no part",
        ),
    ],
)
def test_every_figure_of_an_aggregate_extract_says_how_it_is_controlled(tmp_path, dataset, message):
    text = _error(tmp_path, _profile(**dataset))
    assert "example.yml" in text and message in text


def test_a_share_computed_from_published_counts_is_accepted(tmp_path):
    doc = _profile(
        columns=["la_code", "population", "caseload", "tier_1_caseload", "tier_1_share"],
        counts=["caseload", "tier_1_caseload"],
        public=["population"],
        rates={"tier_1_share": {"of": "tier_1_caseload", "per": "caseload"}},
    )
    assert load_agreement(_write(tmp_path, doc)).datasets[0].rates["tier_1_share"].per == "caseload"


def test_report_among_the_datasets_is_the_district_pack(tmp_path):
    profile = {**AGGREGATE["datasets"][0], "filter": {"la_code": "E08000001"}}
    agreement = load_agreement(_write(tmp_path, {**AGGREGATE, "datasets": ["report", profile]}))
    assert agreement.report and agreement.report_district() == "E08000001"
    assert [d.name for d in agreement.datasets] == ["profile"]
    assert not load_agreement(_write(tmp_path, AGGREGATE)).report


def test_report_needs_one_district_and_an_aggregate_agreement(tmp_path):
    no_district = {**AGGREGATE, "datasets": ["report", *AGGREGATE["datasets"]]}
    assert "report (the JSNA pack)" in _error(tmp_path, no_district)
    record = {**RECORD, "datasets": ["report", *RECORD["datasets"]]}
    assert "report (the JSNA pack)" in _error(tmp_path, record)


def test_every_csp_agreement_receives_its_district_pack():
    csp = [a for a in all_agreements() if a.id.startswith("csp_")]
    assert len(csp) == 10 and all(a.report for a in csp)
    assert len({a.report_district() for a in csp}) == 10


def test_an_agreement_receiving_the_pack_is_controlled_as_the_pack_is(tmp_path):
    # GIVEN a CSP receiving its district's pack, and an area-wide agreement at threshold 10
    # (the pack is controlled at the strictest of the two)
    profile = {**AGGREGATE["datasets"][0], "filter": {"la_code": "E08000001"}}
    area = {**AGGREGATE, "id": "area", "disclosure": {**AGGREGATE["disclosure"], "threshold": 10}}
    _write(tmp_path, area)
    csp = {**AGGREGATE, "id": "csp", "datasets": ["report", profile]}
    _write(tmp_path, csp)
    # WHEN the CSP's own files are at 8: refused, naming the file, the pack's control and why
    with pytest.raises(AgreementError) as exc:
        all_agreements(tmp_path)
    text = str(exc.value)
    assert "csp.yml: disclosure: receives the JSNA pack of E08000001" in text
    assert "threshold 10 and rounding 5 (the strictest of area, csp)" in text
    assert "combine the two" in text
    # WHEN they are at the pack's control: accepted
    _write(tmp_path, {**csp, "disclosure": area["disclosure"]})
    assert [a.id for a in all_agreements(tmp_path)] == ["area", "csp"]


WARD_TABLE = {
    "name": "ward_need",
    "mart": "jsna_ward_need_areas",
    "filter": {"la_code": "E08000001"},
    "period_column": "financial_year",
    "columns": ["ward_code", "ward_name", "need_area_code", "offenders_with_need"],
    "table": {
        "rows": ["ward_code", "ward_name"],
        "columns": "need_area_code",
        "count": "offenders_with_need",
        "row_total": "ANY",
        "row_total_from": "jsna_ward_need",
    },
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"row_total_from": "jsna_nothing"}, "row_total_from: unknown mart 'jsna_nothing'"),
        ({"row_total": None}, "row_total_from: needs row_total"),
        # the totals' mart must carry the table's rows, count, filter and period columns
        ({"row_total_from": "fct_unit_costs"}, "fct_unit_costs has no column 'ward_code'"),
        ({"row_total_from": "fct_assessment_needs"}, "fct_assessment_needs is person level"),
    ],
)
def test_row_totals_from_another_mart_are_checked(tmp_path, change, message):
    assert load_agreement(_write(tmp_path, {**AGGREGATE, "datasets": [WARD_TABLE]}))
    table = {k: v for k, v in {**WARD_TABLE["table"], **change}.items() if v is not None}
    text = _error(tmp_path, {**AGGREGATE, "datasets": [{**WARD_TABLE, "table": table}]})
    assert "datasets[0] (ward_need).table" in text and message in text, text
