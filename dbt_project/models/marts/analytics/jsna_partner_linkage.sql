-- The JSNA's linked counts: per district and financial year, the DAT treatment episodes
-- and Supporting People clients linked to an offender on the caseload, and the rates per
-- 1,000 caseload. District and year are the partner record's own (LA, start date).
with

profile as (
    select * from {{ ref('jsna_district_profile') }}
),

links as (
    select * from {{ ref('fct_partner_record_links') }}
),

dat as (
    select
        episodes.la_code,
        {{ financial_year('episodes.episode_start_date') }} as financial_year,
        count(*) as dat_episodes,
        count(links.offender_id) as dat_episodes_linked,
        count(distinct links.offender_id) as offenders_in_drug_treatment
    from {{ ref('stg_dat__treatment_episodes') }} as episodes
    left join links
        on links.partner_source = 'dat'
        and links.partner_record_id = episodes.treatment_episode_id
    group by 1, 2
),

sp as (
    select
        clients.la_code,
        {{ financial_year('clients.support_start_date') }} as financial_year,
        count(*) as sp_clients,
        count(links.offender_id) as sp_clients_linked
    from {{ ref('stg_supporting_people__clients') }} as clients
    left join links
        on links.partner_source = 'supporting_people'
        and links.partner_record_id = clients.client_record_id
    group by 1, 2
),

final as (
    select
        {{ surrogate_key(['profile.la_code', 'profile.financial_year']) }} as partner_linkage_id,
        profile.la_code,
        profile.financial_year,
        profile.caseload,
        coalesce(dat.dat_episodes, 0)::integer as dat_episodes,
        coalesce(dat.dat_episodes_linked, 0)::integer as dat_episodes_linked,
        coalesce(dat.offenders_in_drug_treatment, 0)::integer as offenders_in_drug_treatment,
        round(1000.0 * coalesce(dat.dat_episodes_linked, 0) / nullif(profile.caseload, 0), 2)
            as drug_treatment_episodes_per_1000_caseload,
        coalesce(sp.sp_clients, 0)::integer as sp_clients,
        coalesce(sp.sp_clients_linked, 0)::integer as sp_clients_linked,
        round(1000.0 * coalesce(sp.sp_clients_linked, 0) / nullif(profile.caseload, 0), 2)
            as supported_housing_clients_per_1000_caseload
    from profile
    left join dat
        on profile.la_code = dat.la_code
        and profile.financial_year = dat.financial_year
    left join sp
        on profile.la_code = sp.la_code
        and profile.financial_year = sp.financial_year
)

select * from final
