-- The JSNA indicators as the public-health profiles (PHE Fingertips) publish them: one row
-- per area (10 districts + Greater Manchester) x complete financial year x indicator, with
-- the count, the denominator, the value, its 95 % confidence interval (Wilson score for a
-- proportion, Byar for a rate per 1,000), the Greater Manchester value on every row with a
-- significance flag against it, last year's value with a trend flag, and a small-number
-- flag. Every share and per-1,000 rate of jsna_district_profile is an indicator.
--
-- Greater Manchester is the sum of the districts' counts over the sum of their
-- denominators (an offender on two districts' caseloads in a year counts in both, as in
-- the district rows). District logins see only their own district's rows (row-level
-- security on la_code), so the Greater Manchester figures are also columns of each row.
-- A reoffending cohort whose follow-up is incomplete is left out: it is not yet a rate.
-- Polarity: crime, needs, plan gaps and reoffending are worse when higher; caseload, the
-- tier mix and DAT / Supporting People episodes (demand and service use) are neither.
-- Not indicators: the OGRS3 predicted rate (a mean score), unit-cost benchmark indices and
-- approved-premises utilisation (ratios without a count behind them in the profile).
{%- set z = ci_z() %}
{%- set small = var('jsna_small_count') %}
{%- set indicators = [
    ('recorded_crimes_per_1000', 'Recorded crimes per 1,000 population', 'per_1000', 'higher_is_worse', 'recorded_crimes', 'population'),
    ('caseload_per_1000', 'Offenders on the probation caseload per 1,000 population', 'per_1000', 'none', 'caseload', 'population'),
    ('tier_1_share', 'Caseload in tier 1 (last tier in the year), share', 'proportion', 'none', 'tier_1_caseload', 'caseload'),
    ('tier_2_share', 'Caseload in tier 2 (last tier in the year), share', 'proportion', 'none', 'tier_2_caseload', 'caseload'),
    ('tier_3_share', 'Caseload in tier 3 (last tier in the year), share', 'proportion', 'none', 'tier_3_caseload', 'caseload'),
    ('tier_4_share', 'Caseload in tier 4 (last tier in the year), share', 'proportion', 'none', 'tier_4_caseload', 'caseload'),
    ('accom_need_share', 'Offenders assessed with an accommodation need, share', 'proportion', 'higher_is_worse', 'accom_need_offenders', 'offenders_assessed'),
    ('ete_need_share', 'Offenders assessed with an education, training and employment need, share', 'proportion', 'higher_is_worse', 'ete_need_offenders', 'offenders_assessed'),
    ('finance_need_share', 'Offenders assessed with a financial management need, share', 'proportion', 'higher_is_worse', 'finance_need_offenders', 'offenders_assessed'),
    ('relat_need_share', 'Offenders assessed with a relationships need, share', 'proportion', 'higher_is_worse', 'relat_need_offenders', 'offenders_assessed'),
    ('lifestyle_need_share', 'Offenders assessed with a lifestyle and associates need, share', 'proportion', 'higher_is_worse', 'lifestyle_need_offenders', 'offenders_assessed'),
    ('drugs_need_share', 'Offenders assessed with a drug misuse need, share', 'proportion', 'higher_is_worse', 'drugs_need_offenders', 'offenders_assessed'),
    ('alcohol_need_share', 'Offenders assessed with an alcohol misuse need, share', 'proportion', 'higher_is_worse', 'alcohol_need_offenders', 'offenders_assessed'),
    ('emotional_need_share', 'Offenders assessed with an emotional wellbeing need, share', 'proportion', 'higher_is_worse', 'emotional_need_offenders', 'offenders_assessed'),
    ('thinking_need_share', 'Offenders assessed with a thinking and behaviour need, share', 'proportion', 'higher_is_worse', 'thinking_need_offenders', 'offenders_assessed'),
    ('attitudes_need_share', 'Offenders assessed with an attitudes need, share', 'proportion', 'higher_is_worse', 'attitudes_need_offenders', 'offenders_assessed'),
    ('sentence_plan_gap_share', 'Sentence plan objectives with no intervention planned, share', 'proportion', 'higher_is_worse', 'sentence_plan_gaps', 'sentence_plan_objectives'),
    ('dat_treatment_episodes_per_1000', 'DAT treatment episodes per 1,000 population', 'per_1000', 'none', 'dat_treatment_episodes', 'population'),
    ('supporting_people_episodes_per_1000', 'Supporting People episodes per 1,000 population', 'per_1000', 'none', 'supporting_people_episodes', 'population'),
    ('reoffending_binary_rate', 'Proven reoffending within a year (binary rate), complete cohorts', 'proportion', 'higher_is_worse', 'reoffending_reoffenders', 'reoffending_cohort_size'),
] %}
with

