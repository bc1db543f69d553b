"""One grain per mart: ``select sum(x)`` over an additive column of a mart equals the whole
derived independently (from staging, or from the fact at its own grain), and a mart's rows
are unique at the grain its description declares. Every mart is covered: a new mart without
a case here fails ``test_every_mart_has_a_grain_case``."""

from __future__ import annotations

import pytest

from warehouse.db import connect

pytestmark = pytest.mark.integration


def _ward_need_case(mart: str, need: str | None) -> tuple[str, str, str]:
    """Offenders with the need (None: any need) summed over wards and years, against the
    distinct offender-years of the latest assessments in the year, living in a ward."""
    which = "true" if need is None else f"need_area_code = '{need}'"
    where = "" if need is None else f" where {which}"
    return (
        f"offenders with {'any' if need is None else 'the ' + need} need",
        f"select sum(offenders_with_need) from marts.{mart}{where}",
        f"""select count(distinct (offender_id, financial_year))
        from intermediate.int_needs_at_latest_assessment_in_year
        where is_need and {which}
            and ward_code in (select ward_code from reference.ref_wards)
            and financial_year in (select financial_year from marts.{mart})""",
    )


# mart -> [(what, select sum over the mart, select the whole independently)]
SUMS: dict[str, list[tuple[str, str, str]]] = {
    # -- OASys items and assessments ------------------------------------------------------
    "fct_assessments": [
        (
            "assessments",
            "select count(*) from marts.fct_assessments",
            "select count(distinct assessment_id) from marts.fct_assessment_needs",
        )
    ],
    "fct_assessment_items": [
        (
            "assessment x item rows",
            "select count(*) from marts.fct_assessment_items",
            "select (select count(*) from marts.fct_assessments)"
            " * (select count(*) from marts.dim_oasys_item)",
        )
    ],
    "dim_oasys_item": [
        (
            "items",
            "select count(*) from marts.dim_oasys_item",
            "select count(*) from reference.ref_oasys_items",
        )
    ],
    # -- analytics marts: what each analytics step wrote, and the ledger -------------------
    "fct_partner_record_links": [
        (
            "links",
            "select count(*) from marts.fct_partner_record_links",
            "select count(*) from linkage.partner_record_links",
        )
    ],
    "jsna_partner_linkage": [
        (
            "district x year rows",
            "select count(*) from marts.jsna_partner_linkage",
            "select count(*) from marts.jsna_district_profile",
        )
    ],
    "fct_demand_forecast": [
        (
            "series x month rows",
            "select count(*) from marts.fct_demand_forecast",
            "select count(*) from analytics.demand_forecast",
        )
    ],
    "fct_intervention_evaluations": [
        (
            "evaluation rows",
            "select count(*) from marts.fct_intervention_evaluations",
            "select count(*) from analytics.intervention_evaluations",
        )
    ],
    "fct_cost_by_complexity": [
        (
            "cost, GBP",
            "select sum(total_gbp) from marts.fct_cost_by_complexity",
            "select sum(actual_gbp) from marts.fct_service_costs"
            " where financial_year in (select financial_year from marts.fct_cost_by_complexity)",
        )
    ],
    "fct_convictions": [
        (
            "convictions",
            "select count(*) from marts.fct_convictions",
            "select count(*) from staging.stg_ndelius__events where not is_deleted",
        )
    ],
    "fct_commencements": [
        (
            "commencements",
            "select count(*) from marts.fct_commencements",
            "select count(*) from staging.stg_ndelius__disposals where not is_deleted",
        ),
        (
            "requirements of commenced sentences",
            "select sum(requirement_count) from marts.fct_commencements",
            """select count(*) from staging.stg_ndelius__requirements as r
            join staging.stg_ndelius__disposals as d using (disposal_id)
            where not r.is_deleted and not d.is_deleted""",
        ),
    ],
    "fct_requirements": [
        (
            "requirement length",
            "select sum(requirement_length) from marts.fct_requirements",
            "select sum(requirement_length) from staging.stg_ndelius__requirements"
            " where not is_deleted",
        )
    ],
    "fct_court_reports": [
        (
            "court reports",
            "select count(*) from marts.fct_court_reports",
            "select count(*) from staging.stg_ndelius__court_reports where not is_deleted",
        )
    ],
    "fct_caseload_monthly": [
        (
            "offender-months",
            "select count(*) from marts.fct_caseload_monthly",
            "select count(distinct (offender_id, month_start_date)) from marts.fct_caseload_monthly",
        )
    ],
    "demand_trends_quarterly": [
        (
            "commencements",
            "select sum(commencements) from marts.demand_trends_quarterly",
            "select count(*) from marts.fct_commencements where start_quarter is not null",
        ),
        (
            "court reports",
            "select sum(court_reports) from marts.demand_trends_quarterly",
            "select count(*) from marts.fct_court_reports where completed_quarter is not null",
        ),
    ],
    "demand_trends_yearly": [
        (
            "requirements",
            "select sum(requirements) from marts.demand_trends_yearly",
            "select count(*) from marts.fct_requirements where sentence_start_quarter is not null",
        ),
        (
            "caseload (offenders in a district in a year)",
            "select sum(caseload) from marts.demand_trends_yearly",
            "select count(distinct (la_code, financial_year, offender_id))"
            " from marts.fct_caseload_monthly",
        ),
    ],
    "fct_assessment_needs": [
        (
            "section scores",
            "select sum(score) from marts.fct_assessment_needs",
            "select sum(score) from intermediate.int_assessment_sections_unpivoted",
        )
    ],
    "fct_need_change": [
        (
            "offender x need area",
            "select count(*) from marts.fct_need_change",
            "select count(distinct (offender_id, need_area_code)) from marts.fct_need_change",
        )
    ],
    "fct_sentence_plan_objectives": [
        (
            "objectives",
            "select count(*) from marts.fct_sentence_plan_objectives",
            "select count(*) from staging.stg_oasys__objectives",
        )
    ],
    "fct_offender_year_profile": [
        (
            "offenders supervised per year",
            "select count(*) from marts.fct_offender_year_profile",
            "select count(distinct (offender_id, financial_year)) from marts.fct_caseload_monthly",
        )
    ],
    "fct_offender_year_requirements": [
        (
            "offender-years with unpaid work (the bridge vs the comma list)",
            "select count(distinct offender_year_id) from marts.fct_offender_year_requirements"
            " where requirement_type_code = 'UPW'",
            "select count(*) from marts.fct_offender_year_profile"
            " where 'UPW' = any(string_to_array(requirement_types, ','))",
        ),
        (
            "type mentions (the bridge vs the comma list)",
            "select count(*) from marts.fct_offender_year_requirements",
            "select count(*) from marts.fct_offender_year_profile,"
            " unnest(string_to_array(nullif(requirement_types, ''), ','))",
        ),
    ],
    "fct_reoffending_cohort": [
        (
            "cohort members",
            "select count(*) from marts.fct_reoffending_cohort",
            "select count(*) from intermediate.int_supervision_starts_first_in_year",
        )
    ],
    "fct_reoffending_outcomes": [
        (
            "members of the complete cohorts",
            "select sum(cohort_size) from marts.fct_reoffending_outcomes",
            """select count(*) from marts.fct_reoffending_cohort where cohort_year in (
                select cohort_year from marts.fct_reoffending_cohort
                group by 1 having bool_and(is_follow_up_complete))""",
        ),
        (
            "reoffences",
            "select sum(reoffences) from marts.fct_reoffending_outcomes",
            "select sum(reoffences) from marts.fct_reoffending_summary",
        ),
    ],
    # one row per cohort year x district: the whole cohort, its reoffenders and reoffences
    "fct_reoffending_summary": [
        (
            f"{measure} of the complete cohorts",
            f"select sum({measure}) from marts.fct_reoffending_summary",
            f"select sum({whole}) from marts.fct_reoffending_outcomes",
        )
        for measure, whole in (
            ("cohort_size", "cohort_size"),
            ("reoffenders", "reoffenders"),
            ("reoffences", "reoffences"),
            ("unscored_offenders", "cohort_size - scored_offenders"),
        )
    ],
    # one row per cohort year x requirement type: over the years of one type, the members
    # whose index sentence carried it
    "fct_reoffending_by_requirement_type": [
        (
            f"cohort members with requirement {code}",
            "select sum(cohort_size) from marts.fct_reoffending_by_requirement_type"
            f" where requirement_type_code = '{code}'",
            f"""select count(distinct (c.offender_id, c.cohort_year))
            from marts.fct_reoffending_cohort as c
            join marts.fct_requirements as r on r.disposal_id = c.index_disposal_id
            where r.requirement_type_code = '{code}' and c.cohort_year in (
                select cohort_year from marts.fct_reoffending_summary)""",
        )
        for code in ("UPW", "DRR")
    ],
    # stacked by dimension for the sharing extracts (no BI role reads it): one dimension at
    # a time is a partition of the cohort
    "fct_reoffending_breakdowns": [
        (
            f"cohort by {dimension}",
            "select sum(cohort_size) from marts.fct_reoffending_breakdowns"
            f" where dimension = '{dimension}'",
            "select sum(cohort_size) from marts.fct_reoffending_outcomes",
        )
        for dimension in ("area", "district", "tier", "gender", "age_band")
    ],
    "fct_service_activity": [
        (
            "units",
            "select sum(units) from marts.fct_service_activity",
            "select sum(units) from staging.stg_finance__activity",
        )
    ],
    "fct_service_costs": [
        (
            "actual spend",
            "select sum(actual_gbp) from marts.fct_service_costs",
            "select sum(actual_gbp) from staging.stg_finance__ledger_lines",
        ),
        (
            "budget",
            "select sum(budget_gbp) from marts.fct_service_costs",
            "select sum(budget_gbp) from staging.stg_finance__ledger_lines",
        ),
    ],
    "fct_unit_costs": [
        (
            "units delivered",
            "select sum(units) from marts.fct_unit_costs",
            "select sum(units) from staging.stg_finance__activity where measure <> 'BEDS_AVAILABLE'",
        )
    ],
    "fct_unit_costs_monthly": [
        (
            "units delivered",
            "select sum(units) from marts.fct_unit_costs_monthly",
            "select sum(units) from staging.stg_finance__activity where measure <> 'BEDS_AVAILABLE'",
        )
    ],
    "fct_recorded_crime": [
        (
            "recorded crimes",
            "select sum(recorded_crimes) from marts.fct_recorded_crime",
            "select sum(crimes) from staging.stg_gmac__recorded_crimes",
        )
    ],
    "fct_supporting_people_clients": [
        (
            "clients",
            "select sum(clients) from marts.fct_supporting_people_clients",
            "select count(*) from staging.stg_supporting_people__clients"
            " where support_start_date is not null",
        )
    ],
    "fct_supporting_people_outcomes": [
        (
            "needs identified (client x domain)",
            "select sum(needs_identified) from marts.fct_supporting_people_outcomes",
            """select count(*) from staging.stg_supporting_people__outcomes as o
            join staging.stg_supporting_people__clients as c using (client_record_id)
            where o.is_need_identified and c.support_start_date is not null""",
        )
    ],
    "jsna_district_profile": [
        (
            "Supporting People episodes of the profile's districts and years",
            "select sum(supporting_people_episodes) from marts.jsna_district_profile",
            """select sum(clients) from marts.fct_supporting_people_clients
            where la_code <> 'UNKNOWN' and financial_year in
                (select financial_year from marts.jsna_district_profile)""",
        ),
        (
            "caseload of the profile's years",
            "select sum(caseload) from marts.jsna_district_profile",
            """select count(distinct (la_code, financial_year, offender_id))
            from marts.fct_caseload_monthly where la_code <> 'UNKNOWN' and financial_year in
                (select financial_year from marts.jsna_district_profile)""",
        ),
    ],
    # one row per ward and year: each offender-year with any need once
    "jsna_ward_need": [_ward_need_case("jsna_ward_need", None)],
    # one row per ward, year and need area: the offenders with the need, per need area
    "jsna_ward_need_areas": [
        _ward_need_case("jsna_ward_need_areas", need) for need in ("ACCOM", "DRUGS")
    ],
    "jsna_indicators": [
        (
            "district numerators = the Greater Manchester numerator",
            "select sum(numerator) from marts.jsna_indicators where area_type = 'district'",
            "select sum(numerator) from marts.jsna_indicators"
            " where area_type = 'greater_manchester'",
        )
    ],
}

