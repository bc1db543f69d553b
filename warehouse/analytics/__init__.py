"""Analytics beyond the marts: each module runs after the transform DAG (see ``steps``)."""
