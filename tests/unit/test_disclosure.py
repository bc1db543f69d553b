"""Disclosure control on random tables (hypothesis).

The checks re-derive everything from the published grid, as a recipient would: which
counts are shown, and whether any hidden value is pinned down by the published cells and
totals (solved here with exact rational arithmetic, independently of the module's SVD).
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from warehouse.sharing.disclosure import Controls, protect, protect_lines, round_half_up

counts = st.integers(min_value=1, max_value=6).flatmap(
    lambda n_cols: st.lists(
        st.lists(
            st.one_of(st.integers(0, 12), st.integers(0, 400)), min_size=n_cols, max_size=n_cols
        ),
        min_size=1,
        max_size=7,
    )
)
controls = st.builds(
    Controls,
    threshold=st.sampled_from([3, 5, 8, 10]),
    rounding=st.sampled_from([1, 5]),
    secondary=st.just(True),
).filter(lambda c: not c.problems())


def _published_values(grid):
    return [v for row in grid.cells for v in row] + grid.row_totals + grid.col_totals + [grid.total]


def _unknowns(grid) -> list[tuple]:
    """The hidden values of a grid: cells, row and column totals, the grand total."""
    unknowns = [
        ("cell", r, c) for r, row in enumerate(grid.cells) for c, v in enumerate(row) if v is None
    ]
    unknowns += [("row", r) for r, v in enumerate(grid.row_totals) if v is None]
    unknowns += [("col", c) for c, v in enumerate(grid.col_totals) if v is None]
    return unknowns + ([("total",)] if grid.total is None else [])


def _equations(grid, unknowns: list[tuple]) -> list[list[Fraction]]:
    """Every row, column and total sum of the grid as an equation over the unknowns."""
    pos = {u: i for i, u in enumerate(unknowns)}
    n_rows, n_cols = len(grid.cells), len(grid.col_totals)
    lines = []
    for r in range(n_rows):
        lines.append([("cell", r, c) for c in range(n_cols)] + [("-", ("row", r))])
    for c in range(n_cols):
        lines.append([("cell", r, c) for r in range(n_rows)] + [("-", ("col", c))])
    lines.append([("row", r) for r in range(n_rows)] + [("-", ("total",))])
    lines.append([("col", c) for c in range(n_cols)] + [("-", ("total",))])
    matrix = []
    for line in lines:
        eq = [Fraction(0)] * len(unknowns)
        for term in line:
            sign, key = (-1, term[1]) if term[0] == "-" else (1, term)
            if key in pos:
                eq[pos[key]] += sign
        matrix.append(eq)
    return matrix


def _row_reduced(matrix: list[list[Fraction]]) -> list[list[Fraction]]:
    """The non-zero rows of the reduced row echelon form (Gauss-Jordan)."""
    rows, rank = [m[:] for m in matrix], 0
    for col in range(len(matrix[0]) if matrix else 0):
        pivot = next((i for i in range(rank, len(rows)) if rows[i][col] != 0), None)
        if pivot is None:
            continue
        rows[rank], rows[pivot] = rows[pivot], rows[rank]
        p = rows[rank][col]
        rows[rank] = [x / p for x in rows[rank]]
        for i in range(len(rows)):
            if i != rank and rows[i][col] != 0:
                f = rows[i][col]
                rows[i] = [a - f * b for a, b in zip(rows[i], rows[rank], strict=True)]
        rank += 1
    return rows[:rank]


def _pinned_exactly(grid) -> list[tuple]:
    """Hidden values a recipient can solve for exactly (Gauss-Jordan over the rationals):
    an unknown is pinned when some reduced equation involves it alone."""
    unknowns = _unknowns(grid)
    if not unknowns:
        return []
    return [
        unknowns[j]
        for eq in _row_reduced(_equations(grid, unknowns))
        for j in range(len(unknowns))
        if eq[j] != 0 and sum(1 for x in eq if x != 0) == 1
    ]


@settings(max_examples=150, deadline=None)
@given(counts, controls)
def test_no_small_count_is_shown(table, c):
    grid = protect(table, c)
    shown = [v for v in _published_values(grid) if v is not None]
    assert not [v for v in shown if 0 < v < c.threshold]


@settings(max_examples=150, deadline=None)
@given(counts, controls)
def test_no_hidden_cell_can_be_recovered_from_the_totals(table, c):
    grid = protect(table, c)
    assert _pinned_exactly(grid) == []


@settings(max_examples=200, deadline=None)
@given(counts, controls)
def test_every_small_count_is_hidden_and_others_are_rounded_values(table, c):
    grid = protect(table, c)
    for r, row in enumerate(table):
        for col, v in enumerate(row):
            published = grid.cells[r][col]
            if 0 < v < c.threshold:
                assert published is None
            elif published is not None:
                assert published == round_half_up(v, c.rounding)


def test_a_single_small_cell_gets_a_partner_in_its_row_and_column():
    # GIVEN a 2x2 table where only one cell is small
    grid = protect([[3, 40], [50, 60]], Controls(threshold=8, rounding=1))
    # THEN hiding it alone would be undone by the totals: all four are hidden
    assert grid.cells == [[None, None], [None, None]]
    assert grid.row_totals == [43, 110] and grid.col_totals == [53, 100] and grid.total == 153


def test_without_secondary_suppression_a_hidden_cell_is_recoverable():
    # the property the secondary step exists for, shown to fail when it is switched off
    grid = protect([[3, 40], [50, 60]], Controls(threshold=8, rounding=1, secondary=False))
    assert _pinned_exactly(grid) == [("cell", 0, 0)]


def test_rounding_that_would_show_a_count_below_the_threshold_is_refused():
    assert Controls(threshold=7, rounding=5).problems()  # 7 would be shown as 5
    assert not Controls(threshold=8, rounding=5).problems()


# -- the attacker's integer programme on random breakdowns (tests/attacker.py) -------------------
def _attack(values, lines, published, c):
    from tests.attacker import Model

    m = Model()
    for i, v in enumerate(published):
        m.observe((i,), "*" if v is None else str(v), c)
    for total, parts in lines:
        m.equal((total,), [(p,) for p in parts])
    return m


breakdowns = st.lists(  # one population split several ways: [[values of split 1], ...]
    st.lists(st.one_of(st.integers(0, 9), st.integers(0, 120)), min_size=1, max_size=6),
    min_size=1,
    max_size=4,
)


def _stacked(splits: list[list[int]]) -> tuple[list[int], list]:
    """The area's count first, then each split's counts (each adding up to the area)."""
    total = max(sum(s) for s in splits)
    values, lines = [total], []
    for s in splits:
        s = [*s[:-1], s[-1] + total - sum(s)]  # make every split add up to the same total
        lines.append((0, list(range(len(values), len(values) + len(s)))))
        values += s
    return values, lines


@settings(max_examples=120, deadline=None)
@given(breakdowns, controls.filter(lambda c: c.rounding == 5))
def test_no_breakdown_cell_is_narrowed_by_integer_programming(splits, c):
    values, lines = _stacked(splits)
    published = protect_lines(values, lines, c)
    narrowed, recovered = _attack(values, lines, published, c).exposed()
    assert narrowed == [] and recovered == []


@settings(max_examples=60, deadline=None)
@given(counts, controls.filter(lambda c: c.rounding == 5))
def test_no_grid_cell_is_narrowed_by_integer_programming(table, c):
    grid = protect(table, c)
    n_rows, n_cols = len(table), len(table[0])
    flat = [*(v for row in grid.cells for v in row), *grid.row_totals, *grid.col_totals, grid.total]
    row_t, col_t, total = n_rows * n_cols, n_rows * n_cols + n_rows, len(flat) - 1
    lines = [(row_t + r, [r * n_cols + k for k in range(n_cols)]) for r in range(n_rows)]
    lines += [(col_t + k, [r * n_cols + k for r in range(n_rows)]) for k in range(n_cols)]
    lines += [(total, list(range(row_t, col_t))), (total, list(range(col_t, total)))]
    narrowed, recovered = _attack(None, lines, flat, c).exposed()
    assert narrowed == [] and recovered == []


def test_without_secondary_suppression_the_attacker_narrows_a_breakdown():
    # the area (53) split two ways; one split has a 3 beside a 50: alone, the * is pinned
    values, lines = [53, 3, 50, 20, 33], [(0, [1, 2]), (0, [3, 4])]
    c = Controls(threshold=8, rounding=1, secondary=False)
    narrowed, _ = _attack(values, lines, protect_lines(values, lines, c), c).exposed()
    assert narrowed == [((1,), 3, 3)]
    c = Controls(threshold=8, rounding=1, secondary=True)
    narrowed, _ = _attack(values, lines, protect_lines(values, lines, c), c).exposed()
    assert narrowed == []


# -- a count no one is shown: the rest of a total its published parts leave -----------------------
def _attack_rest(values: list[int], published: list, c: Controls):
    """The total, its parts and the rest (last, never shown) as a recipient models them."""
    from tests.attacker import Model

    m = Model()
    *shown, rest = range(len(values))
    for i in shown:
        m.observe((i,), "*" if published[i] is None else str(published[i]), c)
    m.equal((0,), [(i,) for i in shown[1:]] + [(rest,)])
    m.unpublished((rest,), c)
    return m.exposed(truth={(rest,): values[rest]})


def test_a_small_rest_published_parts_leave_is_narrowed_unless_it_is_declared():
    # GIVEN a caseload of 1000 of whom 3 have no tier, the four tiers at the edges of
    # their rounding (248 -> 250 three times, 253 -> 255)
    values = [1000, 248, 248, 248, 253, 3]
    c = Controls(threshold=8, rounding=5)
    # WHEN each count is controlled alone (as the extracts were), the rest is confined to
    # 0..5: fewer values than a * allows
    alone = [protect_lines([x], [], c)[0] for x in values[:-1]] + [None]
    narrowed, _ = _attack_rest(values, alone, c)
    assert narrowed == [((5,), 0, 5)]
    # WHEN the rest is declared with its total and parts: a tier is hidden beside it
    line = [(0, [1, 2, 3, 4, 5])]
    safe = protect_lines(values, line, c, unpublished=[5])
    assert safe[5] is None and safe.count(None) == 2 and safe[0] == 1000
    assert _attack_rest(values, safe, c) == ([], [])


def test_a_rest_that_rounding_already_protects_costs_no_partner():
    # the same rest with the rounding working the other way: 0..15 is wide enough
    values, c = [1002, 246, 246, 246, 261, 3], Controls(threshold=8, rounding=5)
    safe = protect_lines(values, [(0, [1, 2, 3, 4, 5])], c, unpublished=[5])
    assert safe == [1000, 245, 245, 245, 260, None]
    assert _attack_rest(values, safe, c) == ([], [])


def test_an_unpublished_count_cannot_be_negative():
    with pytest.raises(ValueError, match="parts exceed its total"):
        protect_lines([10, 8, 4, -2], [(0, [1, 2, 3])], Controls(), unpublished=[3])


parts_with_rest = st.lists(
    st.one_of(st.integers(0, 12), st.integers(0, 300)), min_size=1, max_size=5
).flatmap(lambda parts: st.tuples(st.just(parts), st.integers(0, 12)))


@settings(max_examples=150, deadline=None)
@given(parts_with_rest, controls)
def test_no_small_rest_is_narrowed_by_integer_programming(case, c):
    parts, rest = case
    values = [sum(parts) + rest, *parts, rest]
    safe = protect_lines(
        values, [(0, list(range(1, len(values))))], c, unpublished=[len(parts) + 1]
    )
    assert safe[-1] is None
    narrowed, recovered = _attack_rest(values, safe, c)
    assert narrowed == [] and (recovered == [] or c.rounding == 1)
