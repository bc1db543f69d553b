-- One row per requirement of a sentence (CJA 2003 s.177), with the sentence it belongs to.
-- Incremental: sentences with a requirement or the sentence itself loaded since the last
-- build, and those of offenders whose record (district) was, are rebuilt whole
-- (macros/incremental.sql: rebuild_keys; a sentence whose only requirement was deleted has
-- none left).
{%- set watched = ['stg_ndelius__requirements', 'stg_ndelius__disposals'] %}
{#- the key's index: a day's sentences are a few per cent of the table's (the delete) #}
{{
    config(
        materialized='incremental',
        incremental_strategy='rebuild_keys',
        unique_key='disposal_id',
        meta={'changed_keys': [
            {'models': watched},
            {
                'models': ['stg_ndelius__offenders'],
                'key': 'offender_id',
                'through': 'stg_ndelius__disposals',
            },
        ]},
        pre_hook="{{ stage_changed_keys() }}",
        indexes=[{'columns': ['built_at']}, {'columns': ['disposal_id']}],
    )
}}
with

{% if is_incremental() %}
    changed as (
        select disposal_id from {{ changed_keys_table() }}
    ),
{% endif %}

requirements as (
    select * from {{ ref('stg_ndelius__requirements') }}
    where not is_deleted
        {% if is_incremental() %}
            and disposal_id in (select disposal_id from changed)
        {% endif %}
),

periods as (
    select * from {{ ref('int_disposals_end_dated') }}
),

offenders as (
    select * from {{ ref('int_offenders_joined_to_tier_and_rosh') }}
),

requirement_types as (
    select * from {{ ref('ref_requirement_types') }}
),

final as (
    select
        requirements.requirement_id,
        requirements.disposal_id,
        coalesce(periods.offender_id, -1) as offender_id,
        coalesce(requirement_types.requirement_type_code, 'UNKNOWN') as requirement_type_code,
        coalesce(periods.disposal_type_code, 'UNKNOWN') as disposal_type_code,
        coalesce(periods.sentence_group, 'unknown') as sentence_group,
        coalesce(requirements.start_date, periods.start_date) as start_date,
        periods.start_date as sentence_start_date,
        {{ date_key('periods.start_date') }} as sentence_start_date_id,
        cast(date_trunc('quarter', periods.start_date) as date) as sentence_start_quarter,
        coalesce({{ financial_year('periods.start_date') }}, 'Unknown') as financial_year,
        requirements.requirement_length,
        requirements.length_unit,
        coalesce(offenders.la_code, 'UNKNOWN') as la_code,
        {{ sources_loaded_until(watched + ['stg_ndelius__offenders']) }} as sources_loaded_until,
        {{ build_time() }} as built_at
    from requirements
    left join periods
        on requirements.disposal_id = periods.disposal_id
    left join offenders
        on periods.offender_id = offenders.offender_id
    left join requirement_types
        on requirements.requirement_type_code = requirement_types.requirement_type_code
)

select * from final
