"""Statistical disclosure control for aggregate tables shared with partners.

A table is a grid of counts (rows x columns) published with its row totals, column totals
and grand total. Three steps, each configured per agreement:

1. **Primary suppression**: a count from 1 to ``threshold - 1`` is hidden (``None``, shown as
   ``*``). Zeros are shown: they disclose nothing about a person. A total is a count too.
2. **Secondary suppression**: more cells are hidden until no hidden cell can be worked out
   exactly from the published cells and totals. Hidden cells are unknowns of the linear
   system "each row and column adds up to its total"; a hidden cell is recoverable exactly
   when the system pins it down, i.e. when it has no component in the system's null space.
   Each round hides the smallest published count in the line of a recoverable cell.
3. **Rounding**: published counts (cells and totals, independently) go to the nearest
   multiple of ``rounding`` (halves up), so differencing published figures is unreliable.

The rules are checked in ``tests/unit/test_disclosure.py`` with hypothesis on random
tables, by solving the published system again from the outside.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HIDDEN = None  # a suppressed value; written as "*" in CSV and XLSX, null in Parquet

# The lowest threshold an agreement may set. NHS small-number practice suppresses counts
# of 1 to 7 (shown as *), so the smallest count ever published is 8 (domain.md, "Sharing
# data with partners"). An agreement may suppress more (a threshold of 10), never less.
THRESHOLD_FLOOR = 8
# The smallest rounding base of an aggregate agreement: the same NHS rule rounds the
# counts it shows to the nearest 5.
ROUNDING_FLOOR = 5


@dataclass(frozen=True)
class Controls:
    """The controls of one agreement. ``protect`` works with any of them (the tests try
    low thresholds too); which ones an agreement may choose is ``agreements.py``'s rule."""

    threshold: int = THRESHOLD_FLOOR  # counts 1..threshold-1 are hidden
    rounding: int = ROUNDING_FLOOR  # publish multiples of this (1 = no rounding)
    secondary: bool = True

    def problems(self) -> list[str]:
        """Reasons these controls are unsafe or meaningless (empty when fine)."""
        out = []
        if self.threshold < 1:
            out.append(f"threshold must be at least 1 (got {self.threshold})")
        if self.rounding < 1:
            out.append(f"rounding must be at least 1 (got {self.rounding})")
        elif self.threshold > 1 and round_half_up(self.threshold, self.rounding) < self.threshold:
            out.append(
                f"rounding to {self.rounding} would show the count {self.threshold} as "
                f"{round_half_up(self.threshold, self.rounding)}, below the threshold"
            )
        return out


