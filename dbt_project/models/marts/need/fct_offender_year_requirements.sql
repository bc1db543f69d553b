-- Bridge: offender x financial year x requirement type, for every requirement type of the
-- sentences running in the year (the rows behind fct_offender_year_profile's comma list
-- requirement_types). Join it to fct_offender_year_profile on offender_year_id to count
-- offenders by requirement type without LIKE; an offender with two types is in two rows.
-- Incremental: the offenders fct_offender_year_profile rebuilt since the last build, whole
-- (every change that moves a row here rebuilds the offender's profile).
{{
    config(
        materialized='incremental',
        incremental_strategy='rebuild_keys',
        unique_key='offender_id',
        meta={'changed_keys': {'models': ['fct_offender_year_profile'], 'column': 'built_at'}},
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

years as (
    select
        offender_year_id,
        offender_id,
        financial_year,
        la_code
    from {{ ref('fct_offender_year_profile') }}
    {% if is_incremental() %}
        where offender_id in (select offender_id from changed)
    {% endif %}
),

periods as (
    select * from {{ ref('int_disposals_end_dated') }}
),

requirements as (
    select * from {{ ref('fct_requirements') }}
),

final as (
    select
        {{ surrogate_key(['years.offender_year_id', 'requirements.requirement_type_code']) }}
            as offender_year_requirement_id,
        years.offender_year_id,
        years.offender_id,
        years.financial_year,
        years.la_code,
        requirements.requirement_type_code,
        count(*)::integer as requirements,
        {{ build_time() }} as built_at
    from years
    inner join periods
        on years.offender_id = periods.offender_id
        and periods.start_date <= {{ financial_year_last_day('years.financial_year') }}
        and periods.end_date >= {{ financial_year_first_day('years.financial_year') }}
    inner join requirements
        on periods.disposal_id = requirements.disposal_id
    group by 1, 2, 3, 4, 5, 6
)

select * from final
