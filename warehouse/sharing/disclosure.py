"""Statistical disclosure control for aggregate tables shared with partners.

A table is a grid of counts (rows x columns) published with its row totals, column totals
and grand total. Three steps, each configured per agreement:

1. **Primary suppression**: a count from 1 to ``threshold - 1`` is hidden (``None``, shown as
   ``*``). Zeros are shown: they disclose nothing about a person. A total is a count too.
2. **Secondary suppression**: more cells are hidden until no hidden cell can be worked out
   exactly from the published cells and totals. Hidden cells are unknowns of the linear
   system "each line adds up to its total" (a line: a row or column of a grid, or the
   breakdown of one population by district, tier, gender, ...); a hidden cell is
   recoverable exactly when the system pins it down, i.e. when it has no component in the
   system's null space. Each round hides the smallest published count in the line of a
   recoverable cell.
3. **Rounding**: published counts (cells and totals, independently) go to the nearest
   multiple of ``rounding`` (halves up), so differencing published figures is unreliable.

A count that is never published but follows from published ones (the caseload with no
tier recorded: the caseload less its four tiers) is a count of people too: declared
``unpublished``, it is an unknown of the same system, and a small one (1 .. threshold-1)
must not be confined by a recipient to fewer values than a ``*`` allows (step 2 hides a
partner until it is not).

``protect_lines`` does this for any counts and lines; ``protect`` for a grid with its
margins. The rules are checked in ``tests/unit/test_disclosure.py`` with hypothesis on
random tables, by solving the published system again from the outside, and
``tests/integration/test_disclosure_attack.py`` attacks every delivery of a period with
integer linear programming.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

HIDDEN = None  # a suppressed value in a Grid or the result of protect_lines


class _Suppressed:
    """A suppressed figure in an extract's rows, unlike ``None`` (not applicable): written
    as ``*`` in CSV and XLSX, and in Parquet as null with a ``<column>_suppressed`` flag."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "SUPPRESSED"


SUPPRESSED = _Suppressed()

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


Line = tuple[int, Sequence[int]]  # (index of the total, indices of the parts adding up to it)


def protect_lines(
    values: Sequence[int],
    lines: Sequence[Line],
    controls: Controls,
    unpublished: Sequence[int] = (),
) -> list:
    """Suppress (primary, then secondary across ``lines``) and round counts; ``None`` marks a
    hidden count. ``lines`` say which counts add up to which: e.g. the area's count and
    its ten districts, and the same area count with its five tiers. ``unpublished``: the
    indices of counts no one is shown (``None`` in the result) that the lines still let a
    recipient work out, e.g. the rest of a total its published parts leave."""
    v = np.asarray(values, dtype=np.int64)
    unseen = np.zeros(len(v), dtype=bool)
    unseen[list(unpublished)] = True
    if (v[unseen] < 0).any():
        raise ValueError("an unpublished count is negative: its parts exceed its total")
    hidden = (v > 0) & (v < controls.threshold) & ~unseen
    if controls.secondary and lines:
        while True:
            # an unseen count is an unknown like a hidden one; its exact value is a leak
            # only when it is small, which the bounds below judge (it is never shown)
            leaks = [i for i in pinned(hidden | unseen, lines) if hidden[i]]
            if not leaks:  # none solvable exactly: can one be narrowed (rounding, bounds)?
                leaks, recovered = exposed(v, hidden, lines, controls, unseen)
                if recovered and not leaks:
                    hidden[recovered] = True  # a rounded count pinned to one value
                    continue
            if not leaks:
                break
            if not _hide_partner(leaks, v, hidden, lines, unseen):
                break  # everything is hidden: what is left follows from the lines alone
    return [
        None if h else round_half_up(int(x), controls.rounding)
        for x, h in zip(v, hidden | unseen, strict=True)
    ]


def _line_matrix(lines: Sequence[Line], columns: list[int]) -> np.ndarray:
    """One equation per line (its parts minus its total = 0) over the counts in
    ``columns``; counts not among them are known and drop out."""
    pos = {i: k for k, i in enumerate(columns)}
    a = np.zeros((len(lines), len(columns)))
    for j, (total, parts) in enumerate(lines):
        for p in parts:
            if p in pos:
                a[j, pos[p]] += 1
        if total in pos:
            a[j, pos[total]] -= 1
    return a


def pinned(hidden: np.ndarray, lines: Sequence[Line]) -> list[int]:
    """The hidden counts that the published ones and the lines' additivity pin down exactly."""
    unknowns = np.flatnonzero(hidden)
    if not len(unknowns):
        return []
    a = _line_matrix(lines, [int(i) for i in unknowns])
    # null space of A: the directions hidden values can move without changing anything
    _, s, vt = np.linalg.svd(a)
    rank = int((s > 1e-9).sum())
    null = vt[rank:]
    fixed = np.abs(null).sum(axis=0) < 1e-9 if len(null) else np.ones(len(unknowns), bool)
    return [int(unknowns[k]) for k in np.flatnonzero(fixed)]


