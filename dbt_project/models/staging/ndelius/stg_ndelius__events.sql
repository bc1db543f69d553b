with

source as (
    select * from {{ source('ndelius', 'ndelius_events') }}
),

latest as (
    select
        *,
        row_number() over (
            partition by event_id order by row_version desc, _load_id desc, _line_number desc
        ) as version_rank
    from source
),

final as (
    select
        event_id,
        offender_id,
        event_number,
        offence_code as offence_category_code,
        offence_date,
        conviction_date,
        court_code,
        soft_deleted as is_deleted,
        row_version,
        _load_id as load_id,
        _loaded_at as loaded_at
    from latest
    where version_rank = 1
)

select * from final
