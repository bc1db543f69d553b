{#
    post-hook of every mart, after its commit (outside its transaction, so no
    lock_timeout): declare the mart's own foreign keys, checking its rows against
    dimensions this build has already rebuilt (a fact refs its dimensions, so they come
    first). The checks, a scan of each fact, then run on the build's threads beside other
    models instead of one after another at the end (16-20 s of a daily run at scale 4).
    Each step is committed on its own (dbt runs a hook outside the transaction without
    committing it), so a fact holds one dimension at a time and two facts cannot
    deadlock; a BI query reading either table blocks neither step.

    on-run-end: declare every foreign key of the marts' contracts that the database lacks.
    dbt creates a contract's foreign keys with the table, but a dimension rebuilt by a
    table swap drops its old table with CASCADE, and with it the foreign keys of the facts
    that point at it; an incremental fact keeps its table, so it would never get them back.
    Each key is added (and so checked against the data) only when missing: a build that
    rebuilt nothing referenced costs one catalogue lookup per key.
#}
{% macro restore_foreign_keys(relation=none) %}
    {%- if execute -%}
    {%- set statements = [] -%}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'model' and node.schema == 'marts'
        and node.config.materialized in ('table', 'incremental')
        and (relation is none or (node.schema == relation.schema and node.alias == relation.identifier)) -%}
        {%- for column in node.columns.values() -%}
            {%- for constraint in column.constraints if constraint.type == 'foreign_key' -%}
                {%- set target = constraint.to.split("'")[1] if constraint.to.startswith('ref(') else constraint.to.split('.')[-1] | replace('"', '') -%}
                {%- do statements.append(_add_foreign_key(
                    node.schema, node.alias, column.name, target, constraint.to_columns[0]
                )) -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- for statement in statements %}
    {{ statement }};
    commit;
    {%- endfor %}
    {%- endif -%}
{% endmacro %}

{#
    Two statements per key: declare it NOT VALID (a catalogue change; it holds the fact
    and the dimension in SHARE ROW EXCLUSIVE, a lock that conflicts with itself, for an
    instant), then VALIDATE it (the scan of the fact, holding the fact in SHARE UPDATE
    EXCLUSIVE and the dimension in ROW SHARE: facts keying the same dimension validate at
    the same time). A key left NOT VALID by a failed check is validated by the next build,
    never taken for a declared one.
#}
{% macro _add_foreign_key(schema, table, column, target, target_column) -%}
{%- set name = (table ~ '_' ~ column)[:57] ~ '_fkey' -%}
do $fk$
declare
    fact regclass := to_regclass('{{ schema }}.{{ table }}');
    dim regclass := to_regclass('{{ schema }}.{{ target }}');
begin
    if fact is not null and dim is not null and not exists (
        select 1 from pg_constraint
        where contype = 'f' and conrelid = fact and confrelid = dim
            and conkey = array[(
                select attnum from pg_attribute where attrelid = fact and attname = '{{ column }}'
            )]::int2[]
    ) then
        alter table {{ schema }}.{{ table }}
            add constraint {{ name }}
            foreign key ({{ column }}) references {{ schema }}.{{ target }} ({{ target_column }})
            not valid;
    end if;
end
$fk$;
commit;
do $fk$
declare
    unchecked record;
begin
    for unchecked in
        select conname from pg_constraint
        where contype = 'f' and not convalidated
            and conrelid = to_regclass('{{ schema }}.{{ table }}')
            and confrelid = to_regclass('{{ schema }}.{{ target }}')
    loop
        execute format('alter table {{ schema }}.{{ table }} validate constraint %I', unchecked.conname);
    end loop;
end
$fk$
{%- endmacro %}

{#
    Contract foreign keys are left out of the CREATE TABLE: there they would take a SHARE
    ROW EXCLUSIVE lock on the dimension for the whole model transaction, a lock that
    conflicts with itself, so facts building in parallel would queue on it (and time out).
    restore_foreign_keys() declares them once the build is done.
#}
{% macro postgres__get_table_columns_and_constraints() -%}
    {%- set columns = {} -%}
    {%- for name, column in model['columns'].items() -%}
        {%- set kept = [] -%}
        {%- for constraint in column.get('constraints', []) if constraint['type'] != 'foreign_key' -%}
            {%- do kept.append(constraint) -%}
        {%- endfor -%}
        {%- set without_keys = {} -%}
        {%- do without_keys.update(column) -%}
        {%- do without_keys.update({'constraints': kept}) -%}
        {%- do columns.update({name: without_keys}) -%}
    {%- endfor -%}
    {%- set raw_column_constraints = adapter.render_raw_columns_constraints(raw_columns=columns) -%}
    {%- set raw_model_constraints = adapter.render_raw_model_constraints(raw_constraints=model['constraints']) -%}
    (
    {% for c in raw_column_constraints -%}
        {{ c }}{{ "," if not loop.last or raw_model_constraints }}
    {% endfor %}
    {% for c in raw_model_constraints -%}
        {{ c }}{{ "," if not loop.last }}
    {% endfor -%}
    )
{%- endmacro %}

{#
    post-hook of every mart: a table swap leaves the previous table as <mart>__dbt_backup,
    dropped with CASCADE after the commit, outside the model's lock_timeout. Dropping a
    foreign key locks both of its tables (ACCESS EXCLUSIVE), so that drop would wait, with
    no limit, for any BI query on a fact pointing at the backup or on a dimension the backup
    points at (a district login reading dim_district held every fact's rebuild). Drop the
    backup's foreign keys, both ways, here instead, inside the model's transaction and its
    lock_timeout (a lock timeout is retried by warehouse/transform.py, which ends the BI
    sessions holding the mart or a table linked to it before the last attempt);
    restore_foreign_keys() puts them back on the new table.
#}
{% macro release_foreign_keys() -%}
do $fk$
declare
    fk record;
begin
    for fk in
        select conrelid::regclass as fact, conname
        from pg_constraint
        where contype = 'f'
            and to_regclass('{{ this.schema }}.{{ this.identifier }}__dbt_backup')
                in (confrelid, conrelid)
        -- one order for every model: two facts dropping keys to the same dimensions take
        -- their locks in the same order (a deadlock is retried, but costs an attempt)
        order by confrelid, conrelid, conname
    loop
        execute format('alter table %s drop constraint %I', fk.fact, fk.conname);
    end loop;
end
$fk$
{%- endmacro %}
