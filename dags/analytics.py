"""Airflow DAG ``analytics``: one task per analytics step (linkage, evaluation, forecast, cost
by complexity), after the transform DAG's marts."""

from warehouse.analytics.dag import make_analytics_dag

analytics = make_analytics_dag()
