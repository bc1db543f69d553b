{#
    dbt's unique, not_null and relationships tests on PostgreSQL (adapter.dispatch finds
    these before dbt's default__ ones): the same query, behind a gate that asks the
    catalogue first. When a validated constraint of the tested table already guarantees
    what the test asserts (a primary key or unique constraint on the column; NOT NULL; a
    validated foreign key from the column to the same column of the same table), the
    query's condition is false before any row is read (PostgreSQL evaluates the
    uncorrelated gate once, as a one-time filter, and skips the scan), and the test passes
    on the constraint's proof. Otherwise (no such constraint, e.g. staging and intermediate
    models, a test on a filtered subquery) the test scans the table as dbt's does.

    Every mart key stays tested by name (conventions: unique + not_null on each primary
    key, relationships on each foreign key); what a constraint makes PostgreSQL check on
    every write is not scanned for again in each build (at scale 4, ~33 s of a daily run's
    ~80 s of tests). The marts' foreign keys are NOT ENFORCED (macros/foreign_keys.sql), so
    their relationships tests always run: they are the proof, and on an incremental fact
    they read its latest build's rows plus the rows holding a key a dimension lost.
#}
{% macro postgres__test_unique(model, column_name) %}
select
    {{ column_name }} as unique_field,
    count(*) as n_records
from {{ model }}
where {{ column_name }} is not null
    and not {{ adapter.dispatch('constraint_proves')(model, column_name, 'unique') }}
group by {{ column_name }}
having count(*) > 1
{% endmacro %}

{% macro postgres__test_not_null(model, column_name) %}
{%- set column_list = '*' if should_store_failures() else column_name %}
select {{ column_list }}
from {{ model }}
where {{ column_name }} is null
    and not {{ adapter.dispatch('constraint_proves')(model, column_name, 'not_null') }}
{% endmacro %}

{% macro postgres__test_relationships(model, column_name, to, field) %}
{%- set whole = adapter.dispatch('table_under_unproved_rows')(model) %}
{%- set proof = test_proof(api.Relation.create(
    database=whole[1], schema=whole[2], identifier=whole[3]
)) if whole else none %}
with child as (
    select {{ column_name }} as from_field
    from {{ model }}
    where {{ column_name }} is not null
        and not {{ adapter.dispatch('constraint_proves')(model, column_name, 'relationships', to, field) }}
    {%- if whole and to.identifier is defined %}
    {%- set lost -%}
        select key_value from audit.lost_dimension_keys
        where dimension = '{{ to.schema }}.{{ to.identifier }}' and key_column = '{{ field }}'
            and lost_at > timestamptz '{{ proof[1] if proof else '-infinity' }}'
    {%- endset %}

    -- rows this test passed before that hold a key the parent lost since (almost never:
    -- then the one-time filter skips this scan)
    union all
    select {{ column_name }}
    from {{ whole[0] }}
    where {{ column_name }}::text in ({{ lost }})
        and exists ({{ lost }})
    {%- endif %}
),

parent as (
    select {{ field }} as to_field
    from {{ to }}
)

select from_field
from child
left join parent
    on child.from_field = parent.to_field
where parent.to_field is null
{% endmacro %}

{#
    The table under an incremental model's test subquery of the rows the test has not
    passed (get_where_subquery: the condition carries its comment), as (relation, database,
    schema, identifier), or none for anything else (a table, a test's own `where`).
    (Through adapter.dispatch, like constraint_proves.)
#}
{% macro default__table_under_unproved_rows(model) -%}
{%- set found = modules.re.match(
    '^\\s*\\(select \\* from ("([^"]+)"\\."([^"]+)"\\."([^"]+)") where (?:true|built_at > timestamptz \'[^\']*\') /\\* rows the test has not passed \\*/\\) dbt_subquery\\s*$',
    model | string
) -%}
{{ return([found.group(1), found.group(2), found.group(3), found.group(4)] if found else none) }}
{%- endmacro %}

{#
    The gate: a SQL boolean, true when a validated constraint of the tested table
    guarantees the assertion on ``column_name``. ``model`` is the table or, for an
    incremental model's test, the subquery of its latest rows (get_where_subquery): what
    holds for every row holds for those. Anything else (an expression, another subquery)
    gets ``false``: the test scans. (Called through adapter.dispatch: dbt renders a generic
    test with only the macros it found in it, and dispatch looks in the whole project.)
#}
{% macro default__constraint_proves(model, column_name, kind, to=none, field=none) -%}
{%- set name = modules.re.match(
    '^\\s*(?:\\(select \\* from )?"([^"]+)"\\."([^"]+)"\\."([^"]+)"(?: where .*\\) dbt_subquery)?\\s*$',
    model | string, modules.re.DOTALL
) -%}
{%- if name is none or (kind == 'relationships' and to.identifier is not defined) -%}
    false
{%- else -%}
{%- set table -%}to_regclass('"{{ name.group(2) }}"."{{ name.group(3) }}"'){%- endset -%}
{%- set column = column_name | replace("'", "''") -%}
{%- set attnum -%}
(select attnum from pg_attribute where attrelid = {{ table }} and attname = '{{ column }}' and not attisdropped)
{%- endset -%}
{%- if kind == 'unique' -%}
    exists (
        select 1 from pg_constraint
        where conrelid = {{ table }} and contype in ('p', 'u') and convalidated
            and conkey = array[{{ attnum }}]::int2[]
    )
{%- elif kind == 'not_null' -%}
    (exists (
        select 1 from pg_attribute
        where attrelid = {{ table }} and attname = '{{ column }}' and attnotnull
    ) and not exists (
        select 1 from pg_constraint
        where conrelid = {{ table }} and contype = 'n' and not convalidated
            and conkey = array[{{ attnum }}]::int2[]
    ))
{%- else -%}
{%- set parent -%}to_regclass('"{{ to.schema }}"."{{ to.identifier }}"'){%- endset -%}
    exists (
        select 1 from pg_constraint
        where conrelid = {{ table }} and confrelid = {{ parent }}
            and contype = 'f' and convalidated
            and conkey = array[{{ attnum }}]::int2[]
            and confkey = array[(
                select attnum from pg_attribute
                where attrelid = {{ parent }} and attname = '{{ field | replace("'", "''") }}'
                    and not attisdropped
            )]::int2[]
    )
{%- endif -%}
{%- endif -%}
{%- endmacro %}
