-- Wards with their district and population.
with

wards as (
    select * from {{ ref('ref_wards') }}
),

authorities as (
    select * from {{ ref('ref_local_authorities') }}
),

final as (
    select
        wards.ward_code,
        wards.ward_name,
        wards.la_code,
        authorities.la_name,
        wards.population_2007
    from wards
    left join authorities
        on wards.la_code = authorities.la_code

    union all

    select
        'UNKNOWN',
        'Unknown ward',
        'UNKNOWN',
        'Unknown district',
        null
)

select * from final
