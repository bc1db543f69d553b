-- Actual vs predicted (OGRS3) proven reoffending by complete cohort year, for the whole area and
-- by district, tier, gender, age band and requirement type: cohort size, reoffenders,
-- binary rate, predicted 1-year rate, frequency per offender and per reoffender.
-- The breakdowns are stacked (filter `dimension`) for the sharing extracts, whose disclosure
-- control suppresses across them (the area row and each partition of it): no BI role reads
-- this table. BI tools read one grain per relation: fct_reoffending_summary (by district),
-- fct_reoffending_by_requirement_type and fct_reoffending_outcomes.
with

-- complete cohorts only: a cohort whose follow-up and waiting period have not ended has
-- no rate yet (its members are in fct_reoffending_cohort with is_follow_up_complete false)
cohort as (
    select * from {{ ref('fct_reoffending_cohort') }}
    where cohort_year in (
            select cohort_year from {{ ref('fct_reoffending_cohort') }}
            group by cohort_year
            having bool_and(is_follow_up_complete)
        )
),

requirements as (
    select distinct
        disposal_id,
        requirement_type_code
    from {{ ref('fct_requirements') }}
),

by_dimension as (
    select
        'area' as dimension,
        'All' as dimension_value,
        cohort.*
    from cohort
    union all
    select
        'district',
        la_code,
        cohort.*
    from cohort
    union all
    select
        'tier',
        tier::text,
        cohort.*
    from cohort
    union all
    select
        'gender',
        gender_code,
        cohort.*
    from cohort
    union all
    select
        'age_band',
        age_band,
        cohort.*
    from cohort
    union all
    select
        'requirement_type',
        requirements.requirement_type_code,
        cohort.*
    from cohort
    inner join requirements
        on cohort.index_disposal_id = requirements.disposal_id
),

final as (
    select
        {{ surrogate_key(['cohort_year', 'dimension', 'dimension_value']) }}
            as reoffending_breakdown_id,
        cohort_year,
        dimension,
        dimension_value,
        bool_and(is_follow_up_complete) as is_follow_up_complete,
        count(*)::integer as cohort_size,
        count(*) filter (where is_reoffender)::integer as reoffenders,
        sum(reoffence_count)::integer as reoffences,
        round(avg(is_reoffender::integer), 4) as binary_rate,
        round(avg(ogrs3_1yr_probability), 4) as predicted_binary_rate,
        count(*) filter (where ogrs3_1yr_probability is null)::integer as unscored_offenders,
        round(avg(is_reoffender::integer) - avg(ogrs3_1yr_probability), 4)
            as actual_minus_predicted,
        round(sum(reoffence_count)::numeric / count(*), 4) as reoffences_per_offender,
        round(
            sum(reoffence_count)::numeric / nullif(count(*) filter (where is_reoffender), 0), 4
        ) as reoffences_per_reoffender
    from by_dimension
    group by cohort_year, dimension, dimension_value
)

select * from final
