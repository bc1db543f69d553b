"""Airflow DAG ``analytics``: one task per analytics step, after the transform DAG's marts."""

from warehouse.orchestration import analytics_dag

analytics = analytics_dag()
