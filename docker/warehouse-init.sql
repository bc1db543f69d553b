-- Runs once when the warehouse container's data volume is created.
-- bi_reader: read-only BI role (USAGE + SELECT on marts only; granted by the pipeline after
-- each build). Its password comes from BI_READER_PASSWORD via the entrypoint's psql.
\set bi_password `echo "$BI_READER_PASSWORD"`
create role bi_reader with login password :'bi_password';
create schema if not exists marts authorization pipeline;
grant usage on schema marts to bi_reader;
alter default privileges for role pipeline in schema marts grant select on tables to bi_reader;
