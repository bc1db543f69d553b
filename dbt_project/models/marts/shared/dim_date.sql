-- One row per day of the reporting window (April 2003 to March 2011), plus an unknown member.
with

days as (
    select cast(day as date) as calendar_date
    from generate_series(date '2003-04-01', date '2011-03-31', interval '1 day') as day
),

final as (
    select
        cast(to_char(calendar_date, 'YYYYMMDD') as integer) as date_id,
        calendar_date,
        cast(date_trunc('month', calendar_date) as date) as month_start_date,
        cast(date_trunc('quarter', calendar_date) as date) as quarter_start_date,
        extract(year from calendar_date)::integer as calendar_year,
        extract(month from calendar_date)::integer as calendar_month,
        to_char(calendar_date, 'Mon YYYY') as month_name,
        {{ financial_year('calendar_date') }} as financial_year,
        ((extract(month from calendar_date)::integer + 8) % 12) / 3 + 1 as financial_quarter,
        extract(isodow from calendar_date)::integer >= 6 as is_weekend
    from days

    union all

    select
        -1, null, null, null, null, null, 'Unknown', 'Unknown', null, null
)

select * from final
