-- Approved premises (hostels) with their district, the gender they house and beds.
with

premises as (
    select * from {{ ref('ref_approved_premises') }}
),

final as (
    select
        premises_code,
        premises_name,
        la_code,
        gender as gender_code,
        beds
    from premises

    union all

    select
        'UNKNOWN',
        'Unknown premises',
        'UNKNOWN',
        'U',
        null
)

select * from final
