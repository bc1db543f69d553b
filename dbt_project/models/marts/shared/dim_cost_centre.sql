-- Cost centres as they appear in the finance ledger, with their service and district.
with

ledger as (
    select * from {{ ref('stg_finance__ledger_lines') }}
),

centres as (
    select distinct on (cost_centre)
        cost_centre,
        service_code,
        la_code
    from ledger
    where cost_centre is not null
    order by cost_centre, period_month desc
),

final as (
    select
        cost_centre as cost_centre_code,
        coalesce(service_code, 'UNKNOWN') as service_code,
        coalesce(la_code, 'UNKNOWN') as la_code
    from centres

    union all

    select
        'UNKNOWN',
        'UNKNOWN',
        'UNKNOWN'
)

select * from final
