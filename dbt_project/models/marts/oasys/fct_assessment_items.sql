{{
    config(
        materialized='incremental',
        unique_key='assessment_id',
        indexes=[{'columns': ['built_at']}, {'columns': ['assessment_id']}],
    )
}}
{%- set watched = ['stg_ndelius__offenders'] %}  {#- their loads since the last build: changed keys #}
-- One row per OASys assessment x item (35 items of sections 3-12): the item's score
-- (0 no problems, 1 some, 2 significant) and its label, e.g. the accommodation items
-- 3.1-3.4 (no fixed abode, suitability, permanence, location) the strategy asks to
-- interrogate. Narrow on purpose (4 M rows at scale 1): the item's name, section and need
-- area are in dim_oasys_item (join on item_code); the district, ward and the "latest
-- assessment in the year" flag in fct_assessments (join on assessment_id). The item
-- numbers per section below follow ref_need_areas.item_count (a data test checks that
-- every item of ref_oasys_items appears).
-- Incremental: assessments loaded since the last build, and those of a CRN whose offender
-- record arrived since (it gives them their offender_id), are (re)computed, whole.
{%- set item_counts = {3: 4, 4: 4, 5: 2, 6: 3, 7: 3, 8: 5, 9: 4, 10: 2, 11: 4, 12: 4} %}
with

{% if is_incremental() %}
    changed_crns as (
        {{ changed_since_last_build('crn', watched) }}
    ),
{% endif %}

assessments as (
    {% if is_incremental() %}
        {{ new_or_of_changed_keys('stg_oasys__assessments', 'loaded_at', 'crn', 'changed_crns') }}
    {% else %}
        select * from {{ ref('stg_oasys__assessments') }}
    {% endif %}
),

offenders as (
    select
        offender_id,
        crn
    from {{ ref('stg_ndelius__offenders') }}
),

unpivoted as (
    select
        assessments.assessment_id,
        assessments.crn,
        assessments.assessment_date,
        assessments.loaded_at,
        item.oasys_section,
        item.item_number,
        item.score
    from assessments
    cross join lateral (
        values
        {%- for section, count in item_counts.items() %}
            {%- for item in range(1, count + 1) %}
                ({{ section }}, {{ item }}, s{{ section }}_{{ item }})
                {{- "," if not (loop.last and section == 12) }}
            {%- endfor %}
        {%- endfor %}
    ) as item (oasys_section, item_number, score)
),

final as (
    select
        cast(
            unpivoted.assessment_id * 1000 + unpivoted.oasys_section * 10 + unpivoted.item_number
            as bigint
        ) as assessment_item_id,
        unpivoted.assessment_id,
        coalesce(offenders.offender_id, -1) as offender_id,
        unpivoted.assessment_date,
        {{ financial_year('unpivoted.assessment_date') }} as financial_year,
        unpivoted.oasys_section,
        cast(unpivoted.item_number as integer) as item_number,
        unpivoted.oasys_section || '.' || unpivoted.item_number as item_code,
        unpivoted.score,
        case unpivoted.score
            when 0 then 'No problems'
            when 1 then 'Some problems'
            when 2 then 'Significant problems'
            else 'Not recorded'
        end as score_label,
        coalesce(unpivoted.score >= 1, false) as is_problem,
        unpivoted.loaded_at,
        {{ sources_loaded_until(watched) }} as sources_loaded_until,
        {{ build_time() }} as built_at
    from unpivoted
    left join offenders
        on unpivoted.crn = offenders.crn
)

select * from final
