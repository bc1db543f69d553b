"""OASys (Offender Assessment System) extracts: assessments and sentence plan objectives.

Monthly CSV extracts. An assessment row carries every item score of sections 3 to 12
(0 no problem, 1 some, 2 significant) and, per section, whether the assessor linked it to
offending. The 35 item scores share one range rule in the GX suite (one expectation, not
35: GX's cost grows with the number of expectations). Section 5 (finance) and 10
(emotional wellbeing) have no criminogenic-need threshold (see ``ref_need_areas``).
"""

from __future__ import annotations

from ingestion.reference import seed_rows
from ingestion.schema import Column, Feed, monthly_csv

CRN_PATTERN = r"^[A-Z][0-9]{6}$"


def _items() -> tuple[tuple[int, int], ...]:
    """(section, item count) from the need-area reference."""
    return tuple(
        (int(r["oasys_section"]), int(r["item_count"])) for r in seed_rows("ref_need_areas")
    )


SECTIONS = _items()
ITEM_COLUMNS = tuple(f"S{s}_{i}" for s, n in SECTIONS for i in range(1, n + 1))
LINKED_COLUMNS = tuple(f"S{s}_LINKED" for s, _ in SECTIONS)


ASSESSMENTS = Feed(
    name="oasys_assessments",
    system="oasys",
    description="Assessments (start, review, termination) with item scores for sections 3-12",
    file_regex=monthly_csv("oasys_assessments"),
    unique_key=("ASSESSMENT_ID",),
    columns=(
        Column("ASSESSMENT_ID", "int", required=True, min_value=1),
        Column("CRN", required=True, pattern=CRN_PATTERN, personal=True),
        Column("EVENT_ID", "int", min_value=1),
        Column("ASSESSMENT_TYPE", required=True, codes=("START", "REVIEW", "TERMINATION")),
        Column(
            "ASSESSMENT_DATE", "date", required=True, min_value="2000-01-01", max_value="2012-12-31"
        ),
        *(Column(name, "score", min_value=0, max_value=2) for name in ITEM_COLUMNS),
        *(Column(name, "bool") for name in LINKED_COLUMNS),
    ),
)

OBJECTIVES = Feed(
    name="oasys_objectives",
    system="oasys",
    description="Sentence plan objectives: need area, intervention planned, progress status",
    file_regex=monthly_csv("oasys_objectives"),
    unique_key=("OBJECTIVE_ID",),
    columns=(
        Column("OBJECTIVE_ID", "int", required=True, min_value=1),
        Column("ASSESSMENT_ID", "int", required=True, min_value=1),
        Column("CRN", required=True, pattern=CRN_PATTERN, personal=True),
        Column("NEED_SECTION", "int", required=True, min_value=3, max_value=12),
        Column("INTERVENTION_PLANNED", "bool", required=True),
        Column(
            "STATUS",
            required=True,
            codes=("ACHIEVED", "ONGOING", "NOT_ACHIEVED", "NOT_STARTED"),
        ),
        Column(
            "STATUS_DATE", "date", required=True, min_value="2000-01-01", max_value="2012-12-31"
        ),
    ),
)

FEEDS = (ASSESSMENTS, OBJECTIVES)
