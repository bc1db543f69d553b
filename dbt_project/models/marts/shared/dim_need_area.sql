-- OASys need areas (sections 3 to 12) with their need and severe-need thresholds.
with

need_areas as (
    select * from {{ ref('ref_need_areas') }}
),

final as (
    select
        need_area_code,
        oasys_section,
        need_area_name,
        item_count,
        need_threshold,
        severe_threshold,
        has_criminogenic_score
    from need_areas

    union all

    select
        'UNKNOWN',
        0,
        'Unknown need area',
        0,
        null,
        null,
        false
)

select * from final
