with

latest as (
    {{ latest_rows(
        source('ndelius', 'ndelius_court_reports'), 'court_report_id', version_column='row_version'
    ) }}
),

final as (
    select
        court_report_id,
        offender_id,
        event_id,
        report_type,
        requested_date,
        completed_date,
        proposed_sentence,
        soft_deleted as is_deleted,
        row_version,
        _load_id as load_id,
        _loaded_at as loaded_at
    from latest
)

select * from final
