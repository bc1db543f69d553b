with

disposal_types as (
    select * from {{ ref('ref_disposal_types') }}
),

final as (
    select
        disposal_type_code,
        disposal_type_name,
        sentence_group,
        is_community_sentence,
        is_licence
    from disposal_types

    union all

    select
        'UNKNOWN',
        'Unknown sentence type',
        'unknown',
        false,
        false
)

select * from final
