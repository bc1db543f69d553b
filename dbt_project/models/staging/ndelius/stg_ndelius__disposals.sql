with

latest as (
    {{ latest_rows(
        source('ndelius', 'ndelius_disposals'), 'disposal_id', version_column='row_version'
    ) }}
),

final as (
    select
        disposal_id,
        event_id,
        offender_id,
        disposal_type as disposal_type_code,
        start_date,
        length_months,
        termination_date,
        termination_reason,
        soft_deleted as is_deleted,
        row_version,
        _load_id as load_id,
        _loaded_at as loaded_at
    from latest
)

select * from final
