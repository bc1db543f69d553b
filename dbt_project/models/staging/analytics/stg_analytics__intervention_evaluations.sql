with

source as (
    select * from {{ source('analytics', 'intervention_evaluations') }}
),

final as (
    select * from source
)

select * from final
