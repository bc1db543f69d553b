"""k-anonymity of record-level extracts (warehouse/sharing/anonymity.py), as properties."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from warehouse.sharing.anonymity import (
    AnonymityError,
    anonymise,
    class_sizes,
    ladder,
    step_from_rule,
)

COLUMNS = ["pid", "a", "b", "c", "items"]
QIS = ["a", "b", "c", "items"]
AGES = ["18-20", "21-24", "25-29", "30-39", "40-49", "50+", None]
LADDERS = {
    "a": ladder(
        [
            {"bands": {"18-20": "18-24", "21-24": "18-24", "25-29": "25-39", "30-39": "25-39"}},
            {"bands": {"18-24": "18-39", "25-39": "18-39", "40-49": "40+", "50+": "40+"}},
        ]
    ),
    "items": ladder([{"keep_items": ["DRR", "ATR"]}, {"keep_items": ["DRR"]}]),
}


@st.composite
def tables(draw):
    n = draw(st.integers(0, 120))
    row = st.tuples(
        st.sampled_from(AGES),
        st.sampled_from(["M", "F", "U"]),
        st.booleans(),
        st.lists(st.sampled_from(["ATR", "DRR", "UPW", "CURF"]), unique=True, max_size=3).map(
            lambda xs: ",".join(sorted(xs))
        ),
    )
    body = draw(st.lists(row, min_size=n, max_size=n))
    return [(f"p{i:04d}", *r) for i, r in enumerate(body)]


def _generalised(value, column, level):
    for step in LADDERS.get(column, ladder())[:level]:
        value = step.apply(value)
    return value


@settings(max_examples=300, deadline=None)
@given(
    rows=tables(),
    k=st.integers(1, 12),
    budget=st.sampled_from([0.0, 0.05, 0.3, 1.0]),
    search_limit=st.sampled_from([0, 20_000]),  # greedy steps, or every combination
)
def test_every_released_row_is_in_a_class_of_k_and_the_report_is_what_happened(
    rows, k, budget, search_limit
):
    result = anonymise(rows, COLUMNS, QIS, k, LADDERS, budget=budget, search_limit=search_limit)
    qi_index = [COLUMNS.index(c) for c in QIS]
    # every released row shares its quasi-identifiers with at least k-1 others
    sizes = class_sizes(result.rows, qi_index)
    assert all(s >= k for s in sizes.values())
    report = result.manifest()
    assert report["k_achieved"] == (min(sizes.values()) if sizes else None)
    assert report["k_required"] == k and report["quasi_identifiers"] == QIS
    # the counts are what happened: released rows are the file's rows, the rest were dropped
    assert report["rows_in_scope"] == len(rows)
    assert report["rows_released"] == len(result.rows) == len(result.kept)
    assert report["rows_suppressed"] == len(rows) - len(result.rows)
    assert len(set(result.kept)) == len(result.kept) and result.kept == sorted(result.kept)
    # nothing more specific than the input: each value is its input value, generalised the
    # same way in every row by the steps the report names (the pseudonym column untouched)
    for out, i in zip(result.rows, result.kept, strict=True):
        src = rows[i]
        assert out[0] == src[0]
        for c, j in zip(QIS, qi_index, strict=True):
            assert out[j] == _generalised(src[j], c, result.levels[c])
    for c in QIS:
        level = result.levels[c]
        names = [s.name for s in LADDERS.get(c, ladder())]
        assert report["generalised"][c] == (names[level - 1] if level else "as is")


@settings(max_examples=100, deadline=None)
@given(
    rows=tables(),
    k=st.integers(2, 8),
    seed=st.integers(0, 1000),
    search_limit=st.sampled_from([0, 20_000]),
)
def test_the_output_does_not_depend_on_the_input_order(rows, k, seed, search_limit):
    shuffled = list(rows)
    random.Random(seed).shuffle(shuffled)
    first = anonymise(rows, COLUMNS, QIS, k, LADDERS, search_limit=search_limit)
    again = anonymise(shuffled, COLUMNS, QIS, k, LADDERS, search_limit=search_limit)
    assert Counter(first.rows) == Counter(again.rows)
    assert first.manifest() == again.manifest()


def test_generalisation_comes_before_suppression():
    # 4 people aged 18-20 and 4 aged 21-24: no class of 5, but one band of 8 after a step
    rows = [(f"p{i}", "18-20" if i < 4 else "21-24", "M", True, "DRR") for i in range(8)]
    result = anonymise(rows, COLUMNS, QIS, 5, LADDERS, budget=0.0)
    assert result.rows_suppressed == 0 and result.k_achieved == 8
    assert {r[1] for r in result.rows} == {"18-24"}
    assert result.manifest()["generalised"] == {
        "a": "18-20, 21-24 -> 18-24; 25-29, 30-39 -> 25-39",
        "b": "as is",
        "c": "as is",
        "items": "as is",
    }


def test_a_person_alone_in_every_generalisation_is_dropped_and_counted():
    rows = [(f"p{i}", "18-20", "M", True, "DRR") for i in range(6)]
    rows.append(("alone", "18-20", "F", True, "DRR"))
    result = anonymise(rows, COLUMNS, QIS, 5, {}, budget=0.2)  # 1 of 7 is within the budget
    assert [r[0] for r in result.rows] == [f"p{i}" for i in range(6)]
    assert result.manifest()["rows_suppressed"] == 1 and result.k_achieved == 6


def test_a_column_the_purpose_needs_is_never_withheld_rows_are_dropped_instead():
    rows = [(f"p{i}", "18-20", "M", True, "DRR") for i in range(6)]
    rows.append(("alone", "18-20", "M", True, "UPW"))
    keep = {"items": ladder([{"keep_items": ["UPW"]}], withhold=False)}
    result = anonymise(rows, COLUMNS, QIS, 5, keep, budget=0.0)
    assert result.levels["items"] == 0 and result.rows_suppressed == 1
    assert {r[4] for r in result.rows} == {"DRR"}


def test_a_column_is_withheld_when_that_is_what_it_takes():
    rows = [(f"p{i}", "18-20", "MF"[i % 2], True, "DRR") for i in range(6)]
    result = anonymise(rows, COLUMNS, QIS, 5, {}, budget=0.0)
    assert result.rows_suppressed == 0 and {r[2] for r in result.rows} == {None}
    assert result.manifest()["generalised"]["b"] == "withheld"


@pytest.mark.parametrize(
    "rule", [{}, {"bands": {}}, {"keep_items": "DRR"}, {"round": 5}, {"bands": {}, "x": 1}]
)
def test_a_malformed_step_is_an_error(rule):
    with pytest.raises(AnonymityError):
        step_from_rule(rule)
