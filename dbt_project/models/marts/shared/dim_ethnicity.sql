-- Ethnicity codes (16+1 census categories) with their readable names and groups.
with

ethnicity as (
    select * from {{ ref('ref_ethnicity') }}
),

final as (
    select
        ethnicity_code,
        ethnicity_name,
        ethnicity_group,
        is_white_british
    from ethnicity

    union all

    select
        'NS',
        'Not stated',
        'Unknown',
        false
    where not exists (
            select 1 from ethnicity
            where ethnicity_code = 'NS'
        )
)

select * from final