def round_half_up(value: int, base: int) -> int:
    return int((value + base // 2) // base * base) if base > 1 else int(value)


@dataclass
class Grid:
    """Counts with margins. ``None`` marks a hidden value."""

    cells: list[list[int | None]]
    row_totals: list[int | None]
    col_totals: list[int | None]
    total: int | None


def _unknowns(hidden: np.ndarray, row_h: np.ndarray, col_h: np.ndarray, tot_h: bool):
    """Index every hidden value (cells first, then row totals, column totals, total)."""
    index: dict[tuple, int] = {}
    for r, c in zip(*np.nonzero(hidden), strict=True):
        index[("cell", int(r), int(c))] = len(index)
    for r in np.nonzero(row_h)[0]:
        index[("row", int(r))] = len(index)
    for c in np.nonzero(col_h)[0]:
        index[("col", int(c))] = len(index)
    if tot_h:
        index[("total",)] = len(index)
    return index


def recoverable(hidden: np.ndarray, row_h: np.ndarray, col_h: np.ndarray, tot_h: bool) -> set:
    """The hidden values that the published values and the additivity pin down exactly."""
    index = _unknowns(hidden, row_h, col_h, tot_h)
    if not index:
        return set()
    n_rows, n_cols = hidden.shape
    equations = []
    for r in range(n_rows):  # row r: sum of its cells - its total = 0
        eq = np.zeros(len(index))
        for c in range(n_cols):
            if hidden[r, c]:
                eq[index[("cell", r, c)]] = 1
        if row_h[r]:
            eq[index[("row", r)]] = -1
        equations.append(eq)
    for c in range(n_cols):
        eq = np.zeros(len(index))
        for r in range(n_rows):
            if hidden[r, c]:
                eq[index[("cell", r, c)]] = 1
        if col_h[c]:
            eq[index[("col", c)]] = -1
        equations.append(eq)
    for margin, kind in ((row_h, "row"), (col_h, "col")):  # the totals add up to the total
        eq = np.zeros(len(index))
        for i in np.nonzero(margin)[0]:
            eq[index[(kind, int(i))]] = 1
        if tot_h:
            eq[index[("total",)]] = -1
        equations.append(eq)
    a = np.array(equations)
    # null space of A: the directions hidden values can move without changing anything
    _, s, vt = np.linalg.svd(a)
    rank = int((s > 1e-9).sum())
    null = vt[rank:]
    pinned = np.abs(null).sum(axis=0) < 1e-9 if len(null) else np.ones(len(index), bool)
    return {key for key, i in index.items() if pinned[i]}


def protect(counts: list[list[int]], controls: Controls) -> Grid:
    """Suppress (primary, then secondary) and round a grid of counts with its margins."""
    values = np.array(counts, dtype=np.int64).reshape(len(counts), -1 if counts else 0)
    if values.size == 0:
        return Grid([[] for _ in counts], [0] * len(counts), [], 0)
    row_tot, col_tot, total = values.sum(axis=1), values.sum(axis=0), int(values.sum())

    def small(x):
        return (x > 0) & (x < controls.threshold)

    hidden, row_h, col_h = small(values), small(row_tot), small(col_tot)
    tot_h = bool(small(np.array(total)))
    if controls.secondary:
        while True:
            leaks = recoverable(hidden, row_h, col_h, tot_h)
            if not leaks:
                break
            _hide_partner(leaks, values, hidden, row_h, col_h)
            if hidden.all() and row_h.all() and col_h.all():
                tot_h = True  # nothing left to hide but the total itself

    def show(value, is_hidden):
        return HIDDEN if is_hidden else round_half_up(int(value), controls.rounding)

    n_rows, n_cols = values.shape
    return Grid(
        cells=[[show(values[r, c], hidden[r, c]) for c in range(n_cols)] for r in range(n_rows)],
        row_totals=[show(row_tot[r], row_h[r]) for r in range(n_rows)],
        col_totals=[show(col_tot[c], col_h[c]) for c in range(n_cols)],
        total=show(total, tot_h),
    )


def _lines(leak, n_rows: int) -> list[tuple[str, int]]:
    if leak[0] == "cell":
        return [("row", leak[1]), ("col", leak[2])]
    if leak[0] in ("row", "col"):
        return [(leak[0], leak[1])]
    return [("row", r) for r in range(n_rows)]


def _hide_partner(leaks, values, hidden, row_h, col_h) -> None:
    """Hide one more value so a pinned one can no longer be solved for: the smallest
    published non-zero count in the row or column of a pinned value; a total only when
    those lines have no published cell left."""
    n_rows, n_cols = values.shape
    for leak in sorted(leaks):
        best = None
        for kind, i in _lines(leak, n_rows):
            cells = (
                [(i, c) for c in range(n_cols)]
                if kind == "row"
                else [(r, i) for r in range(n_rows)]
            )
            for rc in cells:
                if hidden[rc]:
                    continue
                key = (values[rc] == 0, values[rc], rc)  # zeros last: they protect little
                if best is None or key < best[0]:
                    best = (key, rc)
        if best is not None:
            hidden[best[1]] = True
            return
    for leak in sorted(leaks):  # every cell of these lines is hidden: hide a line's total
        for kind, i in _lines(leak, n_rows):
            margin = row_h if kind == "row" else col_h
            if not margin[i]:
                margin[i] = True
                return
    hidden[:] = True  # still pinned: hide every cell and margin
    row_h[:] = True
    col_h[:] = True
