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
