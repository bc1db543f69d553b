-- Every item of ref_oasys_items is unpivoted into fct_assessment_items, no unpivoted item
-- lacks a label, and the seed has as many items per section as ref_need_areas.item_count
-- (the feed's columns). Rows returned = failures.
-- The mart is 64 M rows at scale 16 (a distinct over it took 13 s of every daily run):
-- each seed item is looked up until its first row (every assessment has every item, so
-- the first pages hold them all), and the labels are checked on the rows of the latest
-- build (the built_at index), which hold every item the model writes now.
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
    where built_at = (select max(built_at) from {{ ref('fct_assessment_items') }})
)

select
    seed_items.oasys_section,
    seed_items.item_number,
    'missing from the mart' as problem
from seed_items
left join lateral (
    select true as found
    from {{ ref('fct_assessment_items') }} as mart
    where mart.oasys_section = seed_items.oasys_section
        and mart.item_number = seed_items.item_number
    -- (any row says the item is there)
    limit 1  -- noqa: AM09
) as first_row on true
where first_row.found is null

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
