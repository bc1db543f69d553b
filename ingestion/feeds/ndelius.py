"""nDelius (national probation case management) extracts.

Monthly delta extracts as CSV: every row created or changed in the month, with the
source's soft-delete flag and row version (a later version of the same key supersedes the
earlier one in staging).
"""

from __future__ import annotations

from ingestion.reference import codes
from ingestion.schema import Column, Feed, monthly_csv

CRN_PATTERN = r"^[A-Z][0-9]{6}$"
PNC_PATTERN = r"^[0-9]{2,4}/[0-9]{1,7}[A-Z]$"
GENDER_CODES = ("M", "F", "U")
SOFT_DELETE = Column("SOFT_DELETED", "bool", required=True)
ROW_VERSION = Column("ROW_VERSION", "int", required=True, min_value=1)


OFFENDERS = Feed(
    name="ndelius_offenders",
    system="ndelius",
    description="Offenders: identity, demographics, home area and criminal history for OGRS3",
    file_regex=monthly_csv("ndelius_offenders"),
    unique_key=("OFFENDER_ID",),
    version_column="ROW_VERSION",
    columns=(
        Column("OFFENDER_ID", "int", required=True, min_value=1),
        Column("CRN", required=True, pattern=CRN_PATTERN, personal=True),
        Column("PNC_NUMBER", pattern=PNC_PATTERN, personal=True),
        Column("FIRST_NAME", required=True, personal=True),
        Column("SURNAME", required=True, personal=True),
        Column(
            "DATE_OF_BIRTH",
            "date",
            required=True,
            min_value="1900-01-01",
            max_value="2000-12-31",
            personal=True,
        ),
        Column("GENDER", required=True, codes=GENDER_CODES),
        Column("ETHNICITY", codes=codes("ref_ethnicity", "ethnicity_code")),
        Column("POSTCODE", pattern=r"^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$", personal=True),
        Column("WARD_CODE", codes=codes("ref_wards", "ward_code")),
        Column("LA_CODE", required=True, codes=codes("ref_local_authorities", "la_code")),
        Column("FIRST_SANCTION_DATE", "date", min_value="1910-01-01", max_value="2010-12-31"),
        Column("PREVIOUS_SANCTIONS", "int", min_value=0, max_value=200),
        SOFT_DELETE,
        ROW_VERSION,
    ),
)

EVENTS = Feed(
    name="ndelius_events",
    system="ndelius",
    description="Events: one conviction (offence, dates, sentencing court) per row",
    file_regex=monthly_csv("ndelius_events"),
    unique_key=("EVENT_ID",),
    version_column="ROW_VERSION",
    columns=(
        Column("EVENT_ID", "int", required=True, min_value=1),
        Column("OFFENDER_ID", "int", required=True, min_value=1),
        Column("EVENT_NUMBER", "int", required=True, min_value=1, max_value=999),
        Column(
            "OFFENCE_CODE",
            required=True,
            codes=codes("ref_offence_categories", "offence_category_code"),
        ),
        Column(
            "OFFENCE_DATE", "date", required=True, min_value="1990-01-01", max_value="2010-12-31"
        ),
        Column(
            "CONVICTION_DATE", "date", required=True, min_value="1990-01-01", max_value="2010-12-31"
        ),
        Column("COURT_CODE", required=True, codes=codes("ref_courts", "court_code")),
        SOFT_DELETE,
        ROW_VERSION,
    ),
)

DATE_RANGE = {"min_value": "1990-01-01", "max_value": "2012-12-31"}

DISPOSALS = Feed(
    name="ndelius_disposals",
    system="ndelius",
    description="Disposals (sentences supervised): type, start, length and termination",
    file_regex=monthly_csv("ndelius_disposals"),
    unique_key=("DISPOSAL_ID",),
    version_column="ROW_VERSION",
    columns=(
        Column("DISPOSAL_ID", "int", required=True, min_value=1),
        Column("EVENT_ID", "int", required=True, min_value=1),
        Column("OFFENDER_ID", "int", required=True, min_value=1),
        Column(
            "DISPOSAL_TYPE",
            required=True,
            codes=codes("ref_disposal_types", "disposal_type_code"),
        ),
        Column("START_DATE", "date", required=True, **DATE_RANGE),
        Column("LENGTH_MONTHS", "int", required=True, min_value=1, max_value=120),
        Column("TERMINATION_DATE", "date", **DATE_RANGE),
        Column("TERMINATION_REASON", codes=("COMPLETED", "BREACH", "REVOKED", "DIED", "OTHER")),
        SOFT_DELETE,
        ROW_VERSION,
    ),
)

