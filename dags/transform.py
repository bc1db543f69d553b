"""Airflow DAG ``transform``: one dbt build, a task per dbt node, then Soda; on the raw-table assets.
With ``WAREHOUSE_TRANSFORM_SLICE`` set (names of marts), also ``transform_slice``: the same DAG
for those marts and all they read, run when triggered."""

from warehouse.orchestration import make_transform_dag, make_transform_slice_dag

transform = make_transform_dag()
transform_slice = make_transform_slice_dag()
