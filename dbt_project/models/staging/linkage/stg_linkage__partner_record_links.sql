with

source as (
    select * from {{ source('linkage', 'partner_record_links') }}
),

final as (
    select
        partner_source,
        partner_record_id,
        offender_id,
        match_probability,
        match_weight,
        match_band
    from source
)

select * from final
