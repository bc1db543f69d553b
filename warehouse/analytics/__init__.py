"""Analytics beyond the marts: partner record linkage, matched impact evaluation, demand
forecast, cost by complexity. Each module writes its results to a schema no BI role reads;
a dbt mart tagged ``analytics`` publishes them with an enforced contract (``steps`` lists
the steps, ``dags/analytics.py`` runs them after the transform DAG)."""
