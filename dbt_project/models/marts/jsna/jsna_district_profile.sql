-- The JSNA district profile: one row per district x financial year. Aggregates only.
-- Each share comes with the counts it is made of, so an extract can publish the counts
-- under disclosure control and compute the shares from what it publishes.
{%- set need_areas = [
    'ACCOM', 'ETE', 'FINANCE', 'RELAT', 'LIFESTYLE',
    'DRUGS', 'ALCOHOL', 'EMOTIONAL', 'THINKING', 'ATTITUDES',
] %}
{#- the years profiled; the big aggregates below read only these (the rows of other years
    would be joined to nothing) #}
{%- set in_profiled_years = "financial_year between '2006/07' and '2008/09'" %}
with

districts as (
    select * from {{ ref('dim_district') }}
    where la_code <> 'UNKNOWN'
),

years as (
    select distinct financial_year from {{ ref('fct_caseload_monthly') }}
    where {{ in_profiled_years }}
),

crime as (
    select
        wards.la_code,
        {{ financial_year('crimes.period_month') }} as financial_year,
        sum(crimes.crimes) as recorded_crimes
    from {{ ref('stg_gmac__recorded_crimes') }} as crimes
    inner join {{ ref('ref_wards') }} as wards
        on crimes.ward_code = wards.ward_code
    group by 1, 2
),

-- one row per offender, year and district they were supervised in (counted in each), with
-- their tier in their last supervised month of the year, wherever that was: a month's
-- day number (since 1900, so positive) x 10 + its tier (0-4), so the largest carries the
-- latest month's tier. Hashed in one pass over fct_caseload_monthly (one row per offender
-- per month), where a distinct and a sort of every month both read it
offender_districts as (
    select
        la_code,
        financial_year,
        offender_id,
        max((month_start_date - date '1900-01-01') * 10 + tier) as last_month_and_tier
    from {{ ref('fct_caseload_monthly') }}
    where {{ in_profiled_years }}
    group by 1, 2, 3
),

last_tiers as (
    select
        la_code,
        financial_year,
        max(last_month_and_tier) over (partition by offender_id, financial_year) % 10
            as last_tier
    from offender_districts
),

-- distinct offenders by district and year: plain counts of the rows above
caseload as (
    select
        la_code,
        financial_year,
        count(*) as caseload,
        count(*) filter (where last_tier = 1) as tier_1,
        count(*) filter (where last_tier = 2) as tier_2,
        count(*) filter (where last_tier = 3) as tier_3,
        count(*) filter (where last_tier = 4) as tier_4,
        count(*) filter (where last_tier = 0) as tier_missing
    from last_tiers
    group by 1, 2
),

-- read three times below, each a pass of its own (a materialised copy cost more)
latest_needs as not materialized (
    select * from {{ ref('int_needs_at_latest_assessment_in_year') }}
    where {{ in_profiled_years }}
),

-- the same counts and shares as count(distinct) and avg() over the rows, hashed: a share
-- is the need area's rows that are a need over its rows; the need offenders and the
-- offenders assessed are distinct offenders
area_rows as (
    select
        la_code,
        financial_year,
        need_area_code,
        count(*) as area_rows,
        count(*) filter (where is_need) as area_needs
    from latest_needs
    group by 1, 2, 3
),

-- offenders with the need in the area (in any of its rows)
area_need_offenders as (
    select
        la_code,
        financial_year,
        need_area_code,
        count(*) as need_offenders
    from (
        select distinct
            la_code,
            financial_year,
            need_area_code,
            offender_id
        from latest_needs
        where is_need
    ) as with_need
    group by 1, 2, 3
),

assessed as (
    select
        la_code,
        financial_year,
        count(*) as offenders_assessed
    from (
        select distinct
            la_code,
            financial_year,
            offender_id
        from latest_needs
    ) as offenders
    group by 1, 2
),

shares as (
    select
        la_code,
        financial_year,
    {% for area in need_areas %}
        round(
            sum(area_needs) filter (where need_area_code = '{{ area }}')
            / nullif(sum(area_rows) filter (where need_area_code = '{{ area }}'), 0),
            4
        ) as {{ area | lower }}_need_share{{ ',' if not loop.last }}
    {% endfor %}
    from area_rows
    group by 1, 2
),

need_offenders as (
    select
        la_code,
        financial_year,
    {% for area in need_areas %}
        sum(need_offenders) filter (where need_area_code = '{{ area }}')
            as {{ area | lower }}_need_offenders{{ ',' if not loop.last }}
    {% endfor %}
    from area_need_offenders
    group by 1, 2
),

needs as (
    select
        assessed.la_code,
        assessed.financial_year,
        assessed.offenders_assessed,
    {% for area in need_areas %}
        shares.{{ area | lower }}_need_share,
        need_offenders.{{ area | lower }}_need_offenders{{ ',' if not loop.last }}
    {% endfor %}
    from assessed
    left join shares
        on assessed.la_code = shares.la_code
        and assessed.financial_year = shares.financial_year
    left join need_offenders
        on assessed.la_code = need_offenders.la_code
        and assessed.financial_year = need_offenders.financial_year
),

plan_gaps as (
    select
        la_code,
        financial_year,
        round(avg((not is_intervention_planned)::integer), 4) as sentence_plan_gap_share,
        count(*) as sentence_plan_objectives,
        count(*) filter (where not is_intervention_planned) as sentence_plan_gaps
    from {{ ref('fct_sentence_plan_objectives') }}
    where {{ in_profiled_years }}
    group by 1, 2
),

