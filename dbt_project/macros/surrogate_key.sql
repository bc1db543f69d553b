{#- md5 of the natural key columns: the project's one surrogate-key macro (no hub packages offline). -#}
{% macro surrogate_key(columns) -%}
    md5(concat_ws('|', {%- for col in columns %} coalesce(cast({{ col }} as text), '~null~'){{ "," if not loop.last }}{%- endfor %}))
{%- endmacro %}
