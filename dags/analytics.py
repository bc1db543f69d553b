"""Airflow DAG ``analytics``: one task per analytics step (linkage, evaluation, forecast, cost
by complexity), after the transform DAG's marts."""

from warehouse.orchestration import analytics_dag

analytics = analytics_dag()
