-- Cost by complexity (warehouse/analytics/costing.py, rule in docs/cost_by_complexity.md):
-- the ledger's actual spend of each financial year allocated to offender-years by tier x
-- number of criminogenic needs x OGRS3 band, per service: direct cost by the service's
-- activity driver, overheads on direct cost, cost per offender-year and the marginal
-- (variable) cost of one more case of that complexity. Every year adds up to the ledger.
with

costs as (
    select * from {{ ref('stg_analytics__cost_by_complexity') }}
),

final as (
    select
        {{ surrogate_key(['financial_year', 'tier', 'need_band', 'ogrs3_band', 'service_code']) }}
            as cost_by_complexity_id,
        financial_year,
        tier,
        need_band,
        ogrs3_band,
        service_code,
        offender_years,
        driver,
        driver_units,
        direct_gbp,
        overhead_gbp,
        total_gbp,
        cost_per_offender_year_gbp,
        marginal_cost_per_case_gbp
    from costs
)

select * from final
