-- First vs latest assessment per offender x need area, within the offender's latest
-- sentence (event) that has two or more assessments: did the score fall, and did the
-- need go away? (A new sentence starts a new assessment cycle, so change is measured
-- within one.)
with

needs as (
    select * from {{ ref('fct_assessment_needs') }}
    where offender_id <> -1
),

ranked as (
    select
        *,
        row_number() over (
            partition by offender_id, event_id, oasys_section
            order by assessment_date, assessment_id
        ) as first_rank,
        row_number() over (
            partition by offender_id, event_id, oasys_section
            order by assessment_date desc, assessment_id desc
        ) as latest_rank,
        count(*) over (partition by offender_id, event_id, oasys_section) as assessment_count
    from needs
),

latest_cycle as (
    select distinct on (offender_id, oasys_section)
        offender_id,
        oasys_section,
        event_id
    from ranked
    where assessment_count >= 2
    order by offender_id, oasys_section, assessment_date desc, assessment_id desc
),

first_assessment as (
    select ranked.* from ranked
    inner join latest_cycle using (offender_id, oasys_section, event_id)
    where ranked.first_rank = 1
),

latest_assessment as (
    select ranked.* from ranked
    inner join latest_cycle using (offender_id, oasys_section, event_id)
    where ranked.latest_rank = 1
),

final as (
    select
        {{ surrogate_key(['first_assessment.offender_id', 'first_assessment.oasys_section']) }}
            as need_change_id,
        first_assessment.offender_id,
        first_assessment.event_id,
        first_assessment.need_area_code,
        first_assessment.oasys_section,
        first_assessment.assessment_count::integer as assessment_count,
        first_assessment.assessment_id as first_assessment_id,
        latest_assessment.assessment_id as latest_assessment_id,
        first_assessment.assessment_date as first_assessment_date,
        latest_assessment.assessment_date as latest_assessment_date,
        latest_assessment.financial_year as latest_financial_year,
        first_assessment.score as first_score,
        latest_assessment.score as latest_score,
        latest_assessment.score - first_assessment.score as score_change,
        latest_assessment.score < first_assessment.score as is_score_fallen,
        latest_assessment.score > first_assessment.score as is_score_risen,
        first_assessment.is_need as is_need_first,
        latest_assessment.is_need as is_need_latest,
        first_assessment.is_need and not latest_assessment.is_need as is_need_resolved,
        first_assessment.la_code
    from first_assessment
    inner join latest_assessment
        on first_assessment.offender_id = latest_assessment.offender_id
        and first_assessment.oasys_section = latest_assessment.oasys_section
        and first_assessment.event_id = latest_assessment.event_id
)

select * from final
