-- Offenders as they are now. No names, dates of birth, CRN or PNC: the marts carry the
-- internal offender_id and bands only.
-- Offenders referenced by a sentence, conviction or court report whose own record has not
-- arrived (or was quarantined) are inferred members: known id, unknown attributes, so
-- every fact keeps its real offender_id.
with

offenders as (
    select * from {{ ref('int_offenders_joined_to_tier_and_rosh') }}
),

-- each source's ids without an offender record, then their union: the anti-joins probe the
-- offenders' hash, where a union of every reference first hashed ~23 M ids at scale 16
referenced as (
    select offender_id from {{ ref('int_disposals_end_dated') }}
    union all
    select offender_id from {{ ref('stg_ndelius__events') }}
    union all
    select offender_id from {{ ref('stg_ndelius__court_reports') }}
    union all
    select offender_id from {{ ref('int_assessment_sections_unpivoted') }}
),

inferred as (
    select distinct referenced.offender_id from referenced
    where referenced.offender_id is not null
        and not exists (
            select 1 from offenders
            where offenders.offender_id = referenced.offender_id
        )
),

final as (
    select
        offender_id,
        gender_code,
        ethnicity_code,
        ethnicity_group,
        is_white_british,
        {{ age_band(age_on('date_of_birth', "date '" ~ var('reporting_date') ~ "'")) }} as age_band,
        la_code,
        ward_code,
        tier,
        rosh_level_code,
        mappa_level_code,
        false as is_inferred
    from offenders

    union all

    select
        offender_id,
        'U',
        'NS',
        'Unknown',
        false,
        'Unknown',
        'UNKNOWN',
        'UNKNOWN',
        0,
        'NONE',
        null,
        true
    from inferred

    union all

    select
        -1,
        'U',
        'NS',
        'Unknown',
        false,
        'Unknown',
        'UNKNOWN',
        'UNKNOWN',
        0,
        'NONE',
        null,
        true
)

select * from final
