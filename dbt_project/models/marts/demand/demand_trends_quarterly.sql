{#- a table, not a view: district logins read it, and a (security_invoker) view would need
    their SELECT on the person-level facts it aggregates -#}
-- Demand by district x quarter: commencements (community / licence), requirements by
-- type group, court reports and concordance, and the caseload in the quarter.
with

commencements as (
    select
        la_code,
        start_quarter as quarter_start_date,
        count(*) filter (where sentence_group = 'community') as community_commencements,
        count(*) filter (where sentence_group = 'licence') as licence_commencements,
        count(*) as commencements
    from {{ ref('fct_commencements') }}
    group by 1, 2
),

-- each sentence once per district and quarter with its requirements and whether it has
-- unpaid work or a programme (a community sentence): the counts below are then plain
-- counts, the same as count(distinct disposal_id) filter (...) over the requirements,
-- hashed instead of sorting every requirement
sentences as (
    select
        la_code,
        sentence_start_quarter as quarter_start_date,
        disposal_id,
        count(*) as requirements,
        bool_or(requirement_type_code = 'UPW' and sentence_group = 'community') as has_upw,
        bool_or(requirement_type_code = 'PROG' and sentence_group = 'community')
            as has_programme
    from {{ ref('fct_requirements') }}
    group by 1, 2, 3
),

requirements as (
    select
        la_code,
        quarter_start_date,
        cast(sum(requirements) as bigint) as requirements,
        count(disposal_id) filter (where has_upw) as sentences_with_unpaid_work,
        count(disposal_id) filter (where has_programme) as sentences_with_programme
    from sentences
    group by 1, 2
),

reports as (
    select
        la_code,
        completed_quarter as quarter_start_date,
        count(*) as court_reports,
        round(avg(is_concordant::integer), 4) as concordance
    from {{ ref('fct_court_reports') }}
    group by 1, 2
),

-- distinct offenders by district and quarter: the distinct (district, quarter, offender)
-- first (a hash), then a count of the known ones (count(distinct) sorted every offender month)
caseload as (
    select
        la_code,
        quarter_start_date,
        count(offender_id) as caseload
    from (
        select distinct
            la_code,
            cast(date_trunc('quarter', cast(month_start_date as timestamp)) as date)
                as quarter_start_date,
            offender_id
        from {{ ref('fct_caseload_monthly') }}
    ) as offender_quarters
    group by 1, 2
),

keys as (
    select
        la_code,
        quarter_start_date
    from commencements
    union
    select
        la_code,
        quarter_start_date
    from requirements
    union
    select
        la_code,
        quarter_start_date
    from reports
    union
    select
        la_code,
        quarter_start_date
    from caseload
),

dated_keys as (
    select * from keys
    where quarter_start_date is not null
),

final as (
    select
        keys.la_code,
        keys.quarter_start_date,
        {{ date_key('keys.quarter_start_date') }} as quarter_start_date_id,
        {{ financial_year('keys.quarter_start_date') }} as financial_year,
        coalesce(commencements.commencements, 0) as commencements,
        coalesce(commencements.community_commencements, 0) as community_commencements,
        coalesce(commencements.licence_commencements, 0) as licence_commencements,
        coalesce(requirements.requirements, 0) as requirements,
        coalesce(requirements.sentences_with_unpaid_work, 0) as sentences_with_unpaid_work,
        coalesce(requirements.sentences_with_programme, 0) as sentences_with_programme,
        coalesce(reports.court_reports, 0) as court_reports,
        reports.concordance,
        coalesce(caseload.caseload, 0) as caseload
    from dated_keys as keys
    left join commencements using (la_code, quarter_start_date)
    left join requirements using (la_code, quarter_start_date)
    left join reports using (la_code, quarter_start_date)
    left join caseload using (la_code, quarter_start_date)
)

select * from final
