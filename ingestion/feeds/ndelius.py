"""nDelius (national probation case management) extracts.

Monthly delta extracts as CSV: every row created or changed in the month, with the
source's soft-delete flag and row version (a later version of the same key supersedes the
earlier one in staging).
"""

from __future__ import annotations

from ingestion.reference import codes
from ingestion.schema import Column, Feed

CRN_PATTERN = r"^[A-Z]\d{6}$"
PNC_PATTERN = r"^\d{2,4}/\d{1,7}[A-Z]$"
GENDER_CODES = ("M", "F", "U")
SOFT_DELETE = Column("SOFT_DELETED", "bool", required=True)
ROW_VERSION = Column("ROW_VERSION", "int", required=True, min_value=1)


def _period_regex(feed: str) -> str:
    return rf"{feed}_(?P<period>\d{{4}}-\d{{2}})\.csv"


OFFENDERS = Feed(
    name="ndelius_offenders",
    system="ndelius",
    description="Offenders: identity, demographics, home area and criminal history for OGRS3",
    file_regex=_period_regex("ndelius_offenders"),
    unique_key=("OFFENDER_ID",),
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
        Column("POSTCODE", pattern=r"^[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}$", personal=True),
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
    file_regex=_period_regex("ndelius_events"),
    unique_key=("EVENT_ID",),
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

FEEDS = (OFFENDERS, EVENTS)
