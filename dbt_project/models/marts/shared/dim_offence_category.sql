with

categories as (
    select * from {{ ref('ref_offence_categories') }}
),

final as (
    select
        offence_category_code,
        offence_category_name,
        ogrs3_offence_param,
        seriousness_rank
    from categories

    union all

    select
        'UNKNOWN',
        'Unknown offence category',
        null,
        null
)

select * from final
