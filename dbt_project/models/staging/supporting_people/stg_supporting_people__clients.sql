with

latest as (
    {{ latest_rows(source('supporting_people', 'sp_clients'), 'client_record_id') }}
),

final as (
    select
        client_record_id,
        first_name,
        surname,
        date_of_birth,
        sex as gender,
        postcode,
        la_code,
        client_group,
        service_type,
        start_date as support_start_date,
        end_date as support_end_date,
        _load_id as load_id,
        _loaded_at as loaded_at
    from latest
)

select * from final
