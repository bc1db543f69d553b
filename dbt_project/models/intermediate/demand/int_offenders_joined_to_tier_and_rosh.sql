{{ config(indexes=[{"columns": ["offender_id"], "unique": true}]) }}
-- Each offender as nDelius holds them now: district, ward, current tier and RoSH level
-- (the input of the SCD2 snapshot snap_ndelius__offenders).
with

offenders as (
    select * from {{ ref('stg_ndelius__offenders') }}
    where not is_deleted
),

tiers as (
    select * from {{ ref('int_tier_records_ranged') }}
    where valid_to = date '9999-12-31'
),

rosh as (
    select * from {{ ref('int_registrations_aggregated_to_offenders') }}
),

ethnicity as (
    select * from {{ ref('ref_ethnicity') }}
),

final as (
    select
        offenders.offender_id,
        offenders.gender_code,
        offenders.ethnicity_code,
        coalesce(ethnicity.ethnicity_group, 'Unknown') as ethnicity_group,
        coalesce(ethnicity.is_white_british, false) as is_white_british,
        offenders.date_of_birth,
        coalesce(offenders.la_code, 'UNKNOWN') as la_code,
        coalesce(offenders.ward_code, 'UNKNOWN') as ward_code,
        coalesce(tiers.tier, 0) as tier,
        coalesce(rosh.rosh_level_code, 'NONE') as rosh_level_code,
        rosh.mappa_level_code,
        offenders.first_sanction_date,
        offenders.previous_sanctions
    from offenders
    left join tiers
        on offenders.offender_id = tiers.offender_id
    left join rosh
        on offenders.offender_id = rosh.offender_id
    left join ethnicity
        on offenders.ethnicity_code = ethnicity.ethnicity_code
)

select * from final