profile as (
    select * from {{ ref('jsna_district_profile') }}
),

reoffending_cohorts as (
    select * from {{ ref('fct_reoffending_summary') }}
),

district_counts as (
    {% for code, name, unit, polarity, numerator, denominator in indicators %}
        select
            profile.la_code,
            profile.la_name as area_name,
            profile.financial_year,
            '{{ code }}' as indicator_code,
            {{ loop.index }} as indicator_order,
            '{{ name }}' as indicator_name,
            '{{ unit }}' as unit,
            '{{ polarity }}' as polarity,
            profile.{{ numerator }}::integer as numerator,
            profile.{{ denominator }}::integer as denominator
        from profile
        {%- if code == 'reoffending_binary_rate' %}
        inner join reoffending_cohorts
            on profile.la_code = reoffending_cohorts.la_code
            and profile.financial_year = reoffending_cohorts.cohort_year
            and reoffending_cohorts.is_follow_up_complete
        {%- endif %}
        where profile.{{ denominator }} > 0
        -- complete financial years only (1 April to 31 March within the data)
            and {{ is_complete_financial_year('profile.financial_year') }}
        {{ 'union all' if not loop.last }}
    {% endfor %}
),

area_counts as (
    select
        *,
        'district' as area_type
    from district_counts
    union all
    select
        'E11000001',
        'Greater Manchester',
        financial_year,
        indicator_code,
        indicator_order,
        indicator_name,
        unit,
        polarity,
        sum(numerator)::integer,
        sum(denominator)::integer,
        'greater_manchester'
    from district_counts
    group by financial_year, indicator_code, indicator_order, indicator_name, unit, polarity
),

-- the value and its interval, rounded once (8 decimals) so the flags below compare
-- exactly what the mart publishes
estimates as (
    select
        *,
        round((case unit
            when 'proportion' then numerator::double precision / denominator
            else 1000.0 * numerator / denominator
        end)::numeric, 8) as value,
        round((case unit
            when 'proportion' then {{ wilson_ci('numerator', 'denominator', 'lower') }}
            else {{ rate_ci('numerator', 'denominator', 'lower') }}
        end)::numeric, 8) as lower_ci_95,
        round((case unit
            when 'proportion' then {{ wilson_ci('numerator', 'denominator', 'upper') }}
            else {{ rate_ci('numerator', 'denominator', 'upper') }}
        end)::numeric, 8) as upper_ci_95,
        numerator < {{ small }} as is_small_number,
        {{ previous_financial_year('financial_year') }}
            as previous_financial_year
    from area_counts
),

compared as (
    select
        estimates.*,
        gm.value as gm_value,
        gm.lower_ci_95 as gm_lower_ci_95,
        gm.upper_ci_95 as gm_upper_ci_95,
        case
            when estimates.area_type = 'greater_manchester' then null
            when estimates.is_small_number then 'not tested'
            else {{ compare_interval(
                'estimates.lower_ci_95', 'estimates.upper_ci_95', 'gm.value', 'gm.value',
                'estimates.polarity'
            ) }}
        end as significance_vs_gm,
        previous.value as previous_value,
        previous.lower_ci_95 as previous_lower_ci_95,
        previous.upper_ci_95 as previous_upper_ci_95,
        case
            when previous.value is null then null
            when estimates.is_small_number or previous.is_small_number then 'not tested'
            else {{ compare_interval(
                'estimates.lower_ci_95', 'estimates.upper_ci_95',
                'previous.lower_ci_95', 'previous.upper_ci_95', 'estimates.polarity'
            ) }}
        end as trend_vs_previous
    from estimates
    inner join estimates as gm
        on estimates.financial_year = gm.financial_year
        and estimates.indicator_code = gm.indicator_code
        and gm.area_type = 'greater_manchester'
    left join estimates as previous
        on estimates.la_code = previous.la_code
        and estimates.indicator_code = previous.indicator_code
        and estimates.previous_financial_year = previous.financial_year
),

final as (
    select
        {{ surrogate_key(['la_code', 'financial_year', 'indicator_code']) }} as indicator_value_id,
        la_code,
        area_name,
        area_type,
        financial_year,
        indicator_code,
        indicator_order,
        indicator_name,
        unit,
        polarity,
        numerator,
        denominator,
        value,
        lower_ci_95,
        upper_ci_95,
        is_small_number,
        gm_value,
        gm_lower_ci_95,
        gm_upper_ci_95,
        significance_vs_gm,
        previous_value,
        previous_lower_ci_95,
        previous_upper_ci_95,
        trend_vs_previous
    from compared
)

select * from final
