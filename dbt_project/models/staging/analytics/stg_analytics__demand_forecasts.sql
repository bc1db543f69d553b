with

source as (
    select * from {{ source('analytics', 'demand_forecast') }}
),

final as (
    select * from source
)

-- the analytics step's table, as written; the mart's contract names its columns
select * from final  -- noqa: AM04
