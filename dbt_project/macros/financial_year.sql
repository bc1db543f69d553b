{# The financial year (1 April to 31 March) of a date, as '2007/08'. #}
{% macro financial_year(date_expr) %}
    (
        case
            when extract(month from {{ date_expr }}) >= 4
                then extract(year from {{ date_expr }})::int
            else extract(year from {{ date_expr }})::int - 1
        end::text
        || '/'
        || lpad(
            ((case
                when extract(month from {{ date_expr }}) >= 4
                    then extract(year from {{ date_expr }})::int
                else extract(year from {{ date_expr }})::int - 1
            end + 1) % 100)::text,
            2,
            '0'
        )
    )
{% endmacro %}
