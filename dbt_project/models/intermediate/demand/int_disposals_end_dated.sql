{{ config(
    indexes=[
        {"columns": ["offender_id"]},
        {"columns": ["event_id"]},
        {"columns": ["disposal_id"], "unique": true},
    ]
) }}
-- One row per sentence under probation supervision, with the day supervision ends:
-- the termination date, or the planned end (start + length) while the sentence runs.
with

disposals as (
    select * from {{ ref('stg_ndelius__disposals') }}
),

disposal_types as (
    select * from {{ ref('ref_disposal_types') }}
),

final as (
    select
        disposals.disposal_id,
        disposals.offender_id,
        disposals.event_id,
        disposals.disposal_type_code,
        coalesce(disposal_types.sentence_group, 'unknown') as sentence_group,
        disposals.start_date,
        coalesce(
            disposals.termination_date,
            cast(
                disposals.start_date
                + make_interval(months => coalesce(disposals.length_months, 0)::integer)
                - interval '1 day'
                as date
            )
        ) as end_date,
        disposals.termination_date is not null as is_terminated
    from disposals
    left join disposal_types
        on disposals.disposal_type_code = disposal_types.disposal_type_code
    where not disposals.is_deleted
        and disposals.start_date is not null
)

select * from final
