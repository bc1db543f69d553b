-- Recorded crime (GMAC) categories with their readable names.
with

categories as (
    select * from {{ ref('ref_crime_categories') }}
),

final as (
    select
        crime_category_code,
        crime_category_name,
        share_of_recorded_crime
    from categories

    union all

    select
        'UNKNOWN',
        'Unknown crime category',
        null
)

select * from final
