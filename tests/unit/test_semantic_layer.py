"""The semantic layer (dbt_project/models/semantic): MetricFlow's own validation passes,
the commissioning figures are all defined, and a broken metric is caught."""

from __future__ import annotations

import json

import pytest

from warehouse.metrics import semantic_errors, semantic_manifest_json

FIGURES = {  # issue 15: the figures commissioners use, each defined once
    "caseload",
    "commencements",
    "requirements",
    "need_prevalence",
    "sentence_plan_gap",
    "unit_cost",
    "reoffending_rate",
    "actual_vs_predicted",
}


@pytest.fixture(scope="module")
def manifest_json() -> str:
    return semantic_manifest_json()


def test_metricflow_validates_the_semantic_layer(manifest_json):
    assert semantic_errors(manifest_json) == []


def test_every_commissioning_figure_is_a_described_metric(manifest_json):
    metrics = {m["name"]: m for m in json.loads(manifest_json)["metrics"]}
    assert FIGURES <= set(metrics), f"missing: {FIGURES - set(metrics)}"
    undescribed = [n for n, m in metrics.items() if not (m.get("description") and m.get("label"))]
    assert not undescribed, f"metrics without a label or description: {undescribed}"


def test_a_metric_on_a_missing_measure_is_an_error(manifest_json):
    manifest = json.loads(manifest_json)
    caseload = next(m for m in manifest["metrics"] if m["name"] == "caseload")
    caseload["type_params"]["measure"]["name"] = "no_such_measure"
    errors = semantic_errors(json.dumps(manifest))
    assert errors and any("no_such_measure" in e for e in errors), errors
