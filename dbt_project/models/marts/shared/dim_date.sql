-- One row per day from 1 January 1990 to 31 March 2013 (every date the feeds accept), plus
-- the unknown member -1. Facts join it on their *_date_id columns (YYYYMMDD integers).
with

days as (
    select cast(day as date) as calendar_date
    from generate_series(date '1990-01-01', date '2013-03-31', interval '1 day') as day
),

final as (
    select
        {{ date_key('calendar_date') }} as date_id,
        calendar_date,
        cast(date_trunc('month', calendar_date) as date) as month_start_date,
        cast(date_trunc('quarter', calendar_date) as date) as quarter_start_date,
        extract(year from calendar_date)::integer as calendar_year,
        extract(quarter from calendar_date)::integer as calendar_quarter,
        extract(month from calendar_date)::integer as calendar_month,
        to_char(calendar_date, 'Mon YYYY') as month_name,
        trim(to_char(calendar_date, 'Month')) as month_of_year_name,
        {{ financial_year('calendar_date') }} as financial_year,
        {{ financial_quarter('calendar_date') }} as financial_quarter,
        {{ financial_year('calendar_date') }} || ' Q' || {{ financial_quarter('calendar_date') }}
            as financial_quarter_name,
        {{ financial_month('calendar_date') }} as financial_month,
        trim(to_char(calendar_date, 'Day')) as day_name,
        extract(isodow from calendar_date)::integer >= 6 as is_weekend
    from days

    union all

    select
        -1,
        null,
        null,
        null,
        null,
        null,
        null,
        'Unknown',
        'Unknown',
        'Unknown',
        null,
        'Unknown',
        null,
        'Unknown',
        null
)

select * from final
