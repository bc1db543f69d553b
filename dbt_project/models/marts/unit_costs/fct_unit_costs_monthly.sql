-- Unit costs by service x district x month x unit measure (the monthly rows of
-- int_service_costs_divided_by_activity; the financial years are in fct_unit_costs).
with

unit_costs as (
    select * from {{ ref('int_service_costs_divided_by_activity') }}
    where period_type = 'month'
),

final as (
    select
        unit_cost_id,
        service_code,
        la_code,
        period_start_date as month_start_date,
        {{ date_key('period_start_date') }} as month_start_date_id,
        financial_year,
        unit_measure,
        units,
        actual_gbp,
        cost_per_unit_gbp,
        area_cost_per_unit_gbp,
        benchmark_index,
        previous_year_units,
        volume_vs_previous_year,
        beds_available,
        utilisation
    from unit_costs
)

select * from final
