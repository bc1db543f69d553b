with

source as (
    select * from {{ source('analytics', 'cost_by_complexity') }}
),

final as (
    select * from source
)

select * from final
