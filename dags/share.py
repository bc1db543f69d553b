"""Airflow DAGs: one partner data-sharing DAG per agreement (``share_<agreement>``),
generated from the YAML files in ``agreements/`` by the package factory."""

from warehouse.orchestration import share_dags

globals().update(share_dags())