# a mart whose grain is its key (the dimensions): one row per member, checked by the
# unique + not_null tests of the build; here the rows of the member list it is made of
MEMBERS = {
    "dim_approved_premises": "ref_approved_premises",
    "dim_court": "ref_courts",
    "dim_crime_category": "ref_crime_categories",
    "dim_district": "ref_local_authorities",
    "dim_need_area": "ref_need_areas",
    "dim_offence_category": "ref_offence_categories",
    "dim_requirement_type": "ref_requirement_types",
    "dim_sentence_type": "ref_disposal_types",
    "dim_service": "ref_services",
    "dim_ward": "ref_wards",
}


def _marts(conn) -> set[str]:  # type: ignore[no-untyped-def]
    return {
        name
        for (name,) in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'"
        )
    }


CASES = [(mart, *case) for mart, cases in SUMS.items() for case in cases]


@pytest.mark.parametrize(("mart", "what", "summed", "whole"), CASES)
def test_a_sum_over_the_mart_is_the_whole(default_warehouse, mart, what, summed, whole):
    with connect(default_warehouse) as conn:
        got = conn.execute(summed).fetchone()[0]
        expected = conn.execute(whole).fetchone()[0]
    assert expected, f"{mart}: the whole of {what} is empty"
    assert got == expected, f"{mart}: sum of {what} {got} != {expected}"


@pytest.mark.parametrize(("mart", "seed"), sorted(MEMBERS.items()))
def test_a_dimension_has_one_row_per_member_and_the_unknown(default_warehouse, mart, seed):
    with connect(default_warehouse) as conn:
        rows = conn.execute(f"select count(*) from marts.{mart}").fetchone()[0]
        members = conn.execute(f"select count(*) from reference.{seed}").fetchone()[0]
    assert members > 0 and rows == members + 1


def test_every_mart_has_a_grain_case(default_warehouse):
    # dimensions made in SQL (dates, tiers, demographics, offenders) are unique on their
    # key by the build's tests; every other mart needs a sum case above
    made_in_sql = {
        "dim_date",
        "dim_tier",
        "dim_demographic",
        "dim_offender",
        "dim_offender_history",
        "dim_cost_centre",
        "dim_ethnicity",
    }
    with connect(default_warehouse) as conn:
        marts = _marts(conn)
    assert marts - set(SUMS) - set(MEMBERS) - made_in_sql == set()
