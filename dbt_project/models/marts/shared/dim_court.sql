-- Courts (magistrates' and Crown) with their type and district.
with

courts as (
    select * from {{ ref('ref_courts') }}
),

final as (
    select
        court_code,
        court_name,
        court_type,
        coalesce(la_code, 'UNKNOWN') as la_code
    from courts

    union all

    select
        'UNKNOWN',
        'Unknown court',
        null,
        'UNKNOWN'
)

select * from final
