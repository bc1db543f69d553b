"""Airflow DAGs: one ingestion DAG per feed (``ingest_<feed>``), built by the package factory."""

from ingestion.feeds import ALL_FEEDS
from warehouse.orchestration import make_ingest_dag

for _feed in ALL_FEEDS:
    globals()[f"ingest_{_feed.name}"] = make_ingest_dag(_feed.name)
