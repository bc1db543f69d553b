-- SCD2 offender history dated by the source's own dates: a new version starts on the day
-- nDelius says the offender's tier changed (tier record start) or their risk of serious
-- harm level changed (RoSH registration start or end). valid_from_date is inclusive,
-- valid_to_date exclusive (null = current); the first version of every offender starts on
-- 1900-01-01 (before any dated record: no tier, no RoSH level), so each day has exactly
-- one version and "as at" questions join on
--   valid_from_date <= d and (valid_to_date is null or d < valid_to_date).
-- District and ward carry no dates in the source: every version holds the current ones.
-- Incremental: offenders with an offender record, tier record or registration loaded since
-- the last build are rebuilt whole (rebuild_keys: an offender whose record was deleted
-- has no versions left).
{%- set watched = [
    'stg_ndelius__offenders', 'stg_ndelius__tier_records', 'stg_ndelius__registrations'
] %}  {#- their loads since the last build: changed keys #}
{{
    config(
        materialized='incremental',
        incremental_strategy='rebuild_keys',
        unique_key='offender_id',
        meta={'changed_keys': {'models': watched}},
        pre_hook="{{ stage_changed_keys() }}",
        indexes=[{'columns': ['built_at']}],
    )
}}
-- depends_on: {{ ref('stg_ndelius__offenders') }}
-- depends_on: {{ ref('stg_ndelius__tier_records') }}
with

{% if is_incremental() %}
    changed as (
        select offender_id from {{ changed_keys_table() }}
    ),
{% endif %}

offenders as (
    select * from {{ ref('int_offenders_joined_to_tier_and_rosh') }}
    {% if is_incremental() %}
        where offender_id in (select offender_id from changed)
    {% endif %}
),

tiers as (
    select * from {{ ref('int_tier_records_ranged') }}
    {% if is_incremental() %}
        where offender_id in (select offender_id from changed)
    {% endif %}
),

registrations as (
    select * from {{ ref('stg_ndelius__registrations') }}
    {% if is_incremental() %}
        where offender_id in (select offender_id from changed)
    {% endif %}
),

rosh as (
    select
        registration_id,
        offender_id,
        register_code as rosh_level_code,
        start_date,
        coalesce(end_date, date '9999-12-31') as end_date
    from registrations
    where not is_deleted
        and register_type = 'ROSH'
        and start_date is not null
),

change_dates as (
    select
        offender_id,
        date '1900-01-01' as change_date
    from offenders
    union
    select
        offender_id,
        valid_from
    from tiers
    union
    select
        offender_id,
        start_date
    from rosh
    union
    select
        offender_id,
        end_date
    from rosh
    where end_date < date '9999-12-31'
),

rosh_at as (
    select distinct on (change_dates.offender_id, change_dates.change_date)
        change_dates.offender_id,
        change_dates.change_date,
        rosh.rosh_level_code
    from change_dates
    inner join rosh
        on change_dates.offender_id = rosh.offender_id
        and rosh.start_date <= change_dates.change_date
        and change_dates.change_date < rosh.end_date
    order by
        change_dates.offender_id, change_dates.change_date,
        rosh.start_date desc, rosh.registration_id desc
),

states as (
    select
        change_dates.offender_id,
        change_dates.change_date,
        coalesce(tiers.tier, 0) as tier,
        coalesce(rosh_at.rosh_level_code, 'NONE') as rosh_level_code
    from change_dates
    inner join offenders
        on change_dates.offender_id = offenders.offender_id
    left join tiers
        on change_dates.offender_id = tiers.offender_id
        and change_dates.change_date >= tiers.valid_from
        and change_dates.change_date < tiers.valid_to
    left join rosh_at
        on change_dates.offender_id = rosh_at.offender_id
        and change_dates.change_date = rosh_at.change_date
),

-- a change date that changes nothing (e.g. a tier record repeating the tier) is no version
versions as (
    select *
    from (
        select
            *,
            lag(tier) over by_date as previous_tier,
            lag(rosh_level_code) over by_date as previous_rosh_level_code,
            row_number() over by_date as date_order
        from states
        window by_date as (partition by offender_id order by change_date)
    ) as ordered
    where date_order = 1
        or tier <> previous_tier
        or rosh_level_code <> previous_rosh_level_code
),

final as (
    select
        {{ surrogate_key(['versions.offender_id', 'versions.change_date']) }}
            as offender_version_id,
        versions.offender_id,
        offenders.la_code,
        offenders.ward_code,
        versions.tier,
        versions.rosh_level_code,
        versions.change_date as valid_from_date,
        lead(versions.change_date) over (
            partition by versions.offender_id order by versions.change_date
        ) as valid_to_date
    from versions
    inner join offenders
        on versions.offender_id = offenders.offender_id
)

select
    *,
    valid_to_date is null as is_current,
    {{ sources_loaded_until(watched) }} as sources_loaded_until,
    {{ build_time() }} as built_at
from final

{% if not is_incremental() %}
    union all

    select
        'unknown',
        -1,
        'UNKNOWN',
        'UNKNOWN',
        0,
        'NONE',
        date '1900-01-01',
        null,
        true,
        {{ sources_loaded_until(watched) }},
        {{ build_time() }}
{% endif %}
