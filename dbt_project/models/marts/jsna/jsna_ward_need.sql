-- Ward x financial year x need area: offenders with the need (latest assessment in the
-- year) per 1,000 population, with the ward's rank and decile among all wards (decile 1 =
-- the highest rates). need_area_code 'ANY' counts offenders with at least one need.
with

wards as (
    select * from {{ ref('ref_wards') }}
),

latest_needs as (
    select * from {{ ref('int_needs_latest_in_year') }}
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
        rank() over (
            partition by financial_year, need_area_code
            order by offenders_with_need_per_1000 desc
        )::integer as need_rank,
        ntile(10) over (
            partition by financial_year, need_area_code
            order by offenders_with_need_per_1000 desc
        )::integer as need_decile
    from rates
)

select * from final
