{#
    Post-hook of every table a model, snapshot or seed writes (dbt_project.yml), inside its
    transaction: the table's planner statistics, before the next model reads it. A table
    dbt has just created has none and an incremental one keeps those of its previous
    contents until autovacuum gets round to it, so a model built straight after its
    parents was planned on guesses, or not, by the luck of autovacuum's timing. At
    scale 16 fct_reoffending_breakdowns ran for 6 s with its parents analysed and had not
    finished after 376 s in a daily run that planned it first (BENCHMARKS.md). A view
    has no rows to sample: nothing to do.
#}
{% macro analyze_this() -%}
{%- if config.get('materialized') in ('table', 'incremental', 'snapshot', 'seed') -%}
analyze {{ this }}
{%- endif -%}
{%- endmacro %}
