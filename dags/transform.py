"""Airflow DAG ``transform``: dbt build (Cosmos) then Soda contracts, on the raw-table assets."""

from ingestion.feeds import ALL_FEEDS
from warehouse.orchestration import make_transform_dag

transform = make_transform_dag([feed.name for feed in ALL_FEEDS])
