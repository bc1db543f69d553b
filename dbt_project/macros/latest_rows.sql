{#
    The latest delivered version of each row of a raw table: by the source's row version
    when it has one, then by the latest load and line (a later delivery wins).
#}
{% macro latest_rows(relation, key, version_column=none) %}
    select *
    from (
        select
            *,
            row_number() over (
                partition by {{ key }}
                order by
                    {% if version_column %}{{ version_column }} desc,{% endif %}
                    _load_id desc,
                    _line_number desc
            ) as _version_rank
        from {{ relation }}
    ) as ranked
    where _version_rank = 1
{% endmacro %}
