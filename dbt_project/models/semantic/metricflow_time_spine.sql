{{ config(materialized='table', schema='intermediate') }}
-- MetricFlow's day time spine (the semantic layer's calendar): one row per day, wider than
-- the data's window so every metric_time falls inside it. Not a mart: BI users read
-- dim_date; MetricFlow reads this.
select cast(day as date) as date_day
from generate_series(date '2000-01-01', date '2015-12-31', interval '1 day') as day
