-- First vs latest assessment per offender x need area, within the offender's latest
-- sentence (event) that has two or more assessments: did the score fall, and did the
-- need go away? (A new sentence starts a new assessment cycle, so change is measured
-- within one.)
{{
    config(
        materialized='incremental',
        unique_key='offender_id',
        indexes=[{'columns': ['built_at']}],
    )
}}
with

{% if is_incremental() %}
-- incremental: offenders with assessment needs (re)built since the last build, whole
    changed as (
        {{ changed_since_last_build('offender_id', ['fct_assessment_needs'], 'built_at') }}
    ),
{% endif %}

needs as (
    select
        offender_id,
        event_id,
        oasys_section,
        need_area_code,
        assessment_id,
        assessment_date,
        financial_year,
        score,
        is_need,
        la_code
    from {{ ref('fct_assessment_needs') }}
    where offender_id <> -1
        {% if is_incremental() %}
            and offender_id in (select offender_id from changed)
        {% endif %}
),

-- one sort: each assessment's place in its cycle (offender x sentence x section), and the
-- cycle's size; the latest assessment of a cycle is the one ranked last
ranked as (
    select
        *,
        row_number() over (
            partition by offender_id, event_id, oasys_section
            order by assessment_date, assessment_id
        ) as assessment_rank,
        count(*) over (partition by offender_id, event_id, oasys_section) as assessment_count
    from needs
),

-- first and latest assessment of each cycle side by side (no self-join: the planner
-- cannot estimate the rank filters and would loop)
cycles as (
    select
        offender_id,
        event_id,
        oasys_section,
        max(need_area_code) as need_area_code,
        max(assessment_count) as assessment_count,
        max(assessment_id) filter (where assessment_rank = 1) as first_assessment_id,
        max(assessment_id) filter (where assessment_rank = assessment_count)
            as latest_assessment_id,
        max(assessment_date) filter (where assessment_rank = 1) as first_assessment_date,
        max(assessment_date) filter (where assessment_rank = assessment_count)
            as latest_assessment_date,
        max(financial_year) filter (where assessment_rank = assessment_count)
            as latest_financial_year,
        max(score) filter (where assessment_rank = 1) as first_score,
        max(score) filter (where assessment_rank = assessment_count) as latest_score,
        bool_or(is_need) filter (where assessment_rank = 1) as is_need_first,
        bool_or(is_need) filter (where assessment_rank = assessment_count) as is_need_latest,
        max(la_code) filter (where assessment_rank = 1) as la_code
    from ranked
    where assessment_count >= 2 and assessment_rank in (1, assessment_count)
    group by offender_id, event_id, oasys_section
),

-- the offender's latest cycle with two or more assessments, per section
latest_cycle as (
    select distinct on (offender_id, oasys_section) *
    from cycles
    order by offender_id, oasys_section, latest_assessment_date desc, latest_assessment_id desc
),

final as (
    select
        {{ surrogate_key(['offender_id', 'oasys_section']) }} as need_change_id,
        offender_id,
        event_id,
        need_area_code,
        oasys_section,
        assessment_count::integer as assessment_count,
        first_assessment_id,
        latest_assessment_id,
        first_assessment_date,
        latest_assessment_date,
        {{ date_key('latest_assessment_date') }} as latest_assessment_date_id,
        latest_financial_year,
        first_score,
        latest_score,
        latest_score - first_score as score_change,
        latest_score < first_score as is_score_fallen,
        latest_score > first_score as is_score_risen,
        is_need_first,
        is_need_latest,
        is_need_first and not is_need_latest as is_need_resolved,
        la_code,
        {{ build_time() }} as built_at
    from latest_cycle
)

select * from final
