-- Unit costs by service x district x financial year x unit measure (the yearly rows of
-- int_service_costs_divided_by_activity; the months are in fct_unit_costs_monthly).
with

unit_costs as (
    select * from {{ ref('int_service_costs_divided_by_activity') }}
    where period_type = 'year'
),

final as (
    select
        unit_cost_id,
        service_code,
        la_code,
        financial_year,
        period_start_date,
        {{ date_key('period_start_date') }} as period_start_date_id,
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
