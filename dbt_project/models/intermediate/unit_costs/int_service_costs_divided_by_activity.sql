-- Unit costs of both period lengths: service x district x period (each month and each
-- financial year) x unit measure; the marts fct_unit_costs_monthly and fct_unit_costs
-- (financial years) each expose one of them, so a sum over a mart never mixes the two.
-- cost per unit = actual spend / units delivered in the same period; a period
-- with no units has no unit cost (null), never a division error or infinity.
-- benchmark index = the district's unit cost / the whole area's unit cost x 100.
-- Approved premises also carry capacity (bed-nights available) and utilisation.
with

costs as (
    select * from {{ ref('int_ledger_lines_summed_to_cost_centre_months') }}
),

activity as (
    select * from {{ ref('int_finance_activity_dated') }}
),

periods as (
    select
        'month' as period_type,
        month_start_date,
        financial_year,
        to_char(month_start_date, 'YYYY-MM') as period
    from (
        select distinct
            month_start_date,
            financial_year
        from activity
    ) as m
    union all
    select
        'year',
        min(month_start_date),
        financial_year,
        financial_year
    from activity
    group by financial_year
),

cost_by_period as (
    select
        periods.period_type,
        periods.period,
        costs.service_code,
        costs.la_code,
        sum(costs.actual_gbp) as actual_gbp
    from costs
    inner join periods
        on (periods.period_type = 'month' and costs.month_start_date = periods.month_start_date)
        or (periods.period_type = 'year' and costs.financial_year = periods.period)
    group by 1, 2, 3, 4
),

activity_by_period as (
    select
        periods.period_type,
        periods.period,
        periods.month_start_date as period_month,
        periods.financial_year as period_financial_year,
        activity.*
    from activity
    inner join periods
        on (periods.period_type = 'month' and activity.month_start_date = periods.month_start_date)
        or (periods.period_type = 'year' and activity.financial_year = periods.period)
),

units_by_period as (
    select
        period_type,
        period,
        min(period_month) as period_start_date,
        min(period_financial_year) as financial_year,
        service_code,
        la_code,
        measure,
        sum(units) as units
    from activity_by_period
    where measure <> 'BEDS_AVAILABLE'
    group by period_type, period, service_code, la_code, measure
),

capacity as (
    select
        period_type,
        period,
        la_code,
        sum(units) as beds_available
    from activity_by_period
    where measure = 'BEDS_AVAILABLE'
    group by period_type, period, la_code
),

district as (
    select
        units_by_period.*,
        cost_by_period.actual_gbp,
        cost_by_period.actual_gbp / nullif(units_by_period.units, 0) as cost_per_unit_gbp
    from units_by_period
    left join cost_by_period
        on units_by_period.period_type = cost_by_period.period_type
        and units_by_period.period = cost_by_period.period
        and units_by_period.service_code = cost_by_period.service_code
        and units_by_period.la_code = cost_by_period.la_code
),

area as (
    select
        period_type,
        period,
        service_code,
        measure,
        sum(actual_gbp) / nullif(sum(units) filter (where actual_gbp is not null), 0)
            as area_cost_per_unit_gbp
    from district
    group by 1, 2, 3, 4
),

final as (
    select
        {{ surrogate_key(
            [
                'district.period_type',
                'district.period',
                'district.service_code',
                'district.la_code',
                'district.measure',
            ]
        ) }}
            as unit_cost_id,
        district.service_code,
        district.la_code,
        district.period_type,
        district.period,
        district.period_start_date,
        district.financial_year,
        district.measure as unit_measure,
        district.units,
        district.actual_gbp::numeric(14, 2) as actual_gbp,
        round(district.cost_per_unit_gbp, 2)::numeric(14, 2) as cost_per_unit_gbp,
        round(area.area_cost_per_unit_gbp, 2)::numeric(14, 2) as area_cost_per_unit_gbp,
        round(100 * district.cost_per_unit_gbp / nullif(area.area_cost_per_unit_gbp, 0), 1)
            as benchmark_index,
        previous.units as previous_year_units,
        round(district.units / nullif(previous.units, 0), 3) as volume_vs_previous_year,
        capacity.beds_available,
        round(district.units / nullif(capacity.beds_available, 0), 3) as utilisation
    from district
    left join area
        on district.period_type = area.period_type
        and district.period = area.period
        and district.service_code = area.service_code
        and district.measure = area.measure
    left join district as previous
        on district.period_type = previous.period_type
        and district.service_code = previous.service_code
        and district.la_code = previous.la_code
        and district.measure = previous.measure
        and previous.period_start_date = (district.period_start_date - interval '1 year')::date
    left join capacity
        on district.service_code = 'AP'
        and district.measure = 'BED_NIGHTS'
        and district.period_type = capacity.period_type
        and district.period = capacity.period
        and district.la_code = capacity.la_code
)

select * from final
