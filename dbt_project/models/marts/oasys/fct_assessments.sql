-- One row per OASys assessment: when, which sentence, the offender's district and ward,
-- how many needs and severe needs it found, and the "latest assessment in the year" flag
-- (from int_assessments_latest_in_year, the rule every need-prevalence figure uses):
-- filter `is_latest_in_year` to count each offender once per financial year. The
-- assessment-grain companion of fct_assessment_needs (assessment x need area) and
-- fct_assessment_items (assessment x item).
-- Incremental: the "latest in the year" flag of an assessment depends on the offender's
-- other assessments that year, so every assessment of an offender with an assessment
-- (re)scored since the last build is rebuilt, and of the offender it belonged to before
-- (an assessment whose CRN found its offender record moves from offender -1): the
-- offenders int_assessments_latest_in_year numbered again, by the same rule.
{{
    config(
        materialized='incremental',
        unique_key='assessment_id',
        indexes=[{'columns': ['built_at']}],
    )
}}
with

{% if is_incremental() %}
    -- the offenders whose assessments int_assessments_latest_in_year numbered again since
    -- the last build: those with an assessment (re)scored, and those one left that have
    -- assessments still (the assessment's own row is replaced by its id)
    changed as (
        select distinct offender_id from {{ ref('int_assessments_latest_in_year') }}
        where built_at > {{ built_since_last_build() }}
    ),
{% endif %}

needs as (
    select * from {{ ref('int_assessment_needs_scored') }}
    {% if is_incremental() %}
        where offender_id in (select offender_id from changed)
    {% endif %}
),

latest as (
    select * from {{ ref('int_assessments_latest_in_year') }}
    {% if is_incremental() %}
        where offender_id in (select offender_id from changed)
    {% endif %}
),

assessments as (
    select
        assessment_id,
        min(offender_id) as offender_id,
        min(event_id) as event_id,
        min(assessment_type) as assessment_type,
        min(assessment_date) as assessment_date,
        min(assessment_date_id) as assessment_date_id,
        min(financial_year) as financial_year,
        min(la_code) as la_code,
        min(ward_code) as ward_code,
        min(tier_at_assessment) as tier_at_assessment,
        min(gender_code) as gender_code,
        min(age_band) as age_band,
        cast(count(*) filter (where is_need) as integer) as need_count,
        cast(count(*) filter (where is_severe_need) as integer) as severe_need_count
    from needs
    group by assessment_id
),

final as (
    select
        assessments.assessment_id,
        assessments.offender_id,
        assessments.event_id,
        assessments.assessment_type,
        assessments.assessment_date,
        assessments.assessment_date_id,
        assessments.financial_year,
        assessments.la_code,
        assessments.ward_code,
        assessments.tier_at_assessment,
        assessments.gender_code,
        assessments.age_band,
        assessments.need_count,
        assessments.severe_need_count,
        latest.recency_in_year,
        latest.is_latest_in_year,
        {{ build_time() }} as built_at
    from assessments
    inner join latest
        on assessments.assessment_id = latest.assessment_id
)

select * from final
