-- Justice Data Lab style matched evaluations (warehouse/analytics/evaluation.py): one row
-- per intervention x cohort year x outcome (binary rate, frequency per person), for the
-- matched participants and their comparison group, with 95 % intervals and the paired test.
with

evaluations as (
    select * from {{ ref('stg_analytics__intervention_evaluations') }}
),

final as (
    select
        {{ surrogate_key(['intervention_code', 'cohort_year', 'outcome']) }}
            as intervention_evaluation_id,
        intervention_code,
        cohort_year,
        outcome,
        participants,
        matched_participants,
        comparison_pool,
        caliper,
        participant_value,
        participant_ci_low,
        participant_ci_high,
        comparison_value,
        comparison_ci_low,
        comparison_ci_high,
        difference,
        difference_ci_low,
        difference_ci_high,
        p_value,
        is_significant,
        naive_comparison_value,
        naive_difference,
        max_abs_smd_before,
        max_abs_smd_after,
        what_you_can_say
    from evaluations
)

select * from final
