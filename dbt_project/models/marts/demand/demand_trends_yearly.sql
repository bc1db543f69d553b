{#- a table, not a view: district logins read it, and a (security_invoker) view would need
    their SELECT on the person-level facts it aggregates -#}
-- Demand by district x financial year (caseload = offenders supervised in the year).
with

quarters as (
    select * from {{ ref('demand_trends_quarterly') }}
),

-- distinct offenders by district and year: the distinct (district, year, offender) first (a
-- hash), then a count of the known ones (count(distinct) sorted every offender month)
caseload as (
    select
        la_code,
        financial_year,
        count(offender_id) as caseload
    from (
        select distinct
            la_code,
            financial_year,
            offender_id
        from {{ ref('fct_caseload_monthly') }}
    ) as offender_years
    group by 1, 2
),

summed as (
    select
        la_code,
        financial_year,
        sum(commencements) as commencements,
        sum(community_commencements) as community_commencements,
        sum(licence_commencements) as licence_commencements,
        sum(requirements) as requirements,
        sum(sentences_with_unpaid_work) as sentences_with_unpaid_work,
        sum(sentences_with_programme) as sentences_with_programme,
        sum(court_reports) as court_reports
    from quarters
    group by 1, 2
),

final as (
    select
        summed.*,
        coalesce(caseload.caseload, 0) as caseload
    from summed
    left join caseload using (la_code, financial_year)
)

select * from final
