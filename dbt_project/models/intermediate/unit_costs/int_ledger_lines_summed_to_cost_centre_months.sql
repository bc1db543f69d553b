-- Spend by cost centre x month (all accounts): budget and actual, with the service and
-- district the cost centre serves (area-wide centres have no district: 'UNKNOWN'); the
-- mart fct_service_costs publishes it.
with

ledger as (
    select * from {{ ref('stg_finance__ledger_lines') }}
),

final as (
    select
        {{ surrogate_key(['cost_centre', 'period_month']) }} as service_cost_id,
        cost_centre as cost_centre_code,
        coalesce(max(service_code), 'UNKNOWN') as service_code,
        coalesce(max(la_code), 'UNKNOWN') as la_code,
        period_month as month_start_date,
        {{ date_key('period_month') }} as month_start_date_id,
        {{ financial_year('period_month') }} as financial_year,
        sum(budget_gbp)::numeric(14, 2) as budget_gbp,
        sum(actual_gbp)::numeric(14, 2) as actual_gbp,
        sum(actual_gbp) filter (where account = 'STAFF')::numeric(14, 2) as staff_actual_gbp,
        sum(actual_gbp) filter (where account = 'CONTRACTS')::numeric(14, 2) as contracts_actual_gbp
    from ledger
    group by cost_centre, period_month
)

select * from final
