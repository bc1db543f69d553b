{%- set watched = [
    'stg_ndelius__disposals', 'stg_ndelius__events', 'stg_ndelius__tier_records',
    'stg_ndelius__offenders'
] %}  {#- their loads since the last build: changed keys #}
{{
    config(
        materialized='incremental',
        incremental_strategy='rebuild_keys',
        unique_key='offender_id',
        meta={'changed_keys': {'models': watched}},
        pre_hook="{{ stage_changed_keys() }}",
        indexes=[
            {'columns': ['offender_id', 'cohort_year'], 'unique': true},
            {'columns': ['built_at']},
        ],
    )
}}
-- depends_on: {{ ref('stg_ndelius__disposals') }}
-- depends_on: {{ ref('stg_ndelius__tier_records') }}
-- depends_on: {{ ref('stg_ndelius__offenders') }}
-- The MoJ cohort: offenders who start a community order / SSO or a licence in a
-- financial year; the first such start in the year is the index event. Carries what
-- OGRS3 needs: age at the index date and at the current conviction, age at first
-- sanction, sanctions so far (including the current one) and the current offence category.
-- Incremental: offenders with a sentence, conviction (event), tier record or offender
-- record loaded since the last build are rebuilt whole (macros/incremental.sql:
-- rebuild_keys); every column is of the offender's own records.
with

{% if is_incremental() %}
    changed as (
        select offender_id from {{ changed_keys_table() }}
    ),
{% endif %}

periods as (
    select * from {{ ref('int_disposals_end_dated') }}
    where sentence_group in ('community', 'licence')
        {% if is_incremental() %}
            and offender_id in (select offender_id from changed)
        {% endif %}
),

events as (
    select * from {{ ref('stg_ndelius__events') }}
    where not is_deleted
        {% if is_incremental() %}
            and offender_id in (select offender_id from changed)
        {% endif %}
),

offenders as (
    select * from {{ ref('int_offenders_joined_to_tier_and_rosh') }}
),

tiers as (
    select * from {{ ref('int_tier_records_ranged') }}
),

firsts as (
    select distinct on (offender_id, {{ financial_year('start_date') }})
        offender_id,
        {{ financial_year('start_date') }} as cohort_year,
        disposal_id,
        event_id,
        disposal_type_code,
        sentence_group,
        start_date as index_date
    from periods
    order by offender_id, {{ financial_year('start_date') }}, start_date, disposal_id
),

sanctions as (
    select
        firsts.offender_id,
        firsts.cohort_year,
        count(events.event_id) as convictions_to_date
    from firsts
    left join events
        on firsts.offender_id = events.offender_id
        and events.conviction_date <= firsts.index_date
    group by firsts.offender_id, firsts.cohort_year
),

final as (
    select
        firsts.offender_id,
        firsts.cohort_year,
        firsts.disposal_id,
        firsts.event_id,
        firsts.disposal_type_code,
        firsts.sentence_group,
        firsts.index_date,
        coalesce(index_event.offence_category_code, 'UNKNOWN') as offence_category_code,
        coalesce(offenders.gender_code, 'U') as gender_code,
        coalesce(offenders.la_code, 'UNKNOWN') as la_code,
        coalesce(tiers.tier, 0) as tier,
        {{ age_on('offenders.date_of_birth', 'firsts.index_date') }} as age_at_index,
        -- OGRS3 (as HMPPS computes it) uses the age at the current conviction
        {{ age_on('offenders.date_of_birth', 'index_event.conviction_date') }}
            as age_at_conviction,
        {{ age_on('offenders.date_of_birth', 'offenders.first_sanction_date') }}
            as age_at_first_sanction,
        -- sanctions before the offender's records began + convictions up to the index date
        -- (at least 1: the current one)
        greatest(
            coalesce(offenders.previous_sanctions, 0) + sanctions.convictions_to_date, 1
        )::integer
            as sanction_count,
        {{ sources_loaded_until(watched) }} as sources_loaded_until,
        {{ build_time() }} as built_at
    from firsts
    inner join sanctions
        on firsts.offender_id = sanctions.offender_id
        and firsts.cohort_year = sanctions.cohort_year
    left join events as index_event
        on firsts.event_id = index_event.event_id
    -- OGRS3 needs the offender's age and history: a sentence of an unknown offender is left out
    inner join offenders
        on firsts.offender_id = offenders.offender_id
    left join tiers
        on firsts.offender_id = tiers.offender_id
        and firsts.index_date >= tiers.valid_from
        and firsts.index_date < tiers.valid_to
)

select * from final
