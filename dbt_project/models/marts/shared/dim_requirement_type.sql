with

requirement_types as (
    select * from {{ ref('ref_requirement_types') }}
),

final as (
    select
        requirement_type_code,
        requirement_type_name,
        length_unit,
        applies_to
    from requirement_types

    union all

    select
        'UNKNOWN',
        'Unknown requirement type',
        null,
        null
)

select * from final
