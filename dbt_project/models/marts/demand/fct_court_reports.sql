-- Court (pre-sentence) reports with the proposal and the sentence the court gave, so
-- concordance (proposal = sentence) can be computed.
with

reports as (
    select * from {{ ref('stg_ndelius__court_reports') }}
    where not is_deleted
),

periods as (
    select distinct on (event_id)
        event_id,
        disposal_type_code
    from {{ ref('int_disposals_end_dated') }}
    order by event_id, start_date
),

offenders as (
    select * from {{ ref('int_offenders_joined_to_tier_and_rosh') }}
),

final as (
    select
        reports.court_report_id,
        coalesce(reports.offender_id, -1) as offender_id,
        reports.event_id,
        reports.report_type,
        reports.requested_date,
        reports.completed_date,
        {{ date_key('reports.completed_date') }} as completed_date_id,
        cast(date_trunc('quarter', reports.completed_date) as date) as completed_quarter,
        coalesce({{ financial_year('reports.completed_date') }}, 'Unknown') as financial_year,
        reports.proposed_sentence,
        -- a sentence not supervised by probation (custody without licence yet, fine,
        -- discharge) has no disposal here
        coalesce(periods.disposal_type_code, 'OTHER') as sentence_given,
        reports.proposed_sentence = coalesce(periods.disposal_type_code, 'OTHER')
            as is_concordant,
        coalesce(offenders.la_code, 'UNKNOWN') as la_code
    from reports
    left join periods
        on reports.event_id = periods.event_id
    left join offenders
        on reports.offender_id = offenders.offender_id
)

select * from final
