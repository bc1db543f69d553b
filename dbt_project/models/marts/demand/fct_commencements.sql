with

disposals as (
    select * from {{ ref('stg_ndelius__disposals') }}
),

offenders as (
    select * from {{ ref('stg_ndelius__offenders') }}
),

disposal_types as (
    select * from {{ ref('ref_disposal_types') }}
),

requirements as (
    select * from {{ ref('stg_ndelius__requirements') }}
),

requirement_flags as (
    select
        disposal_id,
        count(*) as requirement_count,
        bool_or(requirement_type_code = 'UPW') as has_unpaid_work,
        bool_or(requirement_type_code = 'PROG') as has_accredited_programme,
        bool_or(requirement_type_code = 'DRR') as has_drug_rehabilitation,
        bool_or(requirement_type_code = 'ATR') as has_alcohol_treatment
    from requirements
    where not is_deleted
    group by disposal_id
),

final as (
    select
        {{ surrogate_key(['disposals.disposal_id']) }} as commencement_id,
        disposals.disposal_id,
        disposals.event_id,
        disposals.offender_id,
        coalesce(offenders.la_code, 'UNKNOWN') as la_code,
        disposals.disposal_type_code,
        disposal_types.sentence_group,
        disposals.start_date,
        {{ date_key('disposals.start_date') }} as start_date_id,
        cast(date_trunc('month', disposals.start_date) as date) as start_month,
        cast(date_trunc('quarter', disposals.start_date) as date) as start_quarter,
        {{ financial_year('disposals.start_date') }} as financial_year,
        disposals.length_months,
        disposals.termination_date,
        disposals.termination_reason,
        coalesce(requirement_flags.requirement_count, 0)::integer as requirement_count,
        coalesce(requirement_flags.has_unpaid_work, false) as has_unpaid_work,
        coalesce(requirement_flags.has_accredited_programme, false) as has_accredited_programme,
        coalesce(requirement_flags.has_drug_rehabilitation, false) as has_drug_rehabilitation,
        coalesce(requirement_flags.has_alcohol_treatment, false) as has_alcohol_treatment
    from disposals
    left join offenders
        on disposals.offender_id = offenders.offender_id
    left join disposal_types
        on disposals.disposal_type_code = disposal_types.disposal_type_code
    left join requirement_flags
        on disposals.disposal_id = requirement_flags.disposal_id
    where not disposals.is_deleted
)

select * from final
