-- Sentence plan objectives: the path from need identified -> intervention planned ->
-- outcome (achieved / ongoing / not achieved / not started).
{{
    config(
        materialized='incremental',
        unique_key='objective_id',
        indexes=[{'columns': ['built_at']}],
    )
}}
-- Incremental: objectives loaded since the last build, and those of assessments whose need
-- rows were (re)built since, are (re)computed.
with

{% if is_incremental() %}
    changed_assessments as (
        {{ changed_since_last_build('assessment_id', ['fct_assessment_needs'], 'built_at') }}
    ),
{% endif %}

objectives as (
    {% if is_incremental() %}
    {{ new_or_of_changed_keys(
        'stg_oasys__objectives', 'loaded_at', 'assessment_id', 'changed_assessments'
    ) }}
    {% else %}
        select * from {{ ref('stg_oasys__objectives') }}
    {% endif %}
),

needs as (
    select * from {{ ref('fct_assessment_needs') }}
    {% if is_incremental() %}
        where assessment_id in (select assessment_id from objectives)
    {% endif %}
),

need_areas as (
    select * from {{ ref('ref_need_areas') }}
),

final as (
    select
        objectives.objective_id,
        objectives.assessment_id,
        coalesce(needs.offender_id, -1) as offender_id,
        coalesce(need_areas.need_area_code, 'UNKNOWN') as need_area_code,
        objectives.oasys_section,
        needs.assessment_date,
        {{ date_key('needs.assessment_date') }} as assessment_date_id,
        coalesce(needs.financial_year, 'Unknown') as financial_year,
        coalesce(needs.is_need, false) as is_need_identified,
        objectives.is_intervention_planned,
        objectives.objective_status,
        objectives.objective_status = 'ACHIEVED' as is_achieved,
        case
            when not objectives.is_intervention_planned then 'no intervention planned'
            when objectives.objective_status = 'ACHIEVED' then 'achieved'
            when objectives.objective_status = 'ONGOING' then 'ongoing'
            when objectives.objective_status = 'NOT_ACHIEVED' then 'not achieved'
            else 'not started'
        end as plan_stage,
        objectives.status_date,
        coalesce(needs.la_code, 'UNKNOWN') as la_code,
        objectives.loaded_at,
        {{ build_time() }} as built_at
    from objectives
    left join need_areas
        on objectives.oasys_section = need_areas.oasys_section
    left join needs
        on objectives.assessment_id = needs.assessment_id
        and objectives.oasys_section = needs.oasys_section
)

select * from final
