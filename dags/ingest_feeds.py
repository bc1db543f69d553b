"""Airflow DAGs: one ingestion DAG per feed (``ingest_<feed>``), built by the package factory."""

from warehouse.orchestration import ingest_dags

globals().update(ingest_dags())
