-- Proven reoffending of the complete cohorts at one grain: cohort year x district x tier x
-- gender x age band, with counts only (each cohort member in exactly one row), so any sum
-- is right and a rate is sum(reoffenders) / sum(cohort_size) at whatever level a BI tool
-- groups by. The predicted (OGRS3) reoffenders are the sum of the members' 1-year
-- probabilities: sum(predicted_reoffenders) / sum(scored_offenders) is the mean predicted
-- rate of fct_reoffending_summary.
with

-- complete cohorts only, as in fct_reoffending_summary
cohort as (
    select * from {{ ref('fct_reoffending_cohort') }}
    where cohort_year in (
            select cohort_year from {{ ref('fct_reoffending_cohort') }}
            group by cohort_year
            having bool_and(is_follow_up_complete)
        )
),

final as (
    select
        {{ surrogate_key(['cohort_year', 'la_code', 'tier', 'gender_code', 'age_band']) }}
            as reoffending_outcome_id,
        cohort_year,
        la_code,
        tier,
        gender_code,
        age_band,
        count(*)::integer as cohort_size,
        count(*) filter (where is_reoffender)::integer as reoffenders,
        sum(reoffence_count)::integer as reoffences,
        count(ogrs3_1yr_probability)::integer as scored_offenders,
        coalesce(sum(ogrs3_1yr_probability), 0)::numeric(12, 4) as predicted_reoffenders
    from cohort
    group by cohort_year, la_code, tier, gender_code, age_band
)

select * from final
