{#
    Incremental models reprocess what changed since their previous run:

    * input rows loaded since: `loaded_at > loaded_since_last_build()`, the latest load
      time among the rows the model holds. The loader stamps `_loaded_at` at commit, one
      commit at a time, so a row that arrived after the previous run read the warehouse
      always carries a later time than every row that run saw: nothing is missed;
    * rows of an upstream incremental model rebuilt since:
      `built_at > built_since_last_build()`. Every incremental model records in `built_at`
      when the dbt run that wrote the row started (`build_time()`).

    A new table, or one from before the watermark column existed: everything is new.
#}
{% macro build_time() -%}
    cast('{{ run_started_at.isoformat() }}' as timestamptz)
{%- endmacro %}

{#
    on-run-start (after proof_ledgers): the latest load committed when this dbt invocation
    started. Loads commit one at a time in the order of their `_loaded_at`, so every load
    up to it is visible to every model the invocation builds, and to the tables built
    before a model in the same run; a later one may be half seen. Models count loads up to
    it as changed and record it as their `sources_loaded_until`: a load committing during
    the run is taken by the next one, whatever this one saw of it.
#}
{% macro record_run_watermark() -%}
do $watermark$
declare
    watermark timestamptz;
    latest timestamptz;
    feed_table text;
    legacy boolean := true;
begin
    delete from audit.run_watermarks where started_at < now() - interval '7 days';
    if exists (
        select 1 from information_schema.columns
        where table_schema = 'audit' and table_name = 'file_loads' and column_name = 'loaded_at'
    ) then
        -- (dynamic: the column may not exist when this block is planned)
        execute 'select coalesce(bool_or(loaded_at is null) filter ('
            || 'where status = ''loaded'' and rows_loaded > 0), false), max(loaded_at)'
            || ' from audit.file_loads'
            into legacy, watermark;
    end if;
    if legacy then
        -- loads recorded before file_loads.loaded_at (the loader's schema upgrade fills
        -- it in for the loads with rows): the raw tables say it, one scan each
        watermark := null;
        for feed_table in
            select c.relname from pg_class as c
            join pg_namespace as n on n.oid = c.relnamespace
            where n.nspname = 'raw' and c.relkind = 'p' and not c.relispartition
        loop
            execute format('select max(_loaded_at) from raw.%I', feed_table) into latest;
            watermark := greatest(watermark, latest);
        end loop;
    end if;
    insert into audit.run_watermarks (invocation_id, loads_until, started_at)
    values ('{{ invocation_id }}', watermark, now())
    on conflict (invocation_id) do nothing;
end
$watermark$
{%- endmacro %}

{#
    on-run-start: an incremental model selected by this invocation that declares a
    column's type in its config (`meta={'column_types': {'assessment_need_id': 'bigint'}}`)
    and whose table holds that column with another type is dropped, so this run builds it
    whole: its rows would not fit the old column (an incremental delete comparing text with
    bigint keys fails; an insert would store the bigint as text), and on_schema_change only
    appends new columns. A model not selected keeps its table until a run (or build) that
    builds it: a slice, a compile or an --empty run must not leave BI without a mart.
    Before a table rebuilt by keys (rebuild_keys) is dropped, each of its keys is recorded
    in audit.emptied_keys: a key a load waiting for this run leaves with no rows would
    otherwise be missed by the models watching its built_at (they rebuild the keys with
    new rows, and those it emptied). The models reading it then rebuild every key it
    rebuilt, as after a --full-refresh of it.
    (assessment_need_id and caseload_month_id were md5 texts until 2026-12-06: a warehouse
    built before upgrades itself on its next run.)
#}
{% macro drop_tables_of_changed_column_types() -%}
{%- set drops = [] -%}
{#- (a compile, or an --empty run building no row, leaves every table as it is) -#}
{%- if execute and flags.WHICH in ('build', 'run') and not flags.EMPTY -%}
{%- for node in graph.nodes.values()
    if node.resource_type == 'model' and node.config.materialized == 'incremental'
    and (node.config.meta or {}).get('column_types')
    and node.unique_id in selected_resources -%}
    {%- set relation = adapter.get_relation(
        database=node.database, schema=node.schema, identifier=node.alias
    ) -%}
    {%- set declared = node.config.meta['column_types'] -%}
    {%- for column in (adapter.get_columns_in_relation(relation) if relation else [])
        if column.name in declared and column.data_type != declared[column.name]
        and relation not in drops | map(attribute=0) | list -%}
        {%- do drops.append((relation, node.config.unique_key
            if node.config.incremental_strategy == 'rebuild_keys' else none)) -%}
    {%- endfor -%}
{%- endfor -%}
{%- endif -%}
{%- for relation, key in drops -%}
    {%- if key -%}
    {%- do run_query(
        "insert into audit.emptied_keys (model, key_column, key_value, emptied_at)"
        ~ " select distinct '" ~ relation.schema ~ "." ~ relation.identifier ~ "', '" ~ key
        ~ "', " ~ key ~ "::text, " ~ build_time() ~ " from " ~ relation
        ~ " on conflict (model, key_column, key_value)"
        ~ " do update set emptied_at = excluded.emptied_at"
    ) -%}
    {%- endif -%}
    {#- dropped here, not by the hook's SQL: dbt cached the relations before the hooks ran,
        and a model whose table is still in the cache compiles as incremental -#}
    {%- do run_query('drop table ' ~ relation) -%}
    {%- do adapter.cache_dropped(relation) -%}
{%- endfor -%}
select 1
{%- endmacro %}

{% macro run_loads_until() -%}
    (select loads_until from audit.run_watermarks where invocation_id = '{{ invocation_id }}')
{%- endmacro %}

{% macro loaded_since_last_build() -%}
    {{ _latest_in_this('loaded_at') }}
{%- endmacro %}

{% macro built_since_last_build() -%}
    {{ _latest_in_this('built_at') }}
{%- endmacro %}

{#
    The keys to reprocess: `key` of the rows of `models` loaded (column `loaded_at`; and
    of the rows of loads superseded since) or rebuilt (column `built_at`; and the keys a
    model rebuilt by keys left with no rows) since this model's last build, e.g.
    `changed_since_last_build('offender_id', ['stg_ndelius__offenders'])`.
    Call it inside `{% if is_incremental() %}` and name the models in a `depends_on`
    comment if the model does not ref them elsewhere (dbt reads refs at parse time).

    "Loaded since the last build" is judged against the loads that build took: a model
    watching `loaded_at` carries the column
    `{{ sources_loaded_until(models) }} as sources_loaded_until` (the run's watermark).
    Its own `loaded_at` (the latest of its main input) is no measure of another feed: offender records loaded after
    the last assessment file counted as changed on every run, and a daily run with nothing
    new rebuilt every assessment (214 s against a full build's 143 s at scale 1).
    Without the column, every key counts as changed (correct, slow).
#}
{% macro changed_since_last_build(key, models, column='loaded_at') -%}
    {%- set since = _latest_in_this('sources_loaded_until' if column == 'loaded_at' else column) -%}
    {%- for model in models %}
    {%- set loads = _loads_of(model, key) if column == 'loaded_at' else none %}
    {% if not loop.first %}union{% endif %}
    {% if loads -%}
    select distinct {{ key }} from {{ loads }}
    where _loaded_at > {{ since }} and _loaded_at <= {{ run_loads_until() }}
    {%- set superseded = _superseded_keys_of(loads, key, since) %}
    {%- if superseded %}
    union
    {{ superseded }}
    {%- endif %}
    {%- else -%}
    select distinct {{ key }} from {{ ref(model) }} where {{ column }} > {{ since }}
    {%- if column == 'loaded_at' %}
        and loaded_at <= coalesce({{ run_loads_until() }}, 'infinity')
    {%- endif %}
    {%- set emptied = _emptied_keys_of(model, key, since) if column == 'built_at' else '' %}
    {%- if emptied %}
    union
    {{ emptied }}
    {%- endif %}
    {%- endif %}
    {%- endfor %}
{%- endmacro %}

{#
    Keys whose rows changed only from a date on, with that date: `key` and the earliest
    `date_column` among every version (the earlier ones too) of each `record_key` record
    of `model`'s raw table loaded since this model's last build (the loads as in
    changed_since_last_build), e.g. a tier record starting on 25 March 2009 changes the
    tier of no assessment before that day, and one corrected from 1 March to 20 March
    changes those between the two. A key of a superseded load (a record a corrected
    re-delivery left out: its versions are gone) changes from -infinity. One row per key:
    `key`, `changed_from`. Column names are the raw table's.
    At scale 16 a month's tier records touch ~10k offenders with earlier assessments:
    rebuilding all their assessments rewrote 233k unchanged rows of the needs facts.
#}
{% macro changed_from_since_last_build(key, model, record_key, date_column) -%}
{%- set since = _latest_in_this('sources_loaded_until') -%}
{%- set loads = _loads_of(model, key) -%}
{%- if execute and not loads -%}
    {{ exceptions.raise_compiler_error(
        this.identifier ~ ": changed_from_since_last_build reads the raw table of " ~ model
        ~ ", and " ~ model ~ " is not a staging model of one raw table with " ~ key
    ) }}
{%- endif -%}
{%- set superseded = _superseded_keys_of(loads, key, since) if loads else '' -%}
select {{ key }}, min(changed_from) as changed_from
from (
    select {{ key }}, {{ date_column }} as changed_from from {{ loads }}
    where {{ record_key }} in (
        select {{ record_key }} from {{ loads }}
        where _loaded_at > {{ since }} and _loaded_at <= {{ run_loads_until() }}
    )
    {%- if superseded %}
    union all
    select superseded.{{ key }}, cast('-infinity' as {{ _type_of(loads, date_column) }})
    from ({{ superseded }}) as superseded ({{ key }})
    {%- endif %}
) as changes
where {{ key }} is not null
group by {{ key }}
{%- endmacro %}

{#
    The keys of `raw`'s rows in loads superseded since `since` (audit.superseded_keys,
    written by the loader with the superseding load's time), as the key's type: a row a
    corrected re-delivery left out is in no load, yet what was built from it changed.
#}
{% macro _superseded_keys_of(raw, key, since) -%}
{%- if not execute
    or adapter.get_relation(database=raw.database, schema='audit', identifier='superseded_keys') is none -%}
    {{ return('') }}
{%- endif -%}
select cast(key_value as {{ _type_of(raw, key) }}) from audit.superseded_keys
    where feed = '{{ raw.identifier }}' and key_column = '{{ key }}'
        and superseded_at > {{ since }} and superseded_at <= {{ run_loads_until() }}
{%- endmacro %}

{# The type of `column` in `relation` (text when it has none): a ledger's keys are text. #}
{% macro _type_of(relation, column) -%}
{%- set found = namespace(type='text') -%}
{%- for each in adapter.get_columns_in_relation(relation) if each.name == column -%}
    {%- set found.type = each.data_type -%}
{%- endfor -%}
{{ found.type }}
{%- endmacro %}

{#
    The keys a model rebuilt whole (rebuild_keys) left with no rows since `since`, as its
    key's type: none of their rows carries a new built_at (empty when the model is not
    rebuilt by keys).
#}
{% macro _emptied_keys_of(model, key, since) -%}
{%- if not execute -%}{{ return('') }}{%- endif -%}
{%- set found = namespace(node=none) -%}
{%- for node in (graph.get('nodes') or {}).values()
    if node.resource_type == 'model' and node.name == model
    and node.config.incremental_strategy == 'rebuild_keys' -%}
    {%- set found.node = node -%}
{%- endfor -%}
{%- if found.node is none -%}{{ return('') }}{%- endif -%}
{%- if found.node.config.unique_key != key -%}
    {{ exceptions.raise_compiler_error(
        this.identifier ~ " watches " ~ model ~ " by " ~ key ~ ", but " ~ model
        ~ " is rebuilt by " ~ found.node.config.unique_key
        ~ ": the keys it leaves empty would be missed"
    ) }}
{%- endif -%}
{%- set relation = ref(model) -%}
select cast(key_value as {{ _type_of(relation, key) }}) from audit.emptied_keys
    where model = '{{ relation.schema }}.{{ relation.identifier }}'
        and key_column = '{{ key }}' and emptied_at > {{ since }}
{%- endmacro %}

{#
    A model that rebuilds whole keys (`incremental_strategy='rebuild_keys'`, e.g. every
    offender with a sentence loaded since) names what it watches once, in its config:
    `meta={'changed_keys': {'models': [...], 'column': 'loaded_at'}}` (column: as for
    changed_since_last_build; a list of such parts for several columns; a part with
    `key` and `through` watches keys of another kind and maps them to this model's through
    a model holding both) and `pre_hook="{{ stage_changed_keys() }}"`. The hook stages
    the changed keys in a temporary table (`changed_keys_table()`, dropped at commit) that
    the model reads for its rows, and the strategy deletes the table's rows of every staged
    key before inserting the new ones. dbt's delete+insert deleted only the keys of the new
    rows: a key left with no rows (an offender whose only sentence was soft-deleted, whose
    offender record was) kept its old rows in every daily run, where a full rebuild had
    none. Staged once, the keys read and the keys deleted are the same set (loads up to
    the run's watermark, record_run_watermark: one committing meanwhile is the next
    run's). An --empty or --sample run stages none. The keys left with no rows are
    recorded in audit.emptied_keys: a model watching this one's `built_at` rebuilds them
    too (changed_since_last_build), as no row of theirs carries a new `built_at`.
#}
{% macro stage_changed_keys() -%}
{%- if is_incremental() -%}
{%- set key = config.get('unique_key') -%}
{%- set spec = (config.get('meta') or {}).get('changed_keys') -%}
{%- if not spec or key is not string -%}
    {{ exceptions.raise_compiler_error(
        this.identifier ~ ": stage_changed_keys() needs unique_key (one column) and"
        ~ " meta={'changed_keys': {'models': [...]}}"
    ) }}
{%- endif -%}
create temporary table {{ changed_keys_table() }} on commit drop as
{%- if flags.EMPTY or flags.SAMPLE %}
{#- (an --empty or --sample run reads no real rows: it rebuilds no key) #}
select {{ key }} from {{ this }} where false
{%- else %}
{%- for part in ([spec] if spec is mapping else spec) %}
{%- set column = part.get('column', 'loaded_at') %}
{% if not loop.first %}union{% endif %}
{% if part.get('through') -%}
{#- keys of another kind (a sentence's requirements): this model's keys through a model
    that maps them (the sentence's offender) -#}
select {{ key }} from {{ ref(part['through']) }}
where {{ part['key'] }} in (
    {{ changed_since_last_build(part['key'], part['models'], column) }}
)
{%- else -%}
{{ changed_since_last_build(key, part['models'], column) }}
{%- endif %}
{%- endfor %}
{%- endif %};
analyze {{ changed_keys_table() }}
{%- endif -%}
{%- endmacro %}

{% macro changed_keys_table() -%}
    {{ this.identifier }}__changed_keys
{%- endmacro %}

{#
    The strategy of those models: every row of a staged key (and of a key among the new
    rows) is deleted, the keys that had rows and have none now are recorded, and the new
    rows are inserted, in one transaction.
#}
{% macro get_incremental_rebuild_keys_sql(arg_dict) -%}
{%- set key = arg_dict['unique_key'] -%}
{%- set target = arg_dict['target_relation'] -%}
{%- set batch = arg_dict['temp_relation'] -%}
{%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
with deleted as (
    delete from {{ target }}
    where {{ key }} in (
        select {{ key }} from {{ changed_keys_table() }}
        union
        select {{ key }} from {{ batch }}
    )
    returning {{ key }}
)
insert into audit.emptied_keys (model, key_column, key_value, emptied_at)
select distinct
    '{{ target.schema }}.{{ target.identifier }}', '{{ key }}', deleted.{{ key }}::text,
    {{ build_time() }}
from deleted
where not exists (select 1 from {{ batch }} as new where new.{{ key }} = deleted.{{ key }})
on conflict (model, key_column, key_value) do update set emptied_at = excluded.emptied_at;
insert into {{ target }} ({{ columns }})
select {{ columns }} from {{ batch }}
{%- endmacro %}

{#
    The raw table a staging model deduplicates, when it reads exactly one source and that
    table carries `key` (none otherwise: the caller reads the staging model). Which keys
    had rows loaded since, and the latest load, are questions about the deliveries, not
    about the latest version of each row: the raw table answers them with one scan, where
    the staging view first ranks every version of every row (a sort of the whole table,
    seconds per watched model at scale 16). A key with any row delivered since is a
    superset of the keys whose latest version is new (an older version delivered late
    rebuilds its key for nothing, never the reverse), and the latest `_loaded_at` of the
    deliveries is the latest of any version, so the watermark stays exact.
#}
{% macro _loads_of(model, key=none) -%}
    {%- if not execute -%}{{ return(none) }}{%- endif -%}
    {%- set found = namespace(node=none) -%}
    {#- a unit test's graph has no nodes: it reads the staging model's fixture -#}
    {%- for node in (graph.get('nodes') or {}).values()
        if node.resource_type == 'model' and node.name == model
        and node.fqn[1:2] == ['staging'] -%}
        {%- set found.node = node -%}
    {%- endfor -%}
    {%- if found.node is none -%}{{ return(none) }}{%- endif -%}
    {%- set upstream = found.node.depends_on.nodes -%}
    {%- if upstream | length != 1 or not upstream[0].startswith('source.') -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set raw = graph.sources[upstream[0]] -%}
    {%- set relation = api.Relation.create(
        database=raw.database, schema=raw.schema, identifier=raw.identifier
    ) -%}
    {%- set names = adapter.get_columns_in_relation(relation) | map(attribute='name') | list -%}
    {%- if '_loaded_at' not in names or (key and key not in names) -%}{{ return(none) }}{%- endif -%}
    {{ return(relation) }}
{%- endmacro %}

{#
    The rows of `model` to reprocess: those loaded or rebuilt since this model's last build
    (`column` later than the latest this model holds), and those whose `key` is among the
    (distinct) keys of the `changed` CTE, and, given `changed_from` (a CTE of
    changed_from_since_last_build) and `date_column`, those of its keys dated on or after
    the key's `changed_from`. "Loaded since" is judged by this model's
    `sources_loaded_until` when it has one: never later than the watermark of the run
    that built it (every load up to that was visible to it), and read through the
    `built_at` index, where `max(loaded_at)` scanned the whole model (14 s of
    fct_assessment_items' 64 M rows at scale 16, every daily run). A hash join on the
    distinct keys, not
    `where new or key in (changed)`: PostgreSQL cannot turn an `in` under `or` into a
    join, so it ran it as a SubPlan re-scanned per row (20+ minutes for ~4 M objectives
    at scale 16 once the changed keys outgrew work_mem); the join reads `model` once and
    spills to disk in batches when the keys are many.
#}
{% macro new_or_of_changed_keys(model, column, key, changed, changed_from=none, date_column=none) -%}
    {%- set names = adapter.get_columns_in_relation(this) | map(attribute='name') | list
        if execute else [] %}
    {%- set since = 'sources_loaded_until'
        if column == 'loaded_at' and 'sources_loaded_until' in names and 'built_at' in names
        else column %}
    select source_rows.*
    from {{ ref(model) }} as source_rows
    left join (select distinct {{ key }} from {{ changed }}) as changed_keys
        on source_rows.{{ key }} = changed_keys.{{ key }}
    {%- if changed_from %}
    left join {{ changed_from }} as changed_from
        on source_rows.{{ key }} = changed_from.{{ key }}
    {%- endif %}
    where source_rows.{{ column }} > {{ _latest_in_this(since) }}
        or changed_keys.{{ key }} is not null
    {%- if changed_from %}
        or source_rows.{{ date_column }} >= changed_from.changed_from
    {%- endif %}
{%- endmacro %}

{#
    The boundary of the loads of `models` this build took: the run's watermark
    (record_run_watermark) for a model read from its raw table, else the latest `loaded_at`
    of the model read in the same statement as the rows built from it. Every load up to
    it was visible to the build; the next build's `changed_since_last_build` starts here.
#}
{% macro sources_loaded_until(models) -%}
    greatest(
    {%- for model in models %}
        {%- set loads = _loads_of(model) %}
        {%- if loads %}
        {{ run_loads_until() }}{{ "," if not loop.last }}
        {%- else %}
        (
            select max(loaded_at) from {{ ref(model) }}
            where loaded_at <= coalesce({{ run_loads_until() }}, 'infinity')
        ){{ "," if not loop.last }}
        {%- endif %}
    {%- endfor %}
    )
{%- endmacro %}

{#
    `sources_loaded_until` is the same in every row one build wrote and never falls from
    one build to the next, so its maximum is that of any row of the latest build: one row
    read through the `built_at` index instead of a scan of the whole model (at scale 16
    that scan cost seconds per watched model in every daily run).
#}
{% macro _latest_in_this(column) -%}
    {%- set columns = adapter.get_columns_in_relation(this) if execute else [] -%}
    {%- set names = columns | map(attribute='name') | list -%}
    {%- if column == 'sources_loaded_until' and column in names and 'built_at' in names -%}
    coalesce(
        (
            select {{ column }} from {{ this }}
            where built_at is not null
            order by built_at desc limit 1
        ),
        '-infinity'
    )
    {%- elif column in names -%}
    (select coalesce(max({{ column }}), '-infinity') from {{ this }})
    {%- else -%}
    cast('-infinity' as timestamptz)
    {%- endif -%}
{%- endmacro %}


{#
    Data tests of an incremental model read the rows built since the test last passed on
    this table (audit.test_proofs, written on-run-end by record_test_proofs): the table's
    other rows passed the same test when they were written. A test that fails keeps its
    proof where it was, so it reads its failing rows again at every run until they are
    mended (a newer build does not hide them), and a test that did not run (`dbt run`)
    reads everything built since. A new table (a full refresh), or a test that never
    passed: every row. dbt calls this macro for the model a test is attached to (a
    relationships test's parent is never filtered). A test's own `where` config still wins.
#}
{% macro get_where_subquery(relation) -%}
    {%- set scope = namespace(where=config.get('where', '')) -%}
    {%- if not scope.where -%}
        {%- for node in (graph.get('nodes') or {}).values() -%}
            {%- if node.resource_type == 'model'
                and node.config.materialized == 'incremental'
                and node.relation_name == relation | string
                and 'built_at' in node.columns -%}
                {%- set scope.where = unproved_rows_filter(relation) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if scope.where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ scope.where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{#
    The condition on `built_at` of the rows the running test has not yet passed on:
    later than its proof's `proven_until`, read when dbt compiles the test (after its
    model's build) and written in as a constant, which PostgreSQL's statistics can judge (a
    daily build's rows are a few per cent of a fact: the `built_at` index). The comment
    marks it for postgres__test_relationships. Outside execution: every row.
#}
{% macro unproved_rows_filter(relation) -%}
{%- set proof = test_proof(relation) -%}
{%- if proof is none -%}
    true /* rows the test has not passed */
{%- else -%}
    built_at > timestamptz '{{ proof[0] }}' /* rows the test has not passed */
{%- endif -%}
{%- endmacro %}

{#
    The running test's proof on `relation`: (proven_until, proven_at) as text, or none
    (no proof, a proof of another table of that name, outside execution).
#}
{% macro test_proof(relation) -%}
{%- if not execute or model.unique_id is not defined -%}{{ return(none) }}{%- endif -%}
{%- if adapter.get_relation(database=relation.database, schema='audit', identifier='test_proofs') is none -%}
    {{ return(none) }}
{%- endif -%}
{%- set found = run_query(
    "select proven_until::text, proven_at::text from audit.test_proofs"
    ~ " where test_id = '" ~ model.unique_id ~ "'"
    ~ " and relation_oid = to_regclass('" ~ relation.schema ~ "." ~ relation.identifier ~ "')"
) -%}
{{ return(found.rows[0] if found.rows | length else none) }}
{%- endmacro %}

{#
    on-run-end: each test of an incremental model (with `built_at`, without a `where` of
    its own) that passed in this run proves the rows built until now, and the keys its
    parent lost until this run started (a dimension's rebuild in this run records its lost
    keys later than that: the next run reads them again, never misses them). "Until now"
    holds because no other dbt command writes the warehouse meanwhile
    (warehouse/transform.py holds one lock per invocation). Keyed by the table's oid: a
    table rebuilt whole starts with no proof. Keyed by the test's id, which changes with
    its arguments: a test whose macro body changes keeps its proof (run it on every row
    with a full refresh of its model, or by deleting its row of audit.test_proofs).
#}
{% macro record_test_proofs(results) -%}
{%- set statements = [] -%}
{#- (--empty and --sample runs read no real rows: they prove nothing) -#}
{%- if execute and not flags.EMPTY and not flags.SAMPLE -%}
{%- for result in results
    if result.node.resource_type == 'test' and result.status == 'pass'
    and result.node.attached_node and not result.node.config.where -%}
    {%- set parent = graph.nodes.get(result.node.attached_node) -%}
    {%- if parent and parent.config.materialized == 'incremental' and 'built_at' in parent.columns -%}
        {%- set table = parent.schema ~ '.' ~ parent.alias -%}
        {%- do statements.append(
            "insert into audit.test_proofs (test_id, relation_oid, proven_until, proven_at)"
            ~ " select '" ~ result.node.unique_id ~ "', to_regclass('" ~ table ~ "'),"
            ~ " coalesce(max(built_at), '-infinity'), " ~ build_time()
            ~ " from " ~ table
            ~ " on conflict (test_id) do update set relation_oid = excluded.relation_oid,"
            ~ " proven_until = excluded.proven_until, proven_at = excluded.proven_at"
        ) -%}
    {%- endif -%}
{%- endfor -%}
{%- endif -%}
{%- for statement in statements %}
{{ statement }};
{%- endfor %}
{%- endmacro %}
