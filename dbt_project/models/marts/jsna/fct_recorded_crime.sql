-- Recorded crime (GMAC) by ward x month x crime category, with the district, calendar
-- year and financial year. Aggregate data: no personal data.
with

crimes as (
    select * from {{ ref('stg_gmac__recorded_crimes') }}
),

wards as (
    select * from {{ ref('ref_wards') }}
),

final as (
    select
        crimes.recorded_crime_id,
        crimes.ward_code,
        coalesce(wards.la_code, 'UNKNOWN') as la_code,
        crimes.crime_category_code,
        crimes.period_month as month_start_date,
        {{ date_key('crimes.period_month') }} as month_start_date_id,
        extract(year from crimes.period_month)::integer as calendar_year,
        {{ financial_year('crimes.period_month') }} as financial_year,
        crimes.crimes::integer as recorded_crimes
    from crimes
    left join wards
        on crimes.ward_code = wards.ward_code
)

select * from final
