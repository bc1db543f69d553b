"""Airflow DAG ``transform``: one dbt build, a task per dbt node, then Soda; on the raw-table assets."""

from ingestion.feeds import ALL_FEEDS
from warehouse.orchestration import make_transform_dag

transform = make_transform_dag([feed.name for feed in ALL_FEEDS])
