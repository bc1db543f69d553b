"""Airflow DAG ``analytics``: the analytics steps (evaluation, forecast, cost by complexity)
after the transform DAG, each run -> dbt build of its models -> its Soda contract."""

from warehouse.analytics.dag import make_analytics_dag

analytics = make_analytics_dag()
