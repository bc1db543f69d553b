with

latest as (
    {{ latest_rows(source('finance', 'finance_ledger'), 'period, cost_centre, account') }}
),

final as (
    select
        md5(period || '|' || cost_centre || '|' || account) as ledger_line_id,
        to_date(period, 'YYYY-MM') as period_month,
        cost_centre,
        service_code,
        la_code,
        account,
        budget_gbp,
        actual_gbp,
        _load_id as load_id,
        _loaded_at as loaded_at
    from latest
)

select * from final
