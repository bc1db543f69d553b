-- Ward x complete financial year: offenders with at least one criminogenic need (latest
-- assessment in the year) per 1,000 population, one row per ward and year, so
-- sum(offenders_with_need) over any set of rows counts each offender-year once: its Byar
-- interval, rank and decile among all wards (decile 1 = the highest rates), the Greater
-- Manchester rate with a significance flag, last year's rate with a trend flag. Each need
-- area on its own: jsna_ward_need_areas. The rules: int_ward_needs_rated_and_ranked.
with

ward_needs as (
    select * from {{ ref('int_ward_needs_rated_and_ranked') }}
    where need_area_code = 'ANY'
),

final as (
    select
        {{ surrogate_key(['ward_code', 'financial_year']) }} as ward_need_id,
        ward_code,
        ward_name,
        la_code,
        financial_year,
        population,
        offenders_with_need,
        offenders_with_need_per_1000,
        lower_ci_95,
        upper_ci_95,
        is_small_number,
        need_rank,
        need_decile,
        gm_value,
        gm_lower_ci_95,
        gm_upper_ci_95,
        significance_vs_gm,
        previous_value,
        trend_vs_previous
    from ward_needs
)

select * from final
