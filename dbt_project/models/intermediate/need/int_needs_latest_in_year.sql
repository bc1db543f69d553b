-- Each offender's needs at their latest OASys assessment in each financial year: one row
-- per offender x financial year x section. Built once from fct_assessment_needs (where the
-- need rules live) for the marts that profile a year: the JSNA district profile and ward
-- need, and the offender-year profile that partner extracts read.
{{
    config(
        materialized='incremental',
        unique_key='offender_id',
    )
}}
-- Incremental: offenders with assessment needs (re)built since the last build, whole.
with

{% if is_incremental() %}
changed as (
    {{ changed_since_last_build('offender_id', ['fct_assessment_needs'], 'built_at') }}
),
{% endif %}

needs as (
    select * from {{ ref('fct_assessment_needs') }}
    where offender_id <> -1
    {% if is_incremental() %}
        and offender_id in (select offender_id from changed)
    {% endif %}
),

final as (
    select distinct on (offender_id, financial_year, oasys_section)
        offender_id,
        financial_year,
        oasys_section,
        need_area_code,
        assessment_id,
        assessment_date,
        is_need,
        is_severe_need,
        la_code,
        ward_code,
        {{ build_time() }} as built_at
    from needs
    order by offender_id, financial_year, oasys_section, assessment_date desc, assessment_id desc
)

select * from final
