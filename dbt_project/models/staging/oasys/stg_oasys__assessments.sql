with

latest as (
    {{ latest_rows(source('oasys', 'oasys_assessments'), 'assessment_id') }}
),

final as (
    select
        assessment_id,
        crn,
        event_id,
        assessment_type,
        assessment_date,
        s3_1,
        s3_2,
        s3_3,
        s3_4,
        s4_1,
        s4_2,
        s4_3,
        s4_4,
        s5_1,
        s5_2,
        s6_1,
        s6_2,
        s6_3,
        s7_1,
        s7_2,
        s7_3,
        s8_1,
        s8_2,
        s8_3,
        s8_4,
        s8_5,
        s9_1,
        s9_2,
        s9_3,
        s9_4,
        s10_1,
        s10_2,
        s11_1,
        s11_2,
        s11_3,
        s11_4,
        s12_1,
        s12_2,
        s12_3,
        s12_4,
        s3_linked as is_s3_linked,
        s4_linked as is_s4_linked,
        s5_linked as is_s5_linked,
        s6_linked as is_s6_linked,
        s7_linked as is_s7_linked,
        s8_linked as is_s8_linked,
        s9_linked as is_s9_linked,
        s10_linked as is_s10_linked,
        s11_linked as is_s11_linked,
        s12_linked as is_s12_linked,
        _load_id as load_id,
        _loaded_at as loaded_at
    from latest
)

select * from final
