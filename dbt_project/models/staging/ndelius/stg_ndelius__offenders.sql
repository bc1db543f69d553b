with

latest as (
-- a delta extract can deliver the same offender again: keep the highest row version
    {{ latest_rows(
        source('ndelius', 'ndelius_offenders'), 'offender_id', version_column='row_version'
    ) }}
),

final as (
    select
        offender_id,
        crn,
        pnc_number,
        first_name,
        surname,
        date_of_birth,
        gender as gender_code,
        coalesce(ethnicity, 'NS') as ethnicity_code,
        postcode,
        ward_code,
        la_code,
        first_sanction_date,
        previous_sanctions,
        soft_deleted as is_deleted,
        row_version,
        _load_id as load_id,
        _loaded_at as loaded_at
    from latest
)

select * from final
