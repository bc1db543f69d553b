with

latest as (
    {{ latest_rows(source('ndelius', 'ndelius_events'), 'event_id', version_column='row_version') }}
),

final as (
    select
        event_id,
        offender_id,
        event_number,
        offence_code as offence_category_code,
        offence_date,
        conviction_date,
        court_code,
        soft_deleted as is_deleted,
        row_version,
        _load_id as load_id,
        _loaded_at as loaded_at
    from latest
)

select * from final
