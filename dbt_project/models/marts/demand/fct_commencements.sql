-- Incremental: offenders with a sentence, a requirement of one or an offender record
-- (district) loaded since the last build are rebuilt whole (macros/incremental.sql:
-- rebuild_keys; an offender whose only sentence was deleted has none left).
{%- set watched = ['stg_ndelius__disposals', 'stg_ndelius__offenders'] %}
{{
    config(
        materialized='incremental',
        incremental_strategy='rebuild_keys',
        unique_key='offender_id',
        meta={'changed_keys': [
            {'models': watched},
            {
                'models': ['stg_ndelius__requirements'],
                'key': 'disposal_id',
                'through': 'stg_ndelius__disposals',
            },
        ]},
        pre_hook="{{ stage_changed_keys() }}",
        indexes=[{'columns': ['built_at']}],
    )
}}
with

{% if is_incremental() %}
    changed as (
        select offender_id from {{ changed_keys_table() }}
    ),
{% endif %}

disposals as (
    select * from {{ ref('stg_ndelius__disposals') }}
    {% if is_incremental() %}
        where offender_id in (select offender_id from changed)
    {% endif %}
),

offenders as (
    select * from {{ ref('stg_ndelius__offenders') }}
),

disposal_types as (
    select * from {{ ref('ref_disposal_types') }}
),

requirements as (
    select * from {{ ref('stg_ndelius__requirements') }}
),

requirement_flags as (
    select
        disposal_id,
        count(*) as requirement_count,
        bool_or(requirement_type_code = 'UPW') as has_unpaid_work,
        bool_or(requirement_type_code = 'PROG') as has_accredited_programme,
        bool_or(requirement_type_code = 'DRR') as has_drug_rehabilitation,
        bool_or(requirement_type_code = 'ATR') as has_alcohol_treatment
    from requirements
    where not is_deleted
        {% if is_incremental() %}
            and disposal_id in (select disposal_id from disposals)
        {% endif %}
    group by disposal_id
),

final as (
    select
        {{ surrogate_key(['disposals.disposal_id']) }} as commencement_id,
        disposals.disposal_id,
        disposals.event_id,
        disposals.offender_id,
        coalesce(offenders.la_code, 'UNKNOWN') as la_code,
        disposals.disposal_type_code,
        disposal_types.sentence_group,
        disposals.start_date,
        {{ date_key('disposals.start_date') }} as start_date_id,
        cast(date_trunc('month', disposals.start_date) as date) as start_month,
        cast(date_trunc('quarter', disposals.start_date) as date) as start_quarter,
        {{ financial_year('disposals.start_date') }} as financial_year,
        disposals.length_months,
        disposals.termination_date,
        disposals.termination_reason,
        coalesce(requirement_flags.requirement_count, 0)::integer as requirement_count,
        coalesce(requirement_flags.has_unpaid_work, false) as has_unpaid_work,
        coalesce(requirement_flags.has_accredited_programme, false) as has_accredited_programme,
        coalesce(requirement_flags.has_drug_rehabilitation, false) as has_drug_rehabilitation,
        coalesce(requirement_flags.has_alcohol_treatment, false) as has_alcohol_treatment,
        {{ sources_loaded_until(watched + ['stg_ndelius__requirements']) }}
            as sources_loaded_until,
        {{ build_time() }} as built_at
    from disposals
    left join offenders
        on disposals.offender_id = offenders.offender_id
    left join disposal_types
        on disposals.disposal_type_code = disposal_types.disposal_type_code
    left join requirement_flags
        on disposals.disposal_id = requirement_flags.disposal_id
    where not disposals.is_deleted
)

select * from final
