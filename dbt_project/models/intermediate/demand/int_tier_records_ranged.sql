{{ config(indexes=[{"columns": ["offender_id", "valid_from"]}]) }}
-- Tier history as validity ranges: each record holds from its start until the next one.
with

tiers as (
    select * from {{ ref('stg_ndelius__tier_records') }}
    where not is_deleted
        and tier_start_date is not null
),

final as (
    select
        tier_record_id,
        offender_id,
        tier,
        tier_start_date as valid_from,
        coalesce(
            lead(tier_start_date) over (
                partition by offender_id order by tier_start_date, tier_record_id
            ),
            date '9999-12-31'
        ) as valid_to,
        change_reason
    from tiers
)

select * from final
