-- One row per OASys item (35 items of sections 3-12) with its label, section and need area:
-- the labels of fct_assessment_items (join on item_code).
with

items as (
    select * from {{ ref('ref_oasys_items') }}
),

need_areas as (
    select * from {{ ref('ref_need_areas') }}
),

final as (
    select
        items.item_code,
        items.oasys_section,
        items.item_number,
        items.item_name,
        coalesce(need_areas.need_area_code, 'UNKNOWN') as need_area_code,
        coalesce(need_areas.need_area_name, 'Unknown') as need_area_name,
        coalesce(need_areas.has_criminogenic_score, false) as has_criminogenic_score
    from items
    left join need_areas
        on items.oasys_section = need_areas.oasys_section
)

select * from final
