-- District x financial year (support start) x client group x outcome domain: the
-- Supporting People clients with a need identified in the domain and those whose outcome
-- was achieved (a client counts once in each domain; the clients themselves, once each,
-- are in fct_supporting_people_clients). Aggregate only: no client record leaves staging.
with

clients as (
    select * from {{ ref('stg_supporting_people__clients') }}
),

outcomes as (
    select * from {{ ref('stg_supporting_people__outcomes') }}
),

counts as (
    select
        coalesce(clients.la_code, 'UNKNOWN') as la_code,
        {{ financial_year('clients.support_start_date') }} as financial_year,
        coalesce(clients.client_group, 'UNKNOWN') as client_group,
        outcomes.outcome_domain,
        count(distinct clients.client_record_id)
        filter (where outcomes.is_need_identified)::integer as needs_identified,
        count(distinct clients.client_record_id)
        filter (where outcomes.is_need_identified and outcomes.is_outcome_achieved)::integer
            as outcomes_achieved
    from clients
    inner join outcomes
        on clients.client_record_id = outcomes.client_record_id
    where clients.support_start_date is not null
    group by 1, 2, 3, 4
),

final as (
    select
        {{ surrogate_key(['la_code', 'financial_year', 'client_group', 'outcome_domain']) }}
            as supporting_people_outcome_id,
        *
    from counts
)

select * from final
