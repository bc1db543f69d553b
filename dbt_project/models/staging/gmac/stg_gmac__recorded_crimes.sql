with

latest as (
    {{ latest_rows(source('gmac', 'gmac_crime'), 'ward_code, period, crime_category') }}
),

final as (
    select
        md5(ward_code || '|' || period || '|' || crime_category) as recorded_crime_id,
        ward_code,
        to_date(period, 'YYYY-MM') as period_month,
        crime_category as crime_category_code,
        crimes,
        _load_id as load_id,
        _loaded_at as loaded_at
    from latest
)

select * from final
