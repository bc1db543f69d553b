"""Airflow DAG ``jsna_pack``: every district's JSNA pack, on the JSNA mart assets."""

from warehouse.orchestration import make_jsna_pack_dag

jsna_pack = make_jsna_pack_dag()
