{# Financial years (1 April to 31 March): the one SQL definition (Python's is
   ingestion/financial_year.py). #}

{# The calendar year in which the financial year holding a date starts. #}
{% macro financial_year_start(date_expr) %}
    extract(year from ({{ date_expr }} - interval '3 months'))::int
{% endmacro %}

{# A financial year's name from its start year: 2007 -> '2007/08'. #}
{% macro financial_year_label(start_year_expr) %}
    (({{ start_year_expr }})::text || '/' || lpad(((({{ start_year_expr }}) + 1) % 100)::text, 2, '0'))
{% endmacro %}

{# The financial year of a date, as '2007/08'. #}
{% macro financial_year(date_expr) %}
    {{ financial_year_label(financial_year_start(date_expr)) }}
{% endmacro %}

{# The financial year before one named '2008/09': '2007/08'. #}
{% macro previous_financial_year(name_expr) %}
    {{ financial_year_label('left(' ~ name_expr ~ ', 4)::int - 1') }}
{% endmacro %}

{# 1 April of the financial year named '2008/09'. #}
{% macro financial_year_first_day(name_expr) %}
    make_date(left({{ name_expr }}, 4)::int, 4, 1)
{% endmacro %}

{# 31 March, the last day of the financial year named '2008/09'. #}
{% macro financial_year_last_day(name_expr) %}
    make_date(left({{ name_expr }}, 4)::int + 1, 3, 31)
{% endmacro %}

{# The data cover the financial year named '2008/09' from 1 April to 31 March (vars
   data_start_date and data_end_date): a partial year is left out of the JSNA marts. #}
{% macro is_complete_financial_year(name_expr) %}
    ({{ financial_year_first_day(name_expr) }} >= date '{{ var("data_start_date") }}'
    and {{ financial_year_last_day(name_expr) }} <= date '{{ var("data_end_date") }}')
{% endmacro %}

{# A date's month in its financial year: 1 for April ... 12 for March. #}
{% macro financial_month(date_expr) %}
    ((extract(month from {{ date_expr }})::int + 8) % 12 + 1)
{% endmacro %}

{# A date's quarter in its financial year: 1 (April-June) ... 4 (January-March). #}
{% macro financial_quarter(date_expr) %}
    (({{ financial_month(date_expr) }} - 1) / 3 + 1)
{% endmacro %}
