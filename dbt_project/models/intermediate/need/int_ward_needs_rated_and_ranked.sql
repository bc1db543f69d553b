{{ config(indexes=[{"columns": ["need_area_code", "financial_year"]}]) }}
-- Ward x complete financial year x need area: offenders with the need (latest assessment
-- in the year) per 1,000 population with its 95 % interval (Byar), the ward's rank and
-- decile among all wards (decile 1 = the highest rates), the Greater Manchester rate with
-- a significance flag against it, and last year's rate with a trend flag (the rules of
-- jsna_indicators: macros/confidence_intervals.sql). need_area_code 'ANY' counts
-- offenders with at least one need, rated and ranked by the same rules: the mart
-- jsna_ward_need publishes those rows (one row per ward and year), jsna_ward_need_areas the
-- rows of each need area. A year the data does not cover from 1 April to 31 March (vars
-- data_start_date, data_end_date) is partial and left out. Tied rates share a rank
-- (rank()) and so a decile: 1 + floor(10 x (rank - 1) / wards), the decile in which the
-- first ward of the tie would fall (ntile() split ties across deciles).
with

wards as (
    select * from {{ ref('ref_wards') }}
),

-- read twice below, each time in one pass (not materialised: a copy of its 6 M rows at
-- scale 16 cost more than the second scan)
latest_needs as not materialized (
    select * from {{ ref('int_needs_at_latest_assessment_in_year') }}
    where {{ is_complete_financial_year('financial_year') }}
),

-- each offender once per ward, year and need area in which they have a need (in any of
-- its rows), then once per ward and year with any need: the counts below are then plain
-- counts, the same as count(distinct offender_id) filter (where is_need) over the rows.
-- Only the need rows are made distinct (~40 % of 9 M rows at scale 16), where making
-- every row distinct first spilled the hash to disk
need_areas as (
    select distinct
        ward_code,
        financial_year,
        need_area_code,
        offender_id
    from latest_needs
    where is_need
),

counts as (
    select
        ward_code,
        financial_year,
        need_area_code,
        count(*) as offenders_with_need
    from need_areas
    group by 1, 2, 3
    union all
    select
        ward_code,
        financial_year,
        'ANY',
        count(*)
    from (
        select distinct
            ward_code,
            financial_year,
            offender_id
        from need_areas
    ) as need_offenders
    group by 1, 2
),

-- every year and need area assessed (one with no need in any ward still gets its rows)
assessed as (
    select distinct
        financial_year,
        need_area_code
    from latest_needs
),

grid as (
    select
        wards.ward_code,
        wards.ward_name,
        wards.la_code,
        wards.population_2007,
        keys.financial_year,
        keys.need_area_code
    from wards
    cross join (
        select
            financial_year,
            need_area_code
        from assessed
        union all
        select distinct
            financial_year,
            'ANY'
        from assessed
    ) as keys
),

rates as (
    select
        grid.*,
        coalesce(counts.offenders_with_need, 0)::integer as offenders_with_need,
        round(1000.0 * coalesce(counts.offenders_with_need, 0) / grid.population_2007, 3)
            as offenders_with_need_per_1000
    from grid
    left join counts
        on grid.ward_code = counts.ward_code
        and grid.financial_year = counts.financial_year
        and grid.need_area_code = counts.need_area_code
),

ranked as (
    select
        *,
        rank() over (
            partition by financial_year, need_area_code
            order by offenders_with_need_per_1000 desc
        ) as need_rank,
        count(*) over (partition by financial_year, need_area_code) as wards,
        round(({{ rate_ci('offenders_with_need', 'population_2007', 'lower') }})::numeric, 8)
            as lower_ci_95,
        round(({{ rate_ci('offenders_with_need', 'population_2007', 'upper') }})::numeric, 8)
            as upper_ci_95,
        offenders_with_need < {{ var('jsna_small_count') }} as is_small_number,
        {{ previous_financial_year('financial_year') }}
            as previous_financial_year
    from rates
),

-- the comparator: all wards of Greater Manchester together
greater_manchester as (
    select
        financial_year,
        need_area_code,
        round((1000.0 * sum(offenders_with_need) / sum(population_2007))::numeric, 8)
            as gm_value,
        round(
            ({{ rate_ci('sum(offenders_with_need)', 'sum(population_2007)', 'lower') }})::numeric, 8
        )
            as gm_lower_ci_95,
        round(
            ({{ rate_ci('sum(offenders_with_need)', 'sum(population_2007)', 'upper') }})::numeric, 8
        )
            as gm_upper_ci_95
    from rates
    group by 1, 2
),

-- more need is worse (polarity higher_is_worse); as in jsna_indicators
compared as (
    select
        ranked.*,
        gm.gm_value,
        gm.gm_lower_ci_95,
        gm.gm_upper_ci_95,
        case when ranked.is_small_number then 'not tested' else {{ compare_interval(
            'ranked.lower_ci_95', 'ranked.upper_ci_95', 'gm.gm_value', 'gm.gm_value',
            "'higher_is_worse'"
        ) }} end as significance_vs_gm,
        previous.offenders_with_need_per_1000 as previous_value,
        case
            when previous.ward_code is null then null
            when ranked.is_small_number or previous.is_small_number then 'not tested'
            else {{ compare_interval(
                'ranked.lower_ci_95', 'ranked.upper_ci_95',
                'previous.lower_ci_95', 'previous.upper_ci_95', "'higher_is_worse'"
            ) }}
        end as trend_vs_previous
    from ranked
    inner join greater_manchester as gm
        on ranked.financial_year = gm.financial_year
        and ranked.need_area_code = gm.need_area_code
    left join ranked as previous
        on ranked.ward_code = previous.ward_code
        and ranked.need_area_code = previous.need_area_code
        and ranked.previous_financial_year = previous.financial_year
),

final as (
    select
        ward_code,
        ward_name,
        la_code,
        financial_year,
        need_area_code,
        population_2007 as population,
        offenders_with_need,
        offenders_with_need_per_1000,
        lower_ci_95,
        upper_ci_95,
        is_small_number,
        need_rank::integer as need_rank,
        (1 + floor(10 * (need_rank - 1) / wards))::integer as need_decile,
        gm_value,
        gm_lower_ci_95,
        gm_upper_ci_95,
        significance_vs_gm,
        previous_value,
        trend_vs_previous
    from compared
)

select * from final
