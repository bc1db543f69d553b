-- Every item of ref_oasys_items is unpivoted into fct_assessment_items, no unpivoted item
-- lacks a label, and the seed has as many items per section as ref_need_areas.item_count
-- (the feed's columns). Rows returned = failures.
with

seed_items as (
    select
        oasys_section,
        item_number
    from {{ ref('ref_oasys_items') }}
),

mart_items as (
    select distinct
        oasys_section,
        item_number,
        item_code
    from {{ ref('fct_assessment_items') }}
)

select
    seed_items.oasys_section,
    seed_items.item_number,
    'missing from the mart' as problem
from seed_items
left join mart_items
    on seed_items.oasys_section = mart_items.oasys_section
    and seed_items.item_number = mart_items.item_number
where mart_items.oasys_section is null

union all

select
    mart_items.oasys_section,
    mart_items.item_number,
    'no label in ref_oasys_items' as problem
from mart_items
left join {{ ref('ref_oasys_items') }} as labels
    on mart_items.item_code = labels.item_code
where labels.item_code is null

union all

select
    need_areas.oasys_section,
    null,
    'item count differs from ref_need_areas' as problem
from {{ ref('ref_need_areas') }} as need_areas
left join (
    select
        oasys_section,
        count(*) as items
    from seed_items
    group by oasys_section
) as counted
    on need_areas.oasys_section = counted.oasys_section
where coalesce(counted.items, 0) <> need_areas.item_count
