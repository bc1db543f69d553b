with

latest as (
    {{ latest_rows(
        source('finance', 'finance_activity'), 'period, service_code, la_code, measure'
    ) }}
),

final as (
    select
        md5(period || '|' || service_code || '|' || la_code || '|' || measure) as activity_id,
        to_date(period, 'YYYY-MM') as period_month,
        service_code,
        la_code,
        measure,
        value as units,
        _load_id as load_id,
        _loaded_at as loaded_at
    from latest
)

select * from final
