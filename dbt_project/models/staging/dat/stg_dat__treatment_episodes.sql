with

latest as (
    {{ latest_rows(source('dat', 'dat_episodes'), 'episode_id') }}
),

final as (
    select
        episode_id as treatment_episode_id,
        initials,
        date_of_birth,
        sex as gender,
        postcode_district,
        la_code,
        substance,
        modality,
        referral_source,
        start_date as episode_start_date,
        discharge_date,
        discharge_reason,
        _load_id as load_id,
        _loaded_at as loaded_at
    from latest
)

select * from final
