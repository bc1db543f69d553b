"""k-anonymity for record-level extracts: generalise first, then suppress.

A recipient who also reads the marts (a BI login) can look a row of a record-level extract
up by the columns both hold: its *quasi-identifiers*. An extract is k-anonymous when every
combination of quasi-identifier values it releases is shared by at least k of its rows, so
no row can be narrowed down to fewer than k people.

``anonymise`` gets the rows, the quasi-identifier columns, k and a generalisation ladder per
column (a chain of ever coarser versions of the column: bands, a shorter list, and last of
all the column withheld, every value null). Steps are global (a column is generalised the
same way in every row) and chosen greedily: while more than ``budget`` of the rows sit in
classes smaller than k, take the step that removes the most "deficit" (sum over small classes
of k - size) per bit of information lost (the drop in the column's entropy over the rows).
Then every row still in a class smaller than k is **dropped** (not blanked: a blanked row
would be the one person an attacker cannot place in a big class, see README). Every step is
deterministic (ties go to the earlier column), so the same input gives the same output.

Generalisation steps, as declared in an agreement's ``generalise:`` (one list per column):

- ``{bands: {value: coarser value, ...}}``: values not listed are kept as they are;
- ``{keep_items: [CODE, ...]}``: a comma-separated list keeps only the listed items
  (``ATR,DRR,UPW`` -> ``DRR`` for ``[DRR]``; none of them -> the empty string);

and, after the declared steps, always: the column withheld (null in every row).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

K_FLOOR = 5  # the smallest k an agreement may ask for (issue 12: "at least 5")
DEFAULT_BUDGET = 0.05  # share of rows that may be dropped instead of generalising further
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

    bands = sorted(set(table.values()), key=str)
    return Step(f"bands {'/'.join(str(b) for b in bands)}", apply)


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


def ladder(rules: Sequence[dict[str, Any]] = ()) -> list[Step]:
    """The declared steps, then the column withheld."""
    return [*(step_from_rule(r) for r in rules), Step(WITHHELD, lambda v: None)]


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


def anonymise(
    rows: Sequence[tuple],
    columns: Sequence[str],
    quasi_identifiers: Sequence[str],
    k: int,
    ladders: dict[str, list[Step]] | None = None,
    budget: float = DEFAULT_BUDGET,
) -> Result:
    """``rows`` (tuples in ``columns`` order) made k-anonymous on ``quasi_identifiers``."""
    if k < 1:
        raise AnonymityError(f"k={k}: at least 1")
    ladders = ladders or {}
    qis = list(quasi_identifiers)
    qi_index = [list(columns).index(c) for c in qis]
    steps = {c: ladders.get(c) or ladder() for c in qis}
    # the current value of each quasi-identifier, column by column
    current = {c: [r[i] for r in rows] for c, i in zip(qis, qi_index, strict=True)}
    levels = {c: 0 for c in qis}
    n = len(rows)

    def classes(cur: dict[str, list[Any]]) -> list[tuple]:
        return list(zip(*(cur[c] for c in qis), strict=True)) if qis else [()] * n

    at_risk, deficit = _deficit(classes(current), k)
    while at_risk > budget * n:
        best = None
        for c in qis:  # the earlier column wins a tie: deterministic
            if levels[c] >= len(steps[c]):
                continue
            step = steps[c][levels[c]]
            values = [step.apply(v) for v in current[c]]
            _, new_deficit = _deficit(classes({**current, c: values}), k)
            gain = deficit - new_deficit
            if gain <= 0:
                continue
            loss = _entropy(current[c]) - _entropy(values)
            score = gain / max(loss, 1e-9)
            if best is None or score > best[0] + 1e-12:
                best = (score, c, values)
        if best is None:  # no single step merges a small class any more: suppress the rest
            break
        _, c, values = best
        current[c] = values
        levels[c] += 1
        at_risk, deficit = _deficit(classes(current), k)

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
