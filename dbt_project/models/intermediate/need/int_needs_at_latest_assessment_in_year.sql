-- Each offender's needs at their latest OASys assessment in each financial year: one row
-- per offender x financial year x section. The need rules come from
-- int_assessment_needs_scored and the latest-in-year rule from
-- int_assessments_latest_in_year (both intermediate: this model reads no mart). Read by the
-- marts that profile a year: the JSNA district profile and ward need, and the
-- offender-year profile that partner extracts read.
{{
    config(
        materialized='incremental',
        unique_key='offender_id',
        indexes=[{'columns': ['built_at']}],
    )
}}
-- Incremental: offenders with assessment needs (re)built since the last build, whole.
with

{% if is_incremental() %}
    changed as (
        {{ changed_since_last_build('offender_id', ['int_assessment_needs_scored'], 'built_at') }}
    ),
{% endif %}

needs as (
    select * from {{ ref('int_assessment_needs_scored') }}
    where offender_id <> -1
        {% if is_incremental() %}
            and offender_id in (select offender_id from changed)
        {% endif %}
),

latest as (
    select assessment_id from {{ ref('int_assessments_latest_in_year') }}
    where is_latest_in_year
),

final as (
    select
        needs.offender_id,
        needs.financial_year,
        needs.oasys_section,
        needs.need_area_code,
        needs.assessment_id,
        needs.assessment_date,
        needs.is_need,
        needs.is_severe_need,
        needs.la_code,
        needs.ward_code,
        {{ build_time() }} as built_at
    from needs
    inner join latest
        on needs.assessment_id = latest.assessment_id
)

select * from final
