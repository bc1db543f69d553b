"""k-anonymity for record-level extracts: generalise first, then suppress.

A recipient who also reads the marts (a BI login) can look a row of a record-level extract
up by the columns both hold: its *quasi-identifiers*. An extract is k-anonymous when every
combination of quasi-identifier values it releases is shared by at least k of its rows, so
no row can be narrowed down to fewer than k people.

``anonymise`` gets the rows, the quasi-identifier columns, k and a generalisation ladder per
column (a chain of ever coarser versions of the column: bands, a shorter list and, last, the
column withheld, every value null, unless the purpose needs the column). Generalisation is
global (a column is generalised the same way in every row). Which step of each ladder: every
combination of levels is tried (a few hundred for an extract of a handful of columns) and the
one is taken that leaves at most ``budget`` of the rows in classes smaller than k and keeps
the most information (the entropy of each released column over the released rows, summed,
times the share of rows released: what the recipient can still count). Above
``SEARCH_LIMIT`` combinations it falls back to greedy steps (most risk removed per bit lost).
Then every row still in a class smaller than k is **dropped**, not blanked: the rows in small
classes are exactly the people an attacker holding the marts can work out (they can redo the
generalisation on the marts), so a blanked row would tie its pseudonym to that small set.
Deterministic (ties: fewer steps, then the earlier columns less generalised): the same input
gives the same output, whatever its order.

Across deliveries: a pseudonym stable across periods links a person's rows of two years into
a longer quasi-identifier (measured on the default data: 38-69 of the 188-264 people linked
between two adjacent years singled out), so extracts pseudonymise per period (pseudonymise.py, ``scope``).
Not covered: re-deliveries of the *same* period (the DAT's monthly schedule, while the year
is open) keep the same pseudonyms, and their rows or chosen levels may differ from month to
month; comparing them is an intersection attack this module does not measure.

Generalisation steps, as declared in an agreement's ``generalise:`` (one list per column):

- ``{bands: {value: coarser value, ...}}``: values not listed are kept as they are;
- ``{keep_items: [CODE, ...]}``: a comma-separated list keeps only the listed items
  (``ATR,DRR,UPW`` -> ``DRR`` for ``[DRR]``; none of them -> the empty string);

and, after the declared steps, the column withheld (null in every row), unless the dataset
lists it in ``never_withhold:`` (then rows are dropped instead).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

K_FLOOR = 5  # the smallest k an agreement may ask for (issue 12: "at least 5")
DEFAULT_BUDGET = 0.05  # share of rows that may be dropped instead of generalising further
SEARCH_LIMIT = 20_000  # combinations of levels searched exhaustively; more: greedy steps
WITHHELD = "withheld"


class AnonymityError(ValueError):
    """A generalisation rule that cannot be applied (named in the message)."""


@dataclass(frozen=True)
class Step:
    """One rung of a column's ladder: a name for the manifest and the value mapping."""

    name: str
    apply: Callable[[Any], Any]


def _bands(mapping: dict[str, str]) -> Step:
    table = {str(k): v for k, v in mapping.items()}

    def apply(v: Any) -> Any:
        return v if v is None else table.get(str(v), v)

    merged: dict[str, list[str]] = {}
    for value, band in sorted(table.items()):
        merged.setdefault(str(band), []).append(value)
    name = "; ".join(f"{', '.join(vs)} -> {b}" for b, vs in sorted(merged.items()))
    return Step(name, apply)


def _keep_items(items: Sequence[str]) -> Step:
    wanted = set(items)

    def apply(v: Any) -> Any:
        if v is None:
            return None
        return ",".join(sorted(i for i in str(v).split(",") if i in wanted))

    return Step(f"only {', '.join(sorted(wanted))}", apply)


def step_from_rule(rule: dict[str, Any]) -> Step:
    """A ladder step from its declaration in an agreement (see the module docstring)."""
    if not isinstance(rule, dict) or len(rule) != 1:
        raise AnonymityError(f"{rule!r}: a step is one of {{bands: ...}}, {{keep_items: ...}}")
    ((kind, arg),) = rule.items()
    if kind == "bands" and isinstance(arg, dict) and arg:
        return _bands(arg)
    if kind == "keep_items" and isinstance(arg, list) and arg:
        return _keep_items([str(a) for a in arg])
    raise AnonymityError(
        f"{rule!r}: a step is {{bands: {{value: band, ...}}}} or {{keep_items: [item, ...]}}"
    )


def ladder(rules: Sequence[dict[str, Any]] = (), withhold: bool = True) -> list[Step]:
    """The declared steps, then (unless the purpose needs the column) the column withheld."""
    last = [Step(WITHHELD, lambda v: None)] if withhold else []
    return [*(step_from_rule(r) for r in rules), *last]


@dataclass
class Result:
    rows: list[tuple]  # the released rows, generalised, in the input's order
    kept: list[int]  # their indices in the input
    k_required: int
    quasi_identifiers: list[str]
    generalised: dict[str, str] = field(default_factory=dict)  # column -> last step applied
    levels: dict[str, int] = field(default_factory=dict)  # column -> steps applied (0: as is)
    rows_in: int = 0
    qi_index: list[int] = field(default_factory=list)  # the quasi-identifiers' positions

    @property
    def rows_suppressed(self) -> int:
        return self.rows_in - len(self.rows)

    @property
    def k_achieved(self) -> int | None:
        """The smallest class among the released rows (None when nothing is released)."""
        sizes = class_sizes(self.rows, self.qi_index)
        return min(sizes.values()) if sizes else None

    def manifest(self) -> dict[str, Any]:
        return {
            "k_required": self.k_required,
            "k_achieved": self.k_achieved,
            "quasi_identifiers": self.quasi_identifiers,
            "generalised": {c: self.generalised.get(c, "as is") for c in self.quasi_identifiers},
            "rows_in_scope": self.rows_in,
            "rows_suppressed": self.rows_suppressed,
            "rows_released": len(self.rows),
        }