def attacker_bounds(
    value: int, is_hidden: bool, c: Controls, is_unseen: bool = False
) -> tuple[int, float]:
    """What a published figure tells a recipient about its true count: a suppressed one is
    at least 1 (zeros are shown); a rounded one is within the rounding, and 0 or at least
    the threshold (a smaller count would have been suppressed); an unpublished one, only
    that it is a count."""
    if is_unseen:
        return 0, np.inf
    if is_hidden:
        return 1, np.inf
    shown = round_half_up(value, c.rounding)
    if shown == 0:
        return 0, 0
    lo = max(shown - c.rounding // 2, c.threshold, 0)
    return lo, shown + c.rounding - 1 - c.rounding // 2


def exposed(
    v: np.ndarray,
    hidden: np.ndarray,
    lines: Sequence[Line],
    c: Controls,
    unseen: np.ndarray | None = None,
):
    """(narrowed, recovered): the hidden counts, and the small (1 .. threshold-1) unseen
    ones, a recipient can confine to fewer values than the ``*`` allows (1 ..
    threshold-1), and the rounded non-zero counts pinned to one value, by the linear
    programme "the lines add up; each published count is within its rounding and 0 or at
    least the threshold; each hidden one at least 1; each unseen one at least 0". The lines'
    constraint matrices (a total with its parts; a grid with its margins) are network
    matrices, so with integer bounds these ranges are the integer programme's. Rounded
    counts are checked once no hidden one is narrowed (it is the costlier pass)."""
    if unseen is None:
        unseen = np.zeros(len(v), dtype=bool)
    involved = sorted({i for total, parts in lines for i in (total, *parts)})
    pos = {i: k for k, i in enumerate(involved)}
    a = _line_matrix(lines, involved)
    bounds = [attacker_bounds(int(v[i]), bool(hidden[i]), c, bool(unseen[i])) for i in involved]

    def span(i: int) -> tuple[float, float] | None:
        from scipy.optimize import linprog

        ends = []
        for sign in (1, -1):
            objective = np.zeros(len(involved))
            objective[pos[i]] = sign
            res = linprog(objective, A_eq=a, b_eq=np.zeros(len(lines)), bounds=bounds)
            ends.append(sign * res.fun if res.status == 0 else None)  # 3: no upper bound
        if ends[0] is None:
            return None  # unsolved (never seen): counted as exposed, to be safe
        return np.ceil(ends[0] - 1e-6), np.inf if ends[1] is None else np.floor(ends[1] + 1e-6)

    narrowed = []
    small_unseen = unseen & (v > 0) & (v < c.threshold)
    for i in (i for i in involved if hidden[i] or small_unseen[i]):
        r = span(i)
        if r is None or r[1] - r[0] + 1 < c.threshold - 1:
            narrowed.append(i)
    if narrowed or c.rounding == 1:  # unrounded counts are published exactly anyway
        return narrowed, []
    recovered = []
    for i in (i for i in involved if not hidden[i] and not unseen[i] and v[i] != 0):
        r = span(i)
        if r is None or r[0] == r[1]:
            recovered.append(i)
    return [], recovered


def _hide_partner(
    leaks: list[int], v: np.ndarray, hidden: np.ndarray, lines, unseen: np.ndarray
) -> bool:
    """Hide one more count so a pinned one can no longer be solved for: the smallest
    published non-zero part in a line of a pinned count; a total only when those lines
    have no published part left; everything when nothing else is left. False when
    everything was hidden already."""
    totals = {total for total, _ in lines}
    for leaves_only in (True, False):
        best = None
        for leak in leaks:
            for total, parts in lines:
                if leak != total and leak not in parts:
                    continue
                for i in (*parts, total):
                    if hidden[i] or unseen[i] or (leaves_only and i in totals):
                        continue
                    key = (v[i] == 0, v[i], i)  # zeros last: they protect little
                    if best is None or key < best:
                        best = key
        if best is not None:
            hidden[best[2]] = True
            return True
    shown = ~hidden & ~unseen
    hidden |= shown
    return bool(shown.any())


def protect(counts: list[list[int]], controls: Controls, row_totals: bool = True) -> Grid:
    """Suppress (primary, then secondary) and round a grid of counts with its margins.
    ``row_totals=False``: the columns do not add up across a row (a person counted in
    several), so only the column totals are published (``row_totals``/``total`` None)."""
    values = np.array(counts, dtype=np.int64).reshape(len(counts), -1 if counts else 0)
    if values.size == 0:
        return Grid([[] for _ in counts], [0] * len(counts), [], 0)
    n_rows, n_cols = values.shape
    # one vector: the cells row by row, then the row totals, the column totals, the total
    flat = [*values.ravel(), *values.sum(axis=1), *values.sum(axis=0), int(values.sum())]
    row_t, col_t, total = n_rows * n_cols, n_rows * n_cols + n_rows, len(flat) - 1
    lines: list[Line] = [
        (row_t + r, [r * n_cols + c for c in range(n_cols)]) for r in range(n_rows)
    ]
    lines += [(col_t + c, [r * n_cols + c for r in range(n_rows)]) for c in range(n_cols)]
    lines += [(total, range(row_t, row_t + n_rows)), (total, range(col_t, col_t + n_cols))]
    if not row_totals:
        lines = [line for line in lines if col_t <= line[0] < total]
    out = protect_lines(flat, lines, controls)
    return Grid(
        cells=[out[r * n_cols : (r + 1) * n_cols] for r in range(n_rows)],
        row_totals=out[row_t : row_t + n_rows],
        col_totals=out[col_t : col_t + n_cols],
        total=out[total],
    )
