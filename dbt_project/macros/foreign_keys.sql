{#
    post-hook of every mart, after its commit (outside its transaction, so no
    lock_timeout): declare the mart's own foreign keys (NOT ENFORCED: see
    _add_foreign_key) to dimensions this build has already rebuilt (a fact refs its
    dimensions, so they come first). Each step is committed on its own (dbt runs a hook
    outside the transaction without committing it), so a fact holds one dimension at a
    time and two facts cannot deadlock; a BI query reading either table blocks neither
    step.

    on-run-end: declare every foreign key of the marts' contracts that the database lacks.
    dbt creates a contract's foreign keys with the table, but a dimension rebuilt by a
    table swap drops its old table with CASCADE, and with it the foreign keys of the facts
    that point at it; an incremental fact keeps its table, so it would never get them back.
    A build that rebuilt nothing referenced costs one catalogue lookup per key.
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
    Two statements per key, each committed: declare it NOT ENFORCED if the database lacks
    it (a catalogue change; it holds the fact and the dimension in SHARE ROW EXCLUSIVE, a
    lock that conflicts with itself, for an instant), and turn a key an older build left
    enforced into a NOT ENFORCED one. The key is there for BI tools (the joins they offer)
    and for the documentation; it is not what proves the data. Enforced, every dimension
    swap dropped it and its re-validation scanned the whole fact (seven 1.5 GB scans for
    fct_assessment_needs at scale 4 in every daily run), and an enforced key on an
    incremental fact checks each inserted row one by one instead (docs/design.md). The
    proof is the key's `relationships` test: on a fact rebuilt whole, every row; on an
    incremental fact, the rows built since the test last passed (macros/incremental.sql)
    plus every row holding a key a dimension's rebuild lost since (audit.lost_dimension_keys,
    written by release_foreign_keys() in the dimension's own transaction).
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
            not enforced;
    end if;
end
$fk$;
commit;
do $fk$
declare
    enforced record;
begin
    for enforced in
        select conname from pg_constraint
        where contype = 'f' and conenforced
            and conrelid = to_regclass('{{ schema }}.{{ table }}')
            and confrelid = to_regclass('{{ schema }}.{{ target }}')
    loop
        execute format('alter table {{ schema }}.{{ table }} alter constraint %I not enforced', enforced.conname);
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
    restore_foreign_keys() puts them back on the new table. First, for a mart that
    foreign keys point at, record the keys the backup held and the new table lacks
    (_record_lost_keys).
#}
{% macro release_foreign_keys() -%}
{{ _record_lost_keys() }}
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

