with

events as (
    select * from {{ ref('stg_ndelius__events') }}
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
        (events.conviction_date - events.offence_date) as days_offence_to_conviction
    from events
    left join offenders
        on events.offender_id = offenders.offender_id
    where not events.is_deleted
)

select * from final
