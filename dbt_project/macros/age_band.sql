{#- The reporting age band of an age in whole years (as dim_demographic lists them). -#}
{% macro age_band(age_expr) -%}
    case
        when {{ age_expr }} is null then 'Unknown'
        when {{ age_expr }} < 21 then '18-20'
        when {{ age_expr }} < 25 then '21-24'
        when {{ age_expr }} < 30 then '25-29'
        when {{ age_expr }} < 40 then '30-39'
        when {{ age_expr }} < 50 then '40-49'
        else '50+'
    end
{%- endmacro %}

{#- Age in whole years on a date. -#}
{% macro age_on(birth_date, on_date) -%}
    extract(year from age({{ on_date }}, {{ birth_date }}))::integer
{%- endmacro %}
