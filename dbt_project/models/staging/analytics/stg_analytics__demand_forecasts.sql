with

source as (
    select * from {{ source('analytics', 'demand_forecast') }}
),

final as (
    select * from source
)

select * from final
