{#- Grants for the BI roles and the district row-level-security policy on this mart, by
    access.protect() (warehouse/sql/access.sql, installed by `warehouse access` before a
    build). Without it (a bare dbt run on a new database) nothing is granted to anyone. -#}
{% macro protect_for_bi() -%}
    do $$
    begin
        if to_regprocedure('access.protect(regclass)') is not null then
            perform access.protect('{{ this }}'::regclass);
        end if;
    end
    $$
{%- endmacro %}
