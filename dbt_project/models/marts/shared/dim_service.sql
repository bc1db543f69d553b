with

services as (
    select * from {{ ref('ref_services') }}
),

final as (
    select
        service_code,
        service_name,
        service_group,
        unit_measure,
        is_main_intervention
    from services

    union all

    select
        'UNKNOWN',
        'Unknown service',
        'unknown',
        null,
        false
)

select * from final
