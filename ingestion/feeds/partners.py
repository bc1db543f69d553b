"""Partner and finance feeds: trust finance, GMAC recorded crime, DAT treatment, Supporting People.

Finance sends its ledger as one ``.xlsx`` workbook per financial year (sheet ``Ledger``)
and activity volumes as monthly CSV. GMAC recorded crime is aggregate (ward x month x
category). DAT (NDTMS-like) and Supporting People records carry no CRN: DAT identifies a
client by an attributor (initials, date of birth, sex) and a partial postcode; Supporting
People by name, date of birth and postcode.
"""

from __future__ import annotations

from ingestion.reference import codes
from ingestion.schema import Column, Feed, monthly_csv

LA = Column("LA_CODE", required=True, codes=codes("ref_local_authorities", "la_code"))
MONTH = Column("PERIOD", required=True, pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")
DATE_RANGE = {"min_value": "2000-01-01", "max_value": "2012-12-31"}
DOB = Column(
    "DATE_OF_BIRTH",
    "date",
    required=True,
    min_value="1900-01-01",
    max_value="2000-12-31",
    personal=True,
)


FINANCE_LEDGER = Feed(
    name="finance_ledger",
    system="finance",
    description="Trust ledger: budget and actual by cost centre, account and month",
    file_regex=r"finance_ledger_(?P<period>[0-9]{4}-[0-9]{2})\.xlsx",
    file_format="xlsx",
    sheet="Ledger",
    period_kind="financial_year",
    unique_key=("PERIOD", "COST_CENTRE", "ACCOUNT"),
    period_column="PERIOD",
    columns=(
        MONTH,
        Column("COST_CENTRE", required=True, pattern=r"^[A-Z]{2,4}-[A-Z0-9]{2,4}$"),
        Column("SERVICE_CODE", required=True, codes=codes("ref_services", "service_code")),
        Column("LA_CODE", codes=codes("ref_local_authorities", "la_code")),
        Column("ACCOUNT", required=True, codes=("STAFF", "PREMISES", "CONTRACTS", "OTHER")),
        Column("BUDGET_GBP", "numeric", required=True, min_value=-1e8, max_value=1e8),
        Column("ACTUAL_GBP", "numeric", min_value=-1e8, max_value=1e8),
    ),
)

FINANCE_ACTIVITY = Feed(
    name="finance_activity",
    system="finance",
    description="Activity volumes by service, district and month (units for unit costs)",
    file_regex=monthly_csv("finance_activity"),
    unique_key=("PERIOD", "SERVICE_CODE", "LA_CODE", "MEASURE"),
    period_column="PERIOD",
    columns=(
        MONTH,
        Column("SERVICE_CODE", required=True, codes=codes("ref_services", "service_code")),
        LA,
        Column(
            "MEASURE",
            required=True,
            codes=(
                "SESSIONS",
                "ATTENDANCES",
                "COMPLETIONS",
                "UPW_HOURS",
                "SUPERVISION_MONTHS",
                "BED_NIGHTS",
                "BEDS_AVAILABLE",
            ),
        ),
        Column("VALUE", "numeric", required=True, min_value=0, max_value=1e7),
    ),
)

GMAC_CRIME = Feed(
    name="gmac_crime",
    system="gmac",
    description="Recorded crime by ward, month and offence category (aggregate)",
    file_regex=monthly_csv("gmac_crime"),
    unique_key=("WARD_CODE", "PERIOD", "CRIME_CATEGORY"),
    period_column="PERIOD",
    columns=(
        Column("WARD_CODE", required=True, codes=codes("ref_wards", "ward_code")),
        MONTH,
        Column(
            "CRIME_CATEGORY",
            required=True,
            codes=codes("ref_crime_categories", "crime_category_code"),
        ),
        Column("CRIMES", "int", required=True, min_value=0, max_value=100000),
    ),
)

DAT_EPISODES = Feed(
    name="dat_episodes",
    system="dat",
    description="Drug and alcohol treatment episodes (NDTMS-like); no CRN",
    file_regex=monthly_csv("dat_episodes"),
    unique_key=("EPISODE_ID",),
    columns=(
        Column("EPISODE_ID", required=True, pattern=r"^DAT[0-9]{7}$"),
        Column("INITIALS", required=True, pattern=r"^[A-Z]{2}$", personal=True),
        DOB,
        Column("SEX", required=True, codes=("M", "F")),
        Column("POSTCODE_DISTRICT", pattern=r"^[A-Z]{1,2}[0-9]{1,2}[A-Z]?$"),
        LA,
        Column(
            "SUBSTANCE",
            required=True,
            codes=("OPIATES", "CRACK", "COCAINE", "CANNABIS", "AMPHETAMINE", "ALCOHOL", "OTHER"),
        ),
        Column(
            "MODALITY",
            required=True,
            codes=("PRESCRIBING", "PSYCHOSOCIAL", "STRUCTURED_DAY", "INPATIENT", "RESIDENTIAL"),
        ),
        Column("REFERRAL_SOURCE", codes=("CJS", "SELF", "GP", "OTHER")),
        Column("START_DATE", "date", required=True, **DATE_RANGE),
        Column("DISCHARGE_DATE", "date", **DATE_RANGE),
        Column(
            "DISCHARGE_REASON",
            codes=(
                "COMPLETED_FREE",
                "COMPLETED_OCCASIONAL",
                "DROPPED_OUT",
                "TRANSFERRED",
                "PRISON",
            ),
        ),
    ),
)

SP_CLIENTS = Feed(
    name="sp_clients",
    system="supporting_people",
    description="Supporting People client records (housing-related support); no CRN",
    file_regex=monthly_csv("sp_clients"),
    unique_key=("CLIENT_RECORD_ID",),
    columns=(
        Column("CLIENT_RECORD_ID", required=True, pattern=r"^SP[0-9]{7}$"),
        Column("FIRST_NAME", required=True, personal=True),
        Column("SURNAME", required=True, personal=True),
        DOB,
        Column("SEX", codes=("M", "F")),
        Column("POSTCODE", pattern=r"^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$", personal=True),
        LA,
        Column(
            "CLIENT_GROUP",
            required=True,
            codes=(
                "OFFENDERS",
                "HOMELESS",
                "MENTAL_HEALTH",
                "SUBSTANCE_MISUSE",
                "YOUNG_PEOPLE",
                "DOMESTIC_VIOLENCE",
                "OLDER_PEOPLE",
            ),
        ),
        Column("SERVICE_TYPE", required=True, codes=("FLOATING", "ACCOMMODATION_BASED")),
        Column("START_DATE", "date", required=True, **DATE_RANGE),
        Column("END_DATE", "date", **DATE_RANGE),
    ),
)

SP_OUTCOMES = Feed(
    name="sp_outcomes",
    system="supporting_people",
    description="Supporting People outcomes per client record and outcome domain",
    file_regex=monthly_csv("sp_outcomes"),
    unique_key=("CLIENT_RECORD_ID", "OUTCOME_DOMAIN"),
    columns=(
        Column("CLIENT_RECORD_ID", required=True, pattern=r"^SP[0-9]{7}$"),
        Column(
            "OUTCOME_DOMAIN",
            required=True,
            codes=(
                "ECONOMIC_WELLBEING",
                "ENJOY_ACHIEVE",
                "BE_HEALTHY",
                "STAY_SAFE",
                "POSITIVE_CONTRIBUTION",
            ),
        ),
        Column("NEED_IDENTIFIED", "bool", required=True),
        Column("OUTCOME_ACHIEVED", "bool"),
    ),
)

FEEDS = (FINANCE_LEDGER, FINANCE_ACTIVITY, GMAC_CRIME, DAT_EPISODES, SP_CLIENTS, SP_OUTCOMES)
