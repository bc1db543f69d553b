-- SCD2 offender history from the snapshot: one row per version of district, ward, tier
-- and RoSH level, valid from/to (valid_to null = current).
with

snapshot as (
    select * from {{ ref('snap_ndelius__offenders') }}
),

final as (
    select
        dbt_scd_id as offender_version_id,
        offender_id,
        la_code,
        ward_code,
        tier,
        rosh_level_code,
        dbt_valid_from as valid_from_at,
        dbt_valid_to as valid_to_at,
        dbt_valid_to is null as is_current
    from snapshot

    union all

    select 'unknown', -1, 'UNKNOWN', 'UNKNOWN', 0, 'NONE', null, null, true
)

select * from final
