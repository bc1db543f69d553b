-- Ward x complete financial year x need area: offenders with the need (latest assessment
-- in the year) per 1,000 population with its 95 % interval (Byar), and the ward's rank and
-- decile among all wards (decile 1 = the highest rates). need_area_code 'ANY' counts
-- offenders with at least one need. A year the data does not cover from 1 April to
-- 31 March (vars data_start_date, data_end_date) is partial and left out. Tied rates share
-- a rank (rank()) and so a decile: 1 + floor(10 x (rank - 1) / wards), the decile in which
-- the first ward of the tie would fall (ntile() split ties across deciles).
with

wards as (
    select * from {{ ref('ref_wards') }}
),

latest_needs as (
    select * from {{ ref('int_needs_latest_in_year') }}
    where make_date(left(financial_year, 4)::integer + 1, 3, 31)
        <= date '{{ var("data_end_date") }}'
        and make_date(left(financial_year, 4)::integer, 4, 1)
        >= date '{{ var("data_start_date") }}'
),

counts as (
    select ward_code, financial_year, need_area_code,
        count(distinct offender_id) filter (where is_need) as offenders_with_need
    from latest_needs
    group by 1, 2, 3
    union all
    select ward_code, financial_year, 'ANY',
        count(distinct offender_id) filter (where is_need)
    from latest_needs
    group by 1, 2
),

grid as (
    select wards.ward_code, wards.ward_name, wards.la_code, wards.population_2007,
        keys.financial_year, keys.need_area_code
    from wards
    cross join (select distinct financial_year, need_area_code from counts) as keys
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
        count(*) over (partition by financial_year, need_area_code) as wards
    from rates
),

final as (
    select
        {{ surrogate_key(['ward_code', 'financial_year', 'need_area_code']) }} as ward_need_id,
        ward_code,
        ward_name,
        la_code,
        financial_year,
        need_area_code,
        population_2007 as population,
        offenders_with_need,
        offenders_with_need_per_1000,
        round(({{ rate_ci('offenders_with_need', 'population_2007', 'lower') }})::numeric, 8)
            as lower_ci_95,
        round(({{ rate_ci('offenders_with_need', 'population_2007', 'upper') }})::numeric, 8)
            as upper_ci_95,
        offenders_with_need < {{ var('jsna_small_count') }} as is_small_number,
        need_rank::integer as need_rank,
        (1 + floor(10 * (need_rank - 1) / wards))::integer as need_decile
    from ranked
)

select * from final
