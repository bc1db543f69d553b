-- The "latest assessment in the year" rule, defined once: one row per OASys assessment,
-- numbered within its offender x financial year from the latest (assessment date, then
-- assessment id, descending); the first is the offender's latest assessment in that year,
-- the one every need-prevalence figure counts. Assessments of an unknown offender
-- (offender_id -1) are never the latest. Read by int_needs_at_latest_assessment_in_year and
-- by the mart fct_assessments (which exposes the flag to BI users). A full rebuild each run:
-- one narrow row per assessment.
with

assessments as (
    select distinct
        assessment_id,
        offender_id,
        financial_year,
        assessment_date
    from {{ ref('int_assessment_needs_scored') }}
),

numbered as (
    select
        assessment_id,
        offender_id,
        financial_year,
        assessment_date,
        cast(
            row_number() over (
                partition by offender_id, financial_year
                order by assessment_date desc, assessment_id desc
            ) as integer
        ) as recency_in_year
    from assessments
),

final as (
    select
        assessment_id,
        offender_id,
        financial_year,
        assessment_date,
        recency_in_year,
        offender_id <> -1 and recency_in_year = 1 as is_latest_in_year
    from numbered
)

select * from final
