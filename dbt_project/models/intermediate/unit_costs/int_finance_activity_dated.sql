-- Activity volumes by service x district x month x measure (sessions, attendances,
-- completions, unpaid-work hours, supervision months, bed-nights, beds available); the
-- mart fct_service_activity publishes it.
with

activity as (
    select * from {{ ref('stg_finance__activity') }}
),

final as (
    select
        activity_id as service_activity_id,
        service_code,
        coalesce(la_code, 'UNKNOWN') as la_code,
        period_month as month_start_date,
        {{ date_key('period_month') }} as month_start_date_id,
        {{ financial_year('period_month') }} as financial_year,
        measure,
        units
    from activity
)

select * from final
