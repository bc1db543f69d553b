"""Airflow DAGs: one partner data-sharing DAG per agreement (``share_<agreement>``),
generated from the YAML files in ``agreements/`` by the package factory."""

from warehouse.orchestration import make_share_dag
from warehouse.sharing.agreements import AGREEMENTS_DIR

for _path in sorted(AGREEMENTS_DIR.glob("*.yml")):
    globals()[f"share_{_path.stem}"] = make_share_dag(_path.stem)