def class_sizes(rows: Sequence[tuple], index: Sequence[int]) -> Counter:
    """How many rows share each combination of the values at ``index``."""
    return Counter(tuple(r[i] for i in index) for r in rows)


def _deficit(classes: Sequence[tuple], k: int) -> tuple[int, int]:
    """(rows in classes smaller than k, sum over those classes of k - size)."""
    sizes = Counter(classes)
    small = [s for s in sizes.values() if s < k]
    return sum(small), sum(k - s for s in small)


def _entropy(values: Sequence[Any]) -> float:
    n = len(values)
    return -sum(c / n * math.log2(c / n) for c in Counter(values).values()) if n else 0.0


def _classes(chain: dict[str, list[list[Any]]], levels: dict[str, int], n: int) -> list[tuple]:
    cols = [chain[c][lv] for c, lv in levels.items()]
    return list(zip(*cols, strict=True)) if cols else [()] * n


def _information(chain, levels: dict[str, int], combos: list[tuple], k: int, n: int) -> float:
    """What the recipient can still count: the entropy of each column over the rows that
    would be released, summed, times the share of rows released."""
    sizes = Counter(combos)
    kept = [i for i, combo in enumerate(combos) if sizes[combo] >= k]
    if not kept:
        return 0.0
    bits = sum(_entropy([chain[c][lv][i] for i in kept]) for c, lv in levels.items())
    return bits * len(kept) / n


def _search(chain, qis: list[str], n: int, k: int, budget: float) -> dict[str, int]:
    """Every combination of levels; the one within the budget that keeps the most
    information (ties: fewer steps, then the earlier columns less generalised). When none
    is within the budget: the one with the fewest rows in classes smaller than k."""
    best_key, best = None, None
    for node in itertools.product(*(range(len(chain[c])) for c in qis)):
        levels = dict(zip(qis, node, strict=True))
        combos = _classes(chain, levels, n)
        at_risk, _ = _deficit(combos, k)
        over = max(0, at_risk - math.floor(budget * n))
        info = round(_information(chain, levels, combos, k, n), 9)
        key = (over, -info, sum(node), node)
        if best_key is None or key < best_key:
            best_key, best = key, levels
    return best if best is not None else {}


def _greedy(chain, qis: list[str], n: int, k: int, budget: float) -> dict[str, int]:
    """One step at a time (for lattices too big to search): while more than the budget of
    rows sit in classes smaller than k, the step that removes the most deficit (sum over
    small classes of k - size) per bit lost (drop in the column's entropy); ties: the
    earlier column. Stops when no single step merges a small class."""
    levels = {c: 0 for c in qis}
    at_risk, deficit = _deficit(_classes(chain, levels, n), k)
    while at_risk > budget * n:
        best = None
        for c in qis:
            if levels[c] + 1 >= len(chain[c]):
                continue
            trial = {**levels, c: levels[c] + 1}
            _, new_deficit = _deficit(_classes(chain, trial, n), k)
            gain = deficit - new_deficit
            if gain <= 0:
                continue
            loss = _entropy(chain[c][levels[c]]) - _entropy(chain[c][levels[c] + 1])
            score = gain / max(loss, 1e-9)
            if best is None or score > best[0] + 1e-12:
                best = (score, c)
        if best is None:
            break
        levels[best[1]] += 1
        at_risk, deficit = _deficit(_classes(chain, levels, n), k)
    return levels


def anonymise(
    rows: Sequence[tuple],
    columns: Sequence[str],
    quasi_identifiers: Sequence[str],
    k: int,
    ladders: dict[str, list[Step]] | None = None,
    budget: float = DEFAULT_BUDGET,
    search_limit: int = SEARCH_LIMIT,
) -> Result:
    """``rows`` (tuples in ``columns`` order) made k-anonymous on ``quasi_identifiers``.
    A column without a ladder in ``ladders`` is kept as it is or withheld."""
    if k < 1:
        raise AnonymityError(f"k={k}: at least 1")
    ladders = ladders or {}
    qis = list(quasi_identifiers)
    qi_index = [list(columns).index(c) for c in qis]
    steps = {c: ladders[c] if c in ladders else ladder() for c in qis}
    # each column at each level: chain[c][0] as is, chain[c][j] after its first j steps
    chain: dict[str, list[list[Any]]] = {}
    for c, i in zip(qis, qi_index, strict=True):
        chain[c] = [[r[i] for r in rows]]
        for step in steps[c]:
            chain[c].append([step.apply(v) for v in chain[c][-1]])
    n = len(rows)
    lattice = math.prod(len(chain[c]) for c in qis)
    if lattice <= search_limit:
        levels = _search(chain, qis, n, k, budget)
    else:
        levels = _greedy(chain, qis, n, k, budget)
    current = {c: chain[c][levels[c]] for c in qis}

    def classes(cur: dict[str, list[Any]]) -> list[tuple]:
        return list(zip(*(cur[c] for c in qis), strict=True)) if qis else [()] * n

    combos = classes(current)
    sizes = Counter(combos)
    kept = [i for i, combo in enumerate(combos) if sizes[combo] >= k]
    out = []
    for i in kept:
        values = list(rows[i])
        for c, j in zip(qis, qi_index, strict=True):
            values[j] = current[c][i]
        out.append(tuple(values))
    return Result(
        rows=out,
        kept=kept,
        k_required=k,
        quasi_identifiers=qis,
        generalised={c: steps[c][levels[c] - 1].name for c in qis if levels[c]},
        levels=levels,
        rows_in=n,
        qi_index=qi_index,
    )
