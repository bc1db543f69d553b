-- The "latest assessment in the year" rule, defined once: one row per OASys assessment,
-- numbered within its offender x financial year from the latest (assessment date, then
-- assessment id, descending); the first is the offender's latest assessment in that year,
-- the one every need-prevalence figure counts. Assessments of an unknown offender
-- (offender_id -1) are never the latest. Read by int_needs_at_latest_assessment_in_year and
-- by the mart fct_assessments (which exposes the flag to BI users).
-- Incremental as fct_assessments: an assessment's number depends on the offender's other
-- assessments that year, so every assessment of an offender with an assessment (re)scored
-- since the last build is numbered again, and of the offender it belonged to before (an
-- assessment whose CRN found its offender record moves from offender -1). A full rebuild
-- read every section of every assessment (~19 M rows at scale 16) each run.
{{
    config(
        materialized='incremental',
        unique_key='assessment_id',
        indexes=[{'columns': ['built_at']}, {'columns': ['assessment_id'], 'unique': true}],
    )
}}
with

-- the assessments as scored (an incremental run: those (re)scored since the last build)
scored as (
    select distinct
        assessment_id,
        offender_id,
        financial_year,
        assessment_date
    from {{ ref('int_assessment_needs_scored') }}
    {% if is_incremental() %}
        where built_at > {{ built_since_last_build() }}
    {% endif %}
),

{% if is_incremental() %}
    changed as (
        select offender_id from scored
        union
        select previous.offender_id
        from {{ this }} as previous
        inner join scored
            on previous.assessment_id = scored.assessment_id
    ),

    -- every assessment of those offenders: the rescored ones as scored now, the others as
    -- this table holds them (their sections were not scored again since, so they are as
    -- read then); reading every section of those offenders' assessments instead scanned
    -- ~19 M rows at scale 16
    assessments as (
        select * from scored
        union all
        select
            previous.assessment_id,
            previous.offender_id,
            previous.financial_year,
            previous.assessment_date
        from {{ this }} as previous
        inner join changed
            on previous.offender_id = changed.offender_id
        where not exists (
                select 1 from scored
                where scored.assessment_id = previous.assessment_id
            )
    ),
{% else %}
    assessments as (
        select * from scored
    ),
{% endif %}

numbered as (
    select
        assessment_id,
        offender_id,
        financial_year,
        assessment_date,
        cast(
            row_number() over (
                partition by offender_id, financial_year
                order by assessment_date desc, assessment_id desc
            ) as integer
        ) as recency_in_year
    from assessments
),

final as (
    select
        assessment_id,
        offender_id,
        financial_year,
        assessment_date,
        recency_in_year,
        offender_id <> -1 and recency_in_year = 1 as is_latest_in_year,
        {{ build_time() }} as built_at
    from numbered
)

select * from final