REQUIREMENTS = Feed(
    name="ndelius_requirements",
    system="ndelius",
    description="Requirements of a disposal (CJA 2003 s.177) and licence conditions",
    file_regex=monthly_csv("ndelius_requirements"),
    unique_key=("REQUIREMENT_ID",),
    version_column="ROW_VERSION",
    columns=(
        Column("REQUIREMENT_ID", "int", required=True, min_value=1),
        Column("DISPOSAL_ID", "int", required=True, min_value=1),
        Column(
            "REQUIREMENT_TYPE",
            required=True,
            codes=codes("ref_requirement_types", "requirement_type_code"),
        ),
        Column("LENGTH", "int", required=True, min_value=1, max_value=1000),
        Column("LENGTH_UNIT", required=True, codes=("HOURS", "DAYS", "SESSIONS", "MONTHS")),
        Column("START_DATE", "date", required=True, **DATE_RANGE),
        SOFT_DELETE,
        ROW_VERSION,
    ),
)

TIER_HISTORY = Feed(
    name="ndelius_tier_history",
    system="ndelius",
    description="Management tier history: one row per tier held, from its start date",
    file_regex=monthly_csv("ndelius_tier_history"),
    unique_key=("TIER_HISTORY_ID",),
    version_column="ROW_VERSION",
    columns=(
        Column("TIER_HISTORY_ID", "int", required=True, min_value=1),
        Column("OFFENDER_ID", "int", required=True, min_value=1),
        Column("TIER", required=True, codes=("1", "2", "3", "4")),
        Column("START_DATE", "date", required=True, **DATE_RANGE),
        Column("CHANGE_REASON", codes=("COMMENCEMENT", "REVIEW", "RISK_CHANGE")),
        SOFT_DELETE,
        ROW_VERSION,
    ),
)

REGISTRATIONS = Feed(
    name="ndelius_registrations",
    system="ndelius",
    description="Risk of serious harm (RoSH) and MAPPA registrations",
    file_regex=monthly_csv("ndelius_registrations"),
    unique_key=("REGISTRATION_ID",),
    version_column="ROW_VERSION",
    columns=(
        Column("REGISTRATION_ID", "int", required=True, min_value=1),
        Column("OFFENDER_ID", "int", required=True, min_value=1),
        Column(
            "REGISTER_CODE",
            required=True,
            codes=("RLRH", "RMRH", "RHRH", "RVHR", "M1", "M2", "M3"),
        ),
        Column("START_DATE", "date", required=True, **DATE_RANGE),
        Column("END_DATE", "date", **DATE_RANGE),
        SOFT_DELETE,
        ROW_VERSION,
    ),
)

COURT_REPORTS = Feed(
    name="ndelius_court_reports",
    system="ndelius",
    description="Court reports (pre-sentence reports): type, dates and the proposed sentence",
    file_regex=monthly_csv("ndelius_court_reports"),
    unique_key=("COURT_REPORT_ID",),
    version_column="ROW_VERSION",
    columns=(
        Column("COURT_REPORT_ID", "int", required=True, min_value=1),
        Column("OFFENDER_ID", "int", required=True, min_value=1),
        Column("EVENT_ID", "int", required=True, min_value=1),
        Column("REPORT_TYPE", required=True, codes=("SDR", "FDR", "ORAL")),
        Column("REQUESTED_DATE", "date", required=True, **DATE_RANGE),
        Column("COMPLETED_DATE", "date", required=True, **DATE_RANGE),
        Column(
            "PROPOSED_SENTENCE",
            required=True,
            codes=("CO", "SSO", "CUSTODY", "FINE", "DISCHARGE"),
        ),
        SOFT_DELETE,
        ROW_VERSION,
    ),
)

FEEDS = (OFFENDERS, EVENTS, DISPOSALS, REQUIREMENTS, TIER_HISTORY, REGISTRATIONS, COURT_REPORTS)
