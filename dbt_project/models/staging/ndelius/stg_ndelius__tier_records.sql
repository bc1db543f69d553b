with

latest as (
    {{ latest_rows(
        source('ndelius', 'ndelius_tier_history'), 'tier_history_id', version_column='row_version'
    ) }}
),

final as (
    select
        tier_history_id as tier_record_id,
        offender_id,
        tier::integer as tier,
        start_date as tier_start_date,
        change_reason,
        soft_deleted as is_deleted,
        row_version,
        _load_id as load_id,
        _loaded_at as loaded_at
    from latest
)

select * from final
