-- Incremental: offenders with a conviction or offender record (district) loaded since the
-- last build are rebuilt whole (macros/incremental.sql: rebuild_keys; an offender whose
-- only conviction was deleted has none left). At scale 16 a month's files touch ~1 in 8
-- offenders: the daily run rewrote every conviction.
{%- set watched = ['stg_ndelius__events', 'stg_ndelius__offenders'] %}
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
with

{% if is_incremental() %}
    changed as (
        select offender_id from {{ changed_keys_table() }}
    ),
{% endif %}

events as (
    select * from {{ ref('stg_ndelius__events') }}
    {% if is_incremental() %}
        where offender_id in (select offender_id from changed)
    {% endif %}
),

offenders as (
    select * from {{ ref('stg_ndelius__offenders') }}
),

final as (
    select
        {{ surrogate_key(['events.event_id']) }} as conviction_id,
        events.event_id,
        events.offender_id,
        coalesce(offenders.la_code, 'UNKNOWN') as la_code,
        events.offence_category_code,
        events.court_code,
        events.offence_date,
        events.conviction_date,
        {{ date_key('events.conviction_date') }} as conviction_date_id,
        {{ date_key('events.offence_date') }} as offence_date_id,
        cast(date_trunc('month', events.conviction_date) as date) as conviction_month,
        {{ financial_year('events.conviction_date') }} as financial_year,
        (events.conviction_date - events.offence_date) as days_offence_to_conviction,
        {{ sources_loaded_until(watched) }} as sources_loaded_until,
        {{ build_time() }} as built_at
    from events
    left join offenders
        on events.offender_id = offenders.offender_id
    where not events.is_deleted
)

select * from final
