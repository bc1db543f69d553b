with

latest as (
    {{ latest_rows(source('oasys', 'oasys_objectives'), 'objective_id') }}
),

final as (
    select
        objective_id,
        assessment_id,
        crn,
        need_section as oasys_section,
        intervention_planned as is_intervention_planned,
        status as objective_status,
        status_date,
        _load_id as load_id,
        _loaded_at as loaded_at
    from latest
)

select * from final
