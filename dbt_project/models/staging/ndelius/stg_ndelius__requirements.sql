with

latest as (
    {{ latest_rows(
        source('ndelius', 'ndelius_requirements'), 'requirement_id', version_column='row_version'
    ) }}
),

final as (
    select
        requirement_id,
        disposal_id,
        requirement_type as requirement_type_code,
        length as requirement_length,
        length_unit,
        start_date,
        soft_deleted as is_deleted,
        row_version,
        _load_id as load_id,
        _loaded_at as loaded_at
    from latest
)

select * from final
