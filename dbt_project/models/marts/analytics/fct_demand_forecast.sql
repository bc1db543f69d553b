-- Demand forecast (warehouse/analytics/forecast.py): one row per series (measure x
-- district x requirement type) x forecast month, 12 months ahead, with 80 % and 95 %
-- prediction intervals, the model chosen by AICc and the series' rolling-origin backtest
-- (MASE against the seasonal naive forecast).
with

forecasts as (
    select * from {{ ref('stg_analytics__demand_forecasts') }}
),

final as (
    select
        {{ surrogate_key(['measure', 'la_code', 'subtype', 'month_start_date']) }}
            as demand_forecast_id,
        measure,
        la_code,
        subtype as requirement_type_code,
        month_start_date,
        {{ financial_year('month_start_date') }} as financial_year,
        horizon_months,
        forecast,
        lower_80,
        upper_80,
        lower_95,
        upper_95,
        model,
        aicc,
        history_start_date,
        history_end_date,
        backtest_mae,
        seasonal_naive_mae,
        mase,
        hyndman_mase
    from forecasts
)

select * from final
