-- Spend by cost centre x month (all accounts): budget and actual, with the service and
-- district the cost centre serves (area-wide centres have no district: 'UNKNOWN'), as
-- int_ledger_lines_summed_to_cost_centre_months computes it
-- (int_service_costs_divided_by_activity reads it there: no intermediate model reads a mart).
with

costs as (
    select * from {{ ref('int_ledger_lines_summed_to_cost_centre_months') }}
),

final as (
    select
        service_cost_id,
        cost_centre_code,
        service_code,
        la_code,
        month_start_date,
        month_start_date_id,
        financial_year,
        budget_gbp,
        actual_gbp,
        staff_actual_gbp,
        contracts_actual_gbp
    from costs
)

select * from final
