"""Analytics on the marts: matched impact evaluation, demand forecast, cost by complexity.

Each module reads marts, computes in Python (scikit-learn, statsmodels) and writes its
results to a table in the ``analytics`` schema (not granted to BI roles); a dbt mart tagged
``analytics`` then publishes them with an enforced contract (``warehouse/analytics/steps.py``
lists the steps, ``dags/analytics.py`` runs them after the transform DAG).
"""
