-- One row per offender x cohort year (MoJ proven reoffending measure, see domain.md):
-- reoffences are offences committed in the calendar year after the index date and proven
-- (convicted) by the end of a further 6-month waiting period. OGRS3 as HMPPS computes it:
-- the Copas rate and age-gender term use the age at the current conviction; an offence
-- category without a parameter (unknown) has no score (ogrs3_band 'no score'). Carries the
-- binary flag, the count, days to the first reoffence, the most serious reoffence category,
-- and the OGRS3 1- and 2-year predicted probabilities.
-- Incremental: offenders whose index sentences were rebuilt since the last build
-- (int_supervision_starts_first_in_year: a sentence, conviction, tier or offender record of
-- theirs loaded, convictions being their reoffences too) are rebuilt whole
-- (macros/incremental.sql: rebuild_keys; an offender left with no cohort year has no
-- rows). What a row reads is the offender's own: their index sentence and its OGRS3 inputs,
-- and their convictions.
{{
    config(
        materialized='incremental',
        incremental_strategy='rebuild_keys',
        unique_key='offender_id',
        meta={'changed_keys': {
            'models': ['int_supervision_starts_first_in_year'], 'column': 'built_at'
        }},
        pre_hook="{{ stage_changed_keys() }}",
        indexes=[{'columns': ['built_at']}],
    )
}}
with

{% if is_incremental() %}
    changed as (
        select offender_id from {{ changed_keys_table() }}
        union
        -- and those with a row whose follow-up the data end date (var) now completes, or
        -- no longer does: the var moved since it was built
        select offender_id from {{ this }}
        where is_follow_up_complete
            is distinct from (waiting_end_date <= date '{{ var("data_end_date") }}')
    ),
{% endif %}

cohort as (
    select * from {{ ref('int_supervision_starts_first_in_year') }}
    {% if is_incremental() %}
        where offender_id in (select offender_id from changed)
    {% endif %}
),

events as (
    select * from {{ ref('stg_ndelius__events') }}
    where not is_deleted
        {% if is_incremental() %}
            and offender_id in (select offender_id from changed)
        {% endif %}
),

offence_categories as (
    select * from {{ ref('ref_offence_categories') }}
),

age_gender as (
    select * from {{ ref('ref_ogrs3_age_gender') }}
),

windows as (
    select
        cohort.*,
        -- one calendar year (a year spanning 29 February keeps its last day), then the
        -- 6-month waiting period for convictions
        cast(cohort.index_date + interval '1 year' as date) as follow_up_end_date,
        cast(cohort.index_date + interval '1 year 6 months' as date) as waiting_end_date,
        coalesce(cohort.age_at_conviction, cohort.age_at_index) as ogrs3_age
    from cohort
),

reoffences as (
    select
        windows.offender_id,
        windows.cohort_year,
        events.event_id,
        events.offence_date,
        events.offence_category_code,
        offence_categories.seriousness_rank
    from windows
    inner join events
        on windows.offender_id = events.offender_id
        and events.event_id <> windows.event_id
        and events.offence_date > windows.index_date
        and events.offence_date <= windows.follow_up_end_date
        and events.conviction_date <= windows.waiting_end_date
    left join offence_categories
        on events.offence_category_code = offence_categories.offence_category_code
),

reoffence_summary as (
    select
        offender_id,
        cohort_year,
        count(*)::integer as reoffence_count,
        min(offence_date) as first_reoffence_date,
        (array_agg(offence_category_code order by seriousness_rank nulls last, offence_date))[1]
            as most_serious_reoffence_category_code
    from reoffences
    group by offender_id, cohort_year
),

ogrs3 as (
    select
        windows.offender_id,
        windows.cohort_year,
        ln(
            windows.sanction_count::numeric
            / greatest(10 + windows.ogrs3_age - windows.age_at_first_sanction, 1)
        ) as copas_rate,
        -- an offence category without an OGRS3 parameter (unknown) gives no score
        case when windows.gender_code = 'F' then age_gender.female_param
            else age_gender.male_param
        end
        + case when windows.sanction_count = 1 then 0.12614 else 0.46306 end
        + offence_categories.ogrs3_offence_param as x_without_copas
    from windows
    left join age_gender
        on windows.ogrs3_age between age_gender.age_from and age_gender.age_to
    left join offence_categories
        on windows.offence_category_code = offence_categories.offence_category_code
),

final as (
    select
        {{ surrogate_key(['windows.offender_id', 'windows.cohort_year']) }} as cohort_member_id,
        windows.offender_id,
        windows.cohort_year,
        windows.index_date,
        {{ date_key('windows.index_date') }} as index_date_id,
        windows.disposal_id as index_disposal_id,
        windows.disposal_type_code,
        windows.sentence_group,
        windows.offence_category_code,
        windows.la_code,
        windows.tier,
        windows.gender_code,
        windows.age_at_index,
        {{ age_band('windows.age_at_index') }} as age_band,
        windows.sanction_count,
        windows.follow_up_end_date,
        windows.waiting_end_date,
        windows.waiting_end_date <= date '{{ var("data_end_date") }}' as is_follow_up_complete,
        coalesce(reoffence_summary.reoffence_count, 0) as reoffence_count,
        reoffence_summary.reoffence_count is not null as is_reoffender,
        reoffence_summary.first_reoffence_date - windows.index_date as days_to_first_reoffence,
        reoffence_summary.most_serious_reoffence_category_code,
        round(ogrs3.copas_rate, 4) as copas_rate,
        round(1 / (1 + exp(-(ogrs3.x_without_copas + 1.25112 * ogrs3.copas_rate + 1.40256))), 4)
            as ogrs3_1yr_probability,
        round(1 / (1 + exp(-(ogrs3.x_without_copas + 1.25112 * ogrs3.copas_rate + 2.1217))), 4)
            as ogrs3_2yr_probability,
        {{ build_time() }} as built_at
    from windows
    left join reoffence_summary
        on windows.offender_id = reoffence_summary.offender_id
        and windows.cohort_year = reoffence_summary.cohort_year
    left join ogrs3
        on windows.offender_id = ogrs3.offender_id
        and windows.cohort_year = ogrs3.cohort_year
)

select
    *,
    case
        when ogrs3_2yr_probability is null then 'no score'
        when ogrs3_2yr_probability < 0.50 then 'low'
        when ogrs3_2yr_probability < 0.75 then 'medium'
        when ogrs3_2yr_probability < 0.90 then 'high'
        else 'very high'
    end as ogrs3_band
from final
