{# The dim_date key of a date: the integer YYYYMMDD, or -1 (the unknown member) for null. #}
{% macro date_key(date_expr) -%}
    coalesce(cast(to_char({{ date_expr }}, 'YYYYMMDD') as integer), -1)
{%- endmacro %}
