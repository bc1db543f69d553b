-- Local authorities (probation districts / LDUs) with population and ethnic mix.
with

authorities as (
    select * from {{ ref('ref_local_authorities') }}
),

final as (
    select
        la_code,
        la_name,
        la_ons_code_2003,
        population_2007,
        white_british_share,
        ethnic_minority_share
    from authorities

    union all

    select
        'UNKNOWN',
        'Unknown district',
        null,
        null,
        null,
        null
)

select * from final
