{{
    config(
        materialized='incremental',
        unique_key='assessment_need_id',
        indexes=[{'columns': ['built_at']}],
        meta={'column_types': {'assessment_need_id': 'bigint'}},
    )
}}
-- One row per OASys assessment x need area: the section score, whether it is a
-- criminogenic need and a severe need, and whether the assessor linked it to offending.
-- The need rules live in intermediate/need/int_assessment_needs_scored (read also by the
-- intermediate models that pick each offender's latest assessment in a year); this mart
-- exposes them. Incremental: the rows that model (re)built since this mart's last build.
with

scored as (
    select * from {{ ref('int_assessment_needs_scored') }}
    {% if is_incremental() %}
        where built_at > {{ built_since_last_build() }}
    {% endif %}
),

final as (
    select
        assessment_need_id,
        assessment_id,
        offender_id,
        event_id,
        assessment_type,
        assessment_date,
        assessment_date_id,
        financial_year,
        need_area_code,
        oasys_section,
        score,
        need_threshold,
        severe_threshold,
        is_need,
        is_severe_need,
        is_linked_to_offending,
        la_code,
        ward_code,
        tier_at_assessment,
        gender_code,
        age_band,
        ethnicity_group,
        is_white_british,
        loaded_at,
        built_at
    from scored
)

select
    *,
    -- the demographic band of the offender at the assessment (dim_demographic)
    {{ surrogate_key(['gender_code', 'age_band', 'ethnicity_group']) }} as demographic_id
from final
