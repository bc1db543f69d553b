"""A flat extract's ``parts``: a total, counts that split it without covering it (the
caseload's four tiers), and the rest they leave (the few with no tier recorded), never
published, controlled as one line in each row (warehouse/sharing/extract.py)."""

from __future__ import annotations

import pytest

from tests.attacker import Model
from warehouse.sharing.agreements import Breakdown, Dataset
from warehouse.sharing.disclosure import SUPPRESSED, Controls, protect_lines
from warehouse.sharing.extract import _controlled_flat
from warehouse.sharing.periods import ShareError

TIERS = [f"tier_{t}_caseload" for t in range(1, 5)]
FLOOR = Controls(threshold=8, rounding=5)  # the floors (the CSPs declare 10)


def _profile(**extra) -> Dataset:
    return Dataset(
        name="district_profile",
        mart="jsna_district_profile",
        columns=["la_code", "caseload", *TIERS],
        counts=["caseload", *TIERS],
        **extra,
    )


def _rest_narrowed(row: tuple, published: tuple) -> list:
    """The attacker's range for the caseload less its tiers, when it is narrower than a *."""
    m = Model()
    for k, text in enumerate(published[1:]):
        m.observe((k,), "*" if text is SUPPRESSED else str(text), FLOOR)
    m.equal((0,), [(1,), (2,), (3,), (4,), ("rest",)])
    m.unpublished(("rest",), FLOOR)
    return m.exposed({("rest",): row[1] - sum(row[2:])})[0]


# Stockport 2007/08 in the default data: 2 of 1,587 on the caseload have no tier
STOCKPORT = ("E08000007", 1587, 255, 418, 554, 358)


def test_each_count_alone_lets_the_tiers_and_caseload_confine_a_small_rest():
    (alone,) = _controlled_flat(_profile(), _profile().columns, [STOCKPORT], FLOOR)
    assert alone == ("E08000007", 1585, 255, 420, 555, 360)
    assert _rest_narrowed(STOCKPORT, alone) == [(("rest",), 0, 5)]


def test_parts_hide_a_tier_beside_a_small_rest_and_nothing_is_narrowed():
    d = _profile(parts={"caseload": TIERS})
    (safe,) = _controlled_flat(d, d.columns, [STOCKPORT], FLOOR)
    assert safe == ("E08000007", 1585, SUPPRESSED, 420, 555, 360)
    assert _rest_narrowed(STOCKPORT, safe) == []


def test_a_rest_the_rounding_protects_costs_no_tier():
    d = _profile(parts={"caseload": TIERS})
    row = ("E08000001", 2104, 323, 465, 832, 479)  # 5 with no tier; 0..15 stays possible
    (safe,) = _controlled_flat(d, d.columns, [row], FLOOR)
    assert safe == ("E08000001", 2105, 325, 465, 830, 480)
    assert _rest_narrowed(row, safe) == []


def test_parts_that_exceed_their_total_are_refused_naming_the_dataset_and_row():
    d = _profile(parts={"caseload": TIERS})
    rows = [STOCKPORT, ("E08000009", 1000, 300, 300, 300, 300)]
    with pytest.raises(ShareError, match=r"district_profile .*row 2: .* more than caseload"):
        _controlled_flat(d, d.columns, rows, FLOOR)


def test_a_part_not_applicable_leaves_the_rest_of_the_parts_shown_protected():
    # tier 4 not applicable (null): 2 of the 1,581 are in none of the three tiers shown
    d = _profile(parts={"caseload": TIERS})
    row = ("E08000007", 1581, 418, 553, 608, None)
    (safe,) = _controlled_flat(d, d.columns, [row], FLOOR)
    assert safe[-1] is None and SUPPRESSED in safe
    m = Model()
    for k, text in enumerate(safe[1:5]):
        m.observe((k,), "*" if text is SUPPRESSED else str(text), FLOOR)
    m.equal((0,), [(1,), (2,), (3,), ("rest",)])
    m.unpublished(("rest",), FLOOR)
    assert m.exposed({("rest",): 2}) == ([], [])


def test_counts_without_parts_are_controlled_as_each_column_alone():
    rows = [("a", 40, 3, 12, 20, 5), ("b", 9, 0, 7, 1, 1)]
    got = _controlled_flat(_profile(), _profile().columns, rows, FLOOR)
    for j in range(1, 6):
        column = protect_lines([r[j] for r in rows], [], FLOOR)
        assert [None if r[j] is SUPPRESSED else r[j] for r in got] == column


def test_parts_within_a_breakdown_keep_every_line_and_the_rests_add_up():
    # the area and its two districts, each with its tiers: the rests add up like the rest
    d = Dataset(
        name="profile_by_district",
        mart="jsna_district_profile",
        columns=["la_code", "caseload", *TIERS],
        counts=["caseload", *TIERS],
        parts={"caseload": TIERS},
        breakdown=Breakdown(by="la_code", total="area", partitions=["district"]),
    )
    # a breakdown names its partition rows by value: both districts are "district" rows
    rows = [
        ("area", 2809, 449, 721, 1003, 632),
        ("district", 1587, 255, 418, 554, 358),
        ("district", 1222, 194, 303, 449, 274),
    ]
    safe = _controlled_flat(d, d.columns, rows, FLOOR)
    m = Model()
    for r, (_, *shown) in enumerate(safe):
        cols = [(r, "caseload"), *((r, t) for t in TIERS)]
        for key, text in zip(cols, shown, strict=True):
            m.observe(key, "*" if text is SUPPRESSED else str(text), FLOOR)
        m.equal((r, "caseload"), [*((r, t) for t in TIERS), (r, "rest")])
        m.unpublished((r, "rest"), FLOOR)
    for col in ["caseload", *TIERS, "rest"]:
        m.equal((0, col), [(1, col), (2, col)])
    truth = {(r, "rest"): row[1] - sum(row[2:]) for r, row in enumerate(rows)}
    narrowed, recovered = m.exposed(truth)
    assert narrowed == [] and recovered == []
