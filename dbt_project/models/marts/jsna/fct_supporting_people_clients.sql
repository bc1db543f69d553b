-- District x financial year (support start) x client group x service type: Supporting
-- People clients (client records, i.e. support episodes), each counted once. Aggregate
-- only: no client record leaves staging.
with

clients as (
    select * from {{ ref('stg_supporting_people__clients') }}
    where support_start_date is not null
),

counts as (
    select
        coalesce(la_code, 'UNKNOWN') as la_code,
        {{ financial_year('support_start_date') }} as financial_year,
        coalesce(client_group, 'UNKNOWN') as client_group,
        coalesce(service_type, 'UNKNOWN') as service_type,
        count(*)::integer as clients
    from clients
    group by 1, 2, 3, 4
),

final as (
    select
        {{ surrogate_key(['la_code', 'financial_year', 'client_group', 'service_type']) }}
            as supporting_people_client_id,
        *
    from counts
)

select * from final
