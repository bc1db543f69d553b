"""Airflow DAG ``transform_slice``, only when ``WAREHOUSE_TRANSFORM_SLICE`` names seeds, models
or snapshots: the transform DAG for those and all they read, run when triggered. Its own file:
a name that is not in the project fails this file's import, not the ``transform`` DAG's."""

from warehouse.orchestration import make_transform_slice_dag

transform_slice = make_transform_slice_dag()
