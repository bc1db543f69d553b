with

latest as (
    {{ latest_rows(
        source('ndelius', 'ndelius_registrations'), 'registration_id', version_column='row_version'
    ) }}
),

final as (
    select
        registration_id,
        offender_id,
        register_code,
        case when register_code like 'R%' then 'ROSH' else 'MAPPA' end as register_type,
        start_date,
        end_date,
        soft_deleted as is_deleted,
        row_version,
        _load_id as load_id,
        _loaded_at as loaded_at
    from latest
)

select * from final
