with

source as (
    select * from {{ source('analytics', 'intervention_evaluations') }}
),

final as (
    select * from source
)

-- the analytics step's table, as written; the mart's contract names its columns
select * from final  -- noqa: AM04
