-- Offender x financial year: everyone supervised in the year, with the tier and district of
-- their last supervised month, their needs at their latest assessment in the year, and the
-- requirement types of the sentences running in the year. The record-level basis of partner
-- extracts: the sharing code pseudonymises offender_id per recipient before anything leaves.
-- Incremental: offenders whose caseload months or needs at a latest assessment were
-- rebuilt since the last build (a sentence, tier or offender record loaded, an
-- assessment), or with a requirement loaded since on one of their sentences, are rebuilt
-- whole (macros/incremental.sql: rebuild_keys).
{%- set watched = ['stg_ndelius__requirements'] %}  {#- their loads since the last build #}
{{
    config(
        materialized='incremental',
        incremental_strategy='rebuild_keys',
        unique_key='offender_id',
        meta={'changed_keys': [
            {
                'models': ['fct_caseload_monthly', 'int_needs_at_latest_assessment_in_year'],
                'column': 'built_at',
            },
            {'models': watched, 'key': 'disposal_id', 'through': 'int_disposals_end_dated'},
        ]},
        pre_hook="{{ stage_changed_keys() }}",
        indexes=[{'columns': ['built_at']}],
    )
}}
-- depends_on: {{ ref('stg_ndelius__requirements') }}
with

{% if is_incremental() %}
    changed as (
        select offender_id from {{ changed_keys_table() }}
    ),
{% endif %}

caseload as (
    select distinct on (offender_id, financial_year)
        offender_id,
        financial_year,
        tier,
        la_code,
        month_start_date
    from {{ ref('fct_caseload_monthly') }}
    {% if is_incremental() %}
        where offender_id in (select offender_id from changed)
    {% endif %}
    order by offender_id, financial_year, month_start_date desc
),

latest_needs as (
    select * from {{ ref('int_needs_at_latest_assessment_in_year') }}
    where need_area_code in ('DRUGS', 'ALCOHOL')
        {% if is_incremental() %}
            and offender_id in (select offender_id from changed)
        {% endif %}
),

needs as (
    select
        offender_id,
        financial_year,
        bool_or(is_need) filter (where need_area_code = 'DRUGS') as has_drug_need,
        bool_or(is_severe_need) filter (where need_area_code = 'DRUGS') as has_severe_drug_need,
        bool_or(is_need) filter (where need_area_code = 'ALCOHOL') as has_alcohol_need
    from latest_needs
    group by 1, 2
),

periods as (
    select * from {{ ref('int_disposals_end_dated') }}
),

sentence_requirements as (
    select * from {{ ref('fct_requirements') }}
),

requirements as (
    select
        caseload.offender_id,
        caseload.financial_year,
        string_agg(
            distinct sentence_requirements.requirement_type_code, ','
            order by sentence_requirements.requirement_type_code
        ) as requirement_types
    from caseload
    inner join periods
        on caseload.offender_id = periods.offender_id
        and periods.start_date <= {{ financial_year_last_day('caseload.financial_year') }}
        and periods.end_date >= {{ financial_year_first_day('caseload.financial_year') }}
    inner join sentence_requirements
        on periods.disposal_id = sentence_requirements.disposal_id
    group by 1, 2
),

offenders as (
    select * from {{ ref('dim_offender') }}
),

final as (
    select
        {{ surrogate_key(['caseload.offender_id', 'caseload.financial_year']) }}
            as offender_year_id,
        caseload.offender_id,
        caseload.financial_year,
        caseload.la_code,
        caseload.tier,
        case
            when caseload.tier in (1, 2) then 'tier 1-2'
            when caseload.tier in (3, 4) then 'tier 3-4'
            else 'no tier'
        end as tier_band,
        coalesce(offenders.gender_code, 'U') as gender_code,
        coalesce(offenders.age_band, 'unknown') as age_band,
        needs.offender_id is not null as is_assessed,
        coalesce(needs.has_drug_need, false) as has_drug_need,
        coalesce(needs.has_severe_drug_need, false) as has_severe_drug_need,
        coalesce(needs.has_alcohol_need, false) as has_alcohol_need,
        coalesce(requirements.requirement_types, '') as requirement_types,
        {{ sources_loaded_until(watched) }} as sources_loaded_until,
        {{ build_time() }} as built_at
    from caseload
    left join needs
        on caseload.offender_id = needs.offender_id
        and caseload.financial_year = needs.financial_year
    left join requirements
        on caseload.offender_id = requirements.offender_id
        and caseload.financial_year = requirements.financial_year
    left join offenders
        on caseload.offender_id = offenders.offender_id
)

select * from final
