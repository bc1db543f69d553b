"""Airflow DAG ``transform``: one dbt build, a task per dbt node, then Soda; on the raw-table assets."""

from warehouse.orchestration import make_transform_dag

transform = make_transform_dag()
