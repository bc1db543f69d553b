-- Activity volumes by service x district x month x measure (sessions, attendances,
-- completions, unpaid-work hours, supervision months, bed-nights, beds available), as
-- int_finance_activity_dated computes them (int_service_costs_divided_by_activity reads
-- them there: no intermediate model reads a mart).
with

activity as (
    select * from {{ ref('int_finance_activity_dated') }}
),

final as (
    select
        service_activity_id,
        service_code,
        la_code,
        month_start_date,
        month_start_date_id,
        financial_year,
        measure,
        units
    from activity
)

select * from final