{#
    The ledger of keys a rebuilt dimension lost (audit.lost_dimension_keys, created by
    on-run-start): an incremental fact's tests read the rows built since they last passed,
    and a row they passed earlier that holds a key its dimension no longer has would go
    unread (postgres__test_relationships reads these keys too). For each column a
    relationships test points at in this mart: the keys of the table the swap replaced
    that the new table lacks are added (one hash anti-join, compared as text), and the
    keys the new table holds again leave. Same transaction as the swap: the ledger and the
    dimension change together or not at all. A mart built in place by delete+insert (e.g.
    fct_assessments) keeps every key it had: it puts back the keys it deletes (its
    unique_key, the column the tests point at). One rebuilt by keys (rebuild_keys, e.g.
    fct_offender_year_profile) can lose keys: audit.emptied_keys has them, and the models
    pointing at it are rebuilt for the same offenders in the same run.
#}
{% macro _record_lost_keys() -%}
{%- set columns = [] -%}
{%- if execute -%}
{#- the parent column of every relationships test pointing here (every foreign key has one,
    and a test without a key, e.g. to the incremental fct_assessments, counts too) -#}
{%- for node in graph.nodes.values()
    if node.resource_type == 'test' and node.test_metadata
    and node.test_metadata.name == 'relationships' -%}
    {%- set parent = modules.re.fullmatch(
        '\\s*ref\\([\'"](\\w+)[\'"]\\)\\s*', node.test_metadata.kwargs.get('to', '') | string
    ) -%}
    {%- set field = node.test_metadata.kwargs.get('field') -%}
    {%- if parent and parent.group(1) == this.identifier and field and field not in columns -%}
        {%- do columns.append(field) -%}
    {%- endif -%}
{%- endfor -%}
{%- endif -%}
{%- for column in columns %}
do $lost$
begin
    -- (a backup without the column: the key is new to the mart, nothing pointed at it)
    if exists (
        select 1 from pg_attribute
        where attrelid = to_regclass('{{ this.schema }}.{{ this.identifier }}__dbt_backup')
            and attname = '{{ column }}' and not attisdropped
    ) then
        insert into audit.lost_dimension_keys (dimension, key_column, key_value)
        select '{{ this.schema }}.{{ this.identifier }}', '{{ column }}', old.{{ column }}::text
        from {{ this.schema }}.{{ this.identifier }}__dbt_backup as old
        where not exists (
            -- as text: a key whose type changed is compared by its value
            select 1 from {{ this }} as new where new.{{ column }}::text = old.{{ column }}::text
        )
        on conflict (dimension, key_column, key_value) do update set lost_at = now();
    end if;
    if exists (
        select 1 from audit.lost_dimension_keys
        where dimension = '{{ this.schema }}.{{ this.identifier }}' and key_column = '{{ column }}'
    ) then
        delete from audit.lost_dimension_keys as lost
        where lost.dimension = '{{ this.schema }}.{{ this.identifier }}'
            and lost.key_column = '{{ column }}'
            and exists (select 1 from {{ this }} as new where new.{{ column }}::text = lost.key_value);
    end if;
end
$lost$;
{%- endfor %}
{%- endmacro %}

{#
    on-run-start: the ledger _record_lost_keys writes and the relationships tests read,
    the tests' proofs (record_test_proofs, macros/incremental.sql), and the keys a model
    rebuilt by keys left empty (get_incremental_rebuild_keys_sql).
    No personal data: a key is a dimension's surrogate or code (an offender_id is the
    internal id the marts carry, never a name or a CRN).
#}
{% macro proof_ledgers() -%}
do $ledger$
begin
    if to_regclass('audit.lost_dimension_keys') is null then
        create schema if not exists audit;
        create table audit.lost_dimension_keys (
            dimension text not null,
            key_column text not null,
            key_value text not null,
            lost_at timestamptz not null default now(),
            primary key (dimension, key_column, key_value)
        );
        comment on table audit.lost_dimension_keys is
            'Keys a mart rebuilt by dbt no longer holds while a relationships test pointed '
            'at them; those tests of incremental facts check the rows holding them.';
    end if;
    if to_regclass('audit.test_proofs') is null then
        create table audit.test_proofs (
            test_id text primary key,
            relation_oid oid not null,
            proven_until timestamptz not null,
            proven_at timestamptz not null
        );
        comment on table audit.test_proofs is
            'Per data test of an incremental mart: the rows built until proven_until passed '
            'it (on the table of that oid), and the keys its parent lost until proven_at.';
    end if;
    if to_regclass('audit.run_watermarks') is null then
        create table audit.run_watermarks (
            invocation_id text primary key,
            loads_until timestamptz,
            started_at timestamptz not null
        );
        comment on table audit.run_watermarks is
            'Per dbt invocation: the latest load committed when it started (every load up '
            'to it is visible to every model it builds), read by the incremental models.';
    end if;
    if to_regclass('audit.emptied_keys') is null then
        create table audit.emptied_keys (
            model text not null,
            key_column text not null,
            key_value text not null,
            emptied_at timestamptz not null,
            primary key (model, key_column, key_value)
        );
        comment on table audit.emptied_keys is
            'Keys an incremental model rebuilt whole (rebuild_keys) left with no rows, and '
            'when: the models watching its built_at rebuild them too.';
    end if;
exception
    -- two builds starting at once on one database: the other one created it
    when duplicate_table or unique_violation or duplicate_schema then null;
end
$ledger$
{%- endmacro %}
