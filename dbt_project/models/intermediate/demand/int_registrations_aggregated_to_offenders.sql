-- The risk of serious harm (RoSH) level each offender holds now (the latest open
-- registration), and the highest MAPPA level.
with

registrations as (
    select * from {{ ref('stg_ndelius__registrations') }}
    where not is_deleted
),

rosh as (
    select distinct on (offender_id)
        offender_id,
        register_code as rosh_level_code
    from registrations
    where register_type = 'ROSH'
        and end_date is null
    order by offender_id, start_date desc, registration_id desc
),

mappa as (
    select
        offender_id,
        max(register_code) as mappa_level_code
    from registrations
    where register_type = 'MAPPA'
        and end_date is null
    group by offender_id
),

final as (
    select
        coalesce(rosh.offender_id, mappa.offender_id) as offender_id,
        rosh.rosh_level_code,
        mappa.mappa_level_code
    from rosh
    full outer join mappa
        on rosh.offender_id = mappa.offender_id
)

select * from final
