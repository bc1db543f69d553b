"""The pack's charts and sentences, without a warehouse: a chart is drawn only with data,
each shown value is one data mark, two charts on a page never share an SVG id, and a
sentence is written only for a significant difference."""

from __future__ import annotations

import re

from warehouse.report import charts
from warehouse.report.charts import Series
from warehouse.report.model import sentences_for, significance_sentence


def test_a_chart_without_data_is_not_drawn():
    assert charts.bars("b", "B", ["x", "y"], Series("s", [None, None]), "unit") is None
    assert charts.trend("t", "T", [], [Series("s", [])], "unit") is None
    assert charts.grouped("g", "G", ["x"], [Series("s", [None])], "unit") is None


def test_each_shown_value_is_one_data_mark_and_suppressed_ones_are_absent():
    values = [3.0, None, 5.0, 1.5]
    chart = charts.bars("b", "B", list("wxyz"), Series("s", values, values, values), "unit")
    shown = sum(v is not None for v in values)
    assert chart.marks == shown
    assert len(re.findall(r'id="b-mark-\d+"', chart.svg)) == shown
    assert "<text" in chart.svg  # text kept as text (svg.fonttype none): searchable, scannable


def test_two_charts_never_share_an_svg_id():
    a = charts.trend("a", "A", ["1", "2"], [Series("s", [1.0, 2.0], [0.5, 1.5], [1.5, 2.5])], "u")
    b = charts.trend("b", "B", ["1", "2"], [Series("s", [1.0, 2.0], [0.5, 1.5], [1.5, 2.5])], "u")
    ids_a = set(re.findall(r'id="([^"]+)"', a.svg))
    ids_b = set(re.findall(r'id="([^"]+)"', b.svg))
    assert ids_a and ids_b and not ids_a & ids_b
    for ref in re.findall(r"url\(#([^)]+)\)", a.svg):
        assert ref in ids_a  # every clip path and marker reference resolves in its own chart


def _row(flag, value=0.3, gm=0.25):
    return {
        "significance_vs_gm": flag,
        "value": value,
        "gm_value": gm,
        "lower_ci_95": 0.28,
        "upper_ci_95": 0.32,
        "unit": "proportion",
        "label": "Drug misuse need",
    }


def test_sentences_state_only_significant_differences():
    assert significance_sentence(_row("similar")) is None
    assert significance_sentence(_row("not tested")) is None
    worse = significance_sentence(_row("worse"))
    assert "significantly higher (worse)" in worse and "30.0 %" in worse and "25.0 %" in worse
    assert "significantly lower" in significance_sentence(_row("lower", 0.2, 0.25))
    assert sentences_for([_row("similar")], "need") == [
        "No need indicator differs significantly from Greater Manchester (95 % level)."
    ]


def test_a_forecast_fan_draws_history_forecast_and_both_bands_only_with_data():
    periods = ["Jan", "Feb", "Mar", "Apr"]
    history = Series(
        "Recorded", [10.0, 12.0, None, None], [None, None, 8.0, 7.0], [None, None, 16.0, 18.0]
    )
    ahead = Series(
        "Forecast", [None, None, 12.0, 12.5], [None, None, 10.0, 9.5], [None, None, 14.0, 15.5]
    )
    chart = charts.fan("f", "F", periods, history, ahead, "per month")
    assert chart.marks == 2 == len(re.findall(r'id="f-mark-\d+"', chart.svg))
    assert "80 % interval" in chart.svg and "95 % interval" in chart.svg
    assert charts.fan("f", "F", periods, Series("h", [None] * 4), ahead, "u") is None
    assert charts.fan("f", "F", periods, history, Series("a", [None] * 4), "u") is None


def test_byar_interval_is_close_to_the_exact_poisson_interval():
    from scipy.stats import chi2

    from warehouse.intervals import byar

    for k in (10, 57, 400):
        lo, hi = byar(k)
        exact = chi2.ppf(0.025, 2 * k) / 2, chi2.ppf(0.975, 2 * k + 2) / 2
        assert abs(lo - exact[0]) / exact[0] < 0.003 and abs(hi - exact[1]) / exact[1] < 0.003
    assert byar(0)[0] == 0.0 and byar(0)[1] > 3.6
