with

latest as (
    {{ latest_rows(
        source('supporting_people', 'sp_outcomes'), 'client_record_id, outcome_domain'
    ) }}
),

final as (
    select
        md5(client_record_id || '|' || outcome_domain) as outcome_id,
        client_record_id,
        outcome_domain,
        need_identified as is_need_identified,
        outcome_achieved as is_outcome_achieved,
        _load_id as load_id,
        _loaded_at as loaded_at
    from latest
)

select * from final
