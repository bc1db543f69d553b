-- Actual vs predicted (OGRS3) proven reoffending by complete cohort year and requirement type
-- of the index sentence: one row per cohort year x requirement type. A member whose index
-- sentence carried several requirements is counted under each, so a sum over requirement
-- types is not the cohort (a sum over cohort years of one type is). The figures are
-- fct_reoffending_breakdowns' requirement_type rows.
with

breakdowns as (
    select * from {{ ref('fct_reoffending_breakdowns') }}
    where dimension = 'requirement_type'
),

final as (
    select
        {{ surrogate_key(['cohort_year', 'dimension_value']) }}
            as reoffending_requirement_type_id,
        cohort_year,
        dimension_value as requirement_type_code,
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
)

select * from final
