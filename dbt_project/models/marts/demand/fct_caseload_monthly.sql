{%- set watched = [
    'stg_ndelius__disposals', 'stg_ndelius__tier_records', 'stg_ndelius__offenders'
] %}  {#- their loads since the last build: changed keys #}
{{
    config(
        materialized='incremental',
        incremental_strategy='rebuild_keys',
        unique_key='offender_id',
        meta={
            'changed_keys': {'models': watched},
            'column_types': {'caseload_month_id': 'bigint'},
        },
        pre_hook="{{ stage_changed_keys() }}",
        indexes=[{'columns': ['built_at']}],
    )
}}
-- depends_on: {{ ref('stg_ndelius__offenders') }}
-- One row per offender x month under supervision (any sentence running on any day of
-- the month), with the tier held at the month end (0 = no tier recorded) and the sentence
-- types running. Incremental: offenders with a sentence, tier record or offender record
-- (district, ward) loaded since the last build are rebuilt whole: all their rows deleted,
-- then their months inserted (macros/incremental.sql: rebuild_keys; an offender whose
-- only sentence was deleted has none left).
with

{% if is_incremental() %}
    changed as (
        select offender_id from {{ changed_keys_table() }}
    ),
{% endif %}

periods as (
    select * from {{ ref('int_disposals_end_dated') }}
    {% if is_incremental() %}
        where offender_id in (select offender_id from changed)
    {% endif %}
),

loads as (
    select
        offender_id,
        max(loaded_at) as loaded_at
    from (
        select
            offender_id,
            loaded_at
        from {{ ref('stg_ndelius__disposals') }}
        union all
        select
            offender_id,
            loaded_at
        from {{ ref('stg_ndelius__tier_records') }}
    ) as both_sources
    {% if is_incremental() %}
        where offender_id in (select offender_id from changed)
    {% endif %}
    group by offender_id
),

tiers as (
    select * from {{ ref('int_tier_records_ranged') }}
),

offenders as (
    select * from {{ ref('int_offenders_joined_to_tier_and_rosh') }}
),

months as (
    select
        periods.offender_id,
        cast(month as date) as month_start_date,
        bool_or(periods.sentence_group = 'community') as has_community_sentence,
        bool_or(periods.sentence_group = 'licence') as has_licence,
        count(*)::integer as sentences_running
    from periods
    cross join
        lateral generate_series(
            date_trunc('month', periods.start_date),
            date_trunc('month', periods.end_date),
            interval '1 month'
        ) as month
    where periods.end_date >= periods.start_date
    group by periods.offender_id, cast(month as date)
),

final as (
    select
        -- the offender and the month (yyyymm): an offender's months are neighbours in the
        -- key's index, where md5 keys put each of a daily run's rebuilt rows on a random
        -- page (585k rows at scale 16)
        months.offender_id * 1000000
        + cast(to_char(months.month_start_date, 'YYYYMM') as integer) as caseload_month_id,
        months.offender_id,
        months.month_start_date,
        {{ date_key('months.month_start_date') }} as month_start_date_id,
        cast(months.month_start_date + interval '1 month' - interval '1 day' as date)
            as month_end_date,
        {{ financial_year('months.month_start_date') }} as financial_year,
        coalesce(tiers.tier, 0) as tier,
        coalesce(offenders.la_code, 'UNKNOWN') as la_code,
        coalesce(offenders.ward_code, 'UNKNOWN') as ward_code,
        months.has_community_sentence,
        months.has_licence,
        months.sentences_running,
        loads.loaded_at,
        {{ sources_loaded_until(watched) }} as sources_loaded_until,
        {{ build_time() }} as built_at
    from months
    left join tiers
        on months.offender_id = tiers.offender_id
        and (months.month_start_date + interval '1 month' - interval '1 day')::date
        >= tiers.valid_from
        and (months.month_start_date + interval '1 month' - interval '1 day')::date < tiers.valid_to
    left join offenders
        on months.offender_id = offenders.offender_id
    left join loads
        on months.offender_id = loads.offender_id
)

select * from final
