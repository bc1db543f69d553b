-- Actual vs predicted (OGRS3) proven reoffending by complete cohort year and district, one row
-- each (members without a recorded district under 'UNKNOWN'), so sum(cohort_size) over any
-- set of rows is the cohort of those districts: counts, the binary rate, the mean predicted
-- 1-year rate and frequency rates, with the whole area's rates beside them as the comparator.
-- The figures are fct_reoffending_breakdowns' district rows (and its area row for the area_*
-- columns): one computation, published at one grain here.
with

breakdowns as (
    select * from {{ ref('fct_reoffending_breakdowns') }}
),

districts as (
    select
        cohort_year,
        dimension_value as la_code,
        is_follow_up_complete,
        cohort_size,
        reoffenders,
        reoffences,
        binary_rate,
        predicted_binary_rate,
        unscored_offenders,
        actual_minus_predicted,
        reoffences_per_offender,
        reoffences_per_reoffender
    from breakdowns
    where dimension = 'district'
),

area as (
    select
        cohort_year,
        binary_rate as area_binary_rate,
        predicted_binary_rate as area_predicted_binary_rate
    from breakdowns
    where dimension = 'area'
),

final as (
    select
        {{ surrogate_key(['districts.cohort_year', 'districts.la_code']) }}
            as reoffending_summary_id,
        districts.cohort_year,
        districts.la_code,
        districts.is_follow_up_complete,
        districts.cohort_size,
        districts.reoffenders,
        districts.reoffences,
        districts.binary_rate,
        districts.predicted_binary_rate,
        districts.unscored_offenders,
        districts.actual_minus_predicted,
        districts.reoffences_per_offender,
        districts.reoffences_per_reoffender,
        area.area_binary_rate,
        area.area_predicted_binary_rate
    from districts
    inner join area
        on districts.cohort_year = area.cohort_year
)

select * from final
