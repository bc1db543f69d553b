-- Partner client records (DAT treatment episodes, Supporting People clients) linked to
-- offenders by the linkage step (warehouse/analytics/linkage.py, a Splink model trained
-- without labels). Keys, probability and band only: the initials, names, dates of birth
-- and postcodes the model compared stay in staging.
with

links as (
    select * from {{ ref('stg_linkage__partner_record_links') }}
),

final as (
    select
        {{ surrogate_key(['partner_source', 'partner_record_id']) }} as partner_record_link_id,
        partner_source,
        partner_record_id,
        offender_id,
        round(match_probability::numeric, 6) as match_probability,
        round(match_weight::numeric, 3) as match_weight,
        match_band
    from links
)

select * from final
