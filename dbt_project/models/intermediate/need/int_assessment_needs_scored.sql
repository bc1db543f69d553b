{#- the key's unique index: the daily delete of the rebuilt keys probes it (at scale 16
    a hashed scan of the whole 3 GB table took ~10 s for 558k keys) #}
{{
    config(
        materialized='incremental',
        unique_key='assessment_need_id',
        indexes=[{'columns': ['built_at']}, {'columns': ['assessment_need_id'], 'unique': true}],
        meta={'column_types': {'assessment_need_id': 'bigint'}},
    )
}}
{%- set watched = ['stg_ndelius__offenders', 'stg_ndelius__tier_records'] %}
{#- their loads since the last build: changed keys #}
-- depends_on: {{ ref('stg_ndelius__offenders') }}
-- depends_on: {{ ref('stg_ndelius__tier_records') }}
-- The OASys need rules, applied once: one row per assessment x need area with the section
-- score, whether it is a criminogenic need and a severe need (thresholds from
-- ref_need_areas), and whether the assessor linked it to offending. Sections without a
-- criminogenic score (financial management, emotional wellbeing) count as a need when
-- linked to offending.
-- Incremental: assessments (re)computed since the last build, those of offenders whose
-- record arrived since (district, demographics), and those on or after the start of a
-- tier record that arrived since (earlier ones keep their tier), are (re)computed. Read by
-- the mart fct_assessment_needs (as is) and by int_assessments_latest_in_year /
-- int_needs_at_latest_assessment_in_year (intermediate never reads a mart).
with

{% if is_incremental() %}
    changed_offenders as (
        {{ changed_since_last_build('offender_id', ['stg_ndelius__offenders']) }}
    ),

    -- a tier record changes the tier of the offender's assessments from its start on
    tier_changes as (
        {{ changed_from_since_last_build(
            'offender_id', 'stg_ndelius__tier_records', 'tier_history_id', 'start_date'
        ) }}
    ),
{% endif %}

sections as (
    {% if is_incremental() %}
    {{ new_or_of_changed_keys(
        'int_assessment_sections_unpivoted', 'built_at', 'offender_id', 'changed_offenders',
        changed_from='tier_changes', date_column='assessment_date'
    ) }}
    {% else %}
        select * from {{ ref('int_assessment_sections_unpivoted') }}
    {% endif %}
),

need_areas as (
    select * from {{ ref('ref_need_areas') }}
),

offenders as (
    select * from {{ ref('int_offenders_joined_to_tier_and_rosh') }}
),

tiers as (
    select * from {{ ref('int_tier_records_ranged') }}
),

final as (
    select
        -- the assessment's id and the section (1-13): a new assessment's rows go to the
        -- end of the key's index, where md5 keys were random pages of a 1 GB index at
        -- scale 16 (a daily run's 325k new rows: ~45 s of deletes and inserts in the mart)
        cast(sections.assessment_id * 100 + sections.oasys_section as bigint)
            as assessment_need_id,
        sections.assessment_id,
        coalesce(sections.offender_id, -1) as offender_id,
        sections.event_id,
        sections.assessment_type,
        sections.assessment_date,
        cast(to_char(sections.assessment_date, 'YYYYMMDD') as integer) as assessment_date_id,
        {{ financial_year('sections.assessment_date') }} as financial_year,
        coalesce(need_areas.need_area_code, 'UNKNOWN') as need_area_code,
        sections.oasys_section,
        sections.score,
        need_areas.need_threshold,
        need_areas.severe_threshold,
        coalesce(
            case
                when need_areas.has_criminogenic_score
                    then sections.score >= need_areas.need_threshold
                else sections.is_linked
            end,
            false
        ) as is_need,
        coalesce(
            need_areas.has_criminogenic_score
            and sections.score >= need_areas.severe_threshold,
            false
        ) as is_severe_need,
        coalesce(sections.is_linked, false) as is_linked_to_offending,
        coalesce(offenders.la_code, 'UNKNOWN') as la_code,
        coalesce(offenders.ward_code, 'UNKNOWN') as ward_code,
        coalesce(tiers.tier, 0) as tier_at_assessment,
        coalesce(offenders.gender_code, 'U') as gender_code,
        {{ age_band(age_on('offenders.date_of_birth', 'sections.assessment_date')) }} as age_band,
        coalesce(offenders.ethnicity_group, 'Unknown') as ethnicity_group,
        coalesce(offenders.is_white_british, false) as is_white_british,
        sections.loaded_at,
        {{ sources_loaded_until(watched) }} as sources_loaded_until,
        {{ build_time() }} as built_at
    from sections
    left join need_areas
        on sections.oasys_section = need_areas.oasys_section
    left join offenders
        on sections.offender_id = offenders.offender_id
    left join tiers
        on sections.offender_id = tiers.offender_id
        and sections.assessment_date >= tiers.valid_from
        and sections.assessment_date < tiers.valid_to
)

select * from final