dat as (
    select
        la_code,
        {{ financial_year('episode_start_date') }} as financial_year,
        count(*) as dat_treatment_episodes
    from {{ ref('stg_dat__treatment_episodes') }}
    group by 1, 2
),

supporting_people as (
    select
        la_code,
        {{ financial_year('support_start_date') }} as financial_year,
        count(*) as supporting_people_episodes
    from {{ ref('stg_supporting_people__clients') }}
    group by 1, 2
),

unit_costs as (
    select
        la_code,
        financial_year,
        max(benchmark_index) filter (where service_code = 'UPW' and unit_measure = 'UPW_HOURS')
            as upw_hour_benchmark_index,
        max(benchmark_index) filter (where service_code = 'PROG' and unit_measure = 'COMPLETIONS')
            as programme_completion_benchmark_index,
        max(benchmark_index) filter (where service_code = 'SUPV')
            as supervision_month_benchmark_index,
        max(utilisation) filter (where service_code = 'AP') as approved_premises_utilisation
    from {{ ref('fct_unit_costs') }}
    group by 1, 2
),

-- the latest complete reoffending cohort up to the year (the follow-up of the year's own
-- cohort ends later): reoffending_cohort_year says which
reoffending as (
    select distinct on (summary.la_code, years.financial_year)
        summary.la_code,
        years.financial_year,
        summary.cohort_year as reoffending_cohort_year,
        cohort_size as reoffending_cohort_size,
        reoffenders,
        binary_rate as reoffending_binary_rate,
        predicted_binary_rate as reoffending_predicted_rate
    from {{ ref('fct_reoffending_summary') }} as summary
    inner join years
        on summary.cohort_year <= years.financial_year
    order by summary.la_code, years.financial_year, summary.cohort_year desc
),

final as (
    select
        {{ surrogate_key(['districts.la_code', 'years.financial_year']) }} as district_profile_id,
        districts.la_code,
        districts.la_name,
        years.financial_year,
        districts.population_2007 as population,
        coalesce(crime.recorded_crimes, 0)::integer as recorded_crimes,
        round(1000.0 * coalesce(crime.recorded_crimes, 0) / districts.population_2007, 2)
            as recorded_crimes_per_1000,
        coalesce(caseload.caseload, 0)::integer as caseload,
        round(1000.0 * coalesce(caseload.caseload, 0) / districts.population_2007, 2)
            as caseload_per_1000,
        round(caseload.tier_1::numeric / nullif(caseload.caseload, 0), 4) as tier_1_share,
        round(caseload.tier_2::numeric / nullif(caseload.caseload, 0), 4) as tier_2_share,
        round(caseload.tier_3::numeric / nullif(caseload.caseload, 0), 4) as tier_3_share,
        round(caseload.tier_4::numeric / nullif(caseload.caseload, 0), 4) as tier_4_share,
        {% for tier in [1, 2, 3, 4] %}
            coalesce(caseload.tier_{{ tier }}, 0)::integer as tier_{{ tier }}_caseload,
        {% endfor %}
        coalesce(needs.offenders_assessed, 0)::integer as offenders_assessed,
        needs.accom_need_share,
        needs.ete_need_share,
        needs.finance_need_share,
        needs.relat_need_share,
        needs.lifestyle_need_share,
        needs.drugs_need_share,
        needs.alcohol_need_share,
        needs.emotional_need_share,
        needs.thinking_need_share,
        needs.attitudes_need_share,
        {% for area in need_areas %}
            coalesce(needs.{{ area | lower }}_need_offenders, 0)::integer
                as {{ area | lower }}_need_offenders,
        {% endfor %}
        plan_gaps.sentence_plan_gap_share,
        coalesce(plan_gaps.sentence_plan_objectives, 0)::integer as sentence_plan_objectives,
        coalesce(plan_gaps.sentence_plan_gaps, 0)::integer as sentence_plan_gaps,
        coalesce(dat.dat_treatment_episodes, 0)::integer as dat_treatment_episodes,
        round(1000.0 * coalesce(dat.dat_treatment_episodes, 0) / districts.population_2007, 2)
            as dat_treatment_episodes_per_1000,
        coalesce(supporting_people.supporting_people_episodes, 0)::integer
            as supporting_people_episodes,
        round(
            1000.0 * coalesce(supporting_people.supporting_people_episodes, 0)
            / districts.population_2007,
            2
        ) as supporting_people_episodes_per_1000,
        unit_costs.upw_hour_benchmark_index,
        unit_costs.programme_completion_benchmark_index,
        unit_costs.supervision_month_benchmark_index,
        unit_costs.approved_premises_utilisation,
        reoffending.reoffending_cohort_year,
        reoffending.reoffending_cohort_size,
        reoffending.reoffenders as reoffending_reoffenders,
        reoffending.reoffending_binary_rate,
        reoffending.reoffending_predicted_rate
    from districts
    cross join years
    left join crime
        on districts.la_code = crime.la_code and years.financial_year = crime.financial_year
    left join caseload
        on districts.la_code = caseload.la_code and years.financial_year = caseload.financial_year
    left join needs
        on districts.la_code = needs.la_code and years.financial_year = needs.financial_year
    left join plan_gaps
        on districts.la_code = plan_gaps.la_code and years.financial_year = plan_gaps.financial_year
    left join dat
        on districts.la_code = dat.la_code and years.financial_year = dat.financial_year
    left join supporting_people
        on districts.la_code = supporting_people.la_code
        and years.financial_year = supporting_people.financial_year
    left join unit_costs
        on districts.la_code = unit_costs.la_code
        and years.financial_year = unit_costs.financial_year
    left join reoffending
        on districts.la_code = reoffending.la_code
        and years.financial_year = reoffending.financial_year
)

select * from final
