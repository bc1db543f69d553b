"""The attacker of disclosure control: unknown true counts, what publication says about
each, and their feasible ranges by integer linear programming (scipy ``milp``).

Used by ``tests/integration/test_disclosure_attack.py`` on real deliveries and by
``tests/unit/test_disclosure.py`` on random tables.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import lil_matrix

from warehouse.sharing.disclosure import Controls

BIG = 10**7  # no count here is larger: the attacker's "unbounded"


class Model:
    """Unknown true counts with what the publication says about them."""

    def __init__(self) -> None:
        self.index: dict[tuple, int] = {}
        self.lo: list[float] = []
        self.hi: list[float] = []
        self.rows: list[tuple[dict[int, int], float, float]] = []  # sum(coef * x) in [lo, hi]
        self.targets: dict[tuple, tuple[str, Controls]] = {}  # published count -> how

    def var(self, key: tuple) -> int:
        if key not in self.index:
            self.index[key] = len(self.lo)
            self.lo.append(0)
            self.hi.append(BIG)
        return self.index[key]

    def observe(self, key: tuple, text: str, c: Controls) -> None:
        """What a published cell says about its true count ('' = not applicable)."""
        if text == "":
            return
        i = self.var(key)
        if text == "*":
            lo, hi, kind = 1, BIG, "suppressed"
        else:
            r = int(Decimal(text))
            lo, hi = max(0, r - c.rounding // 2), r + c.rounding - 1 - c.rounding // 2
            if lo > 0:
                lo = max(lo, c.threshold)  # 1 .. threshold-1 would have been suppressed
            if r == 0:
                lo = hi = 0
            kind = "rounded"
        self.lo[i], self.hi[i] = max(self.lo[i], lo), min(self.hi[i], hi)
        if kind == "suppressed" or key not in self.targets:
            self.targets[key] = (kind, c)

    def unpublished(self, key: tuple, c: Controls) -> None:
        """A count no one is shown that the published ones still bound (the caseload with
        no tier: the caseload less its tiers): attacked like a suppressed one when small."""
        self.var(key)
        self.targets[key] = ("unpublished", c)

    def equal(self, total: tuple, parts: list[tuple]) -> None:
        coef: dict[int, int] = defaultdict(int)
        for p in parts:
            coef[self.var(p)] += 1
        coef[self.var(total)] -= 1
        self.rows.append((dict(coef), 0, 0))

    def at_most(self, part: tuple, whole: tuple) -> None:
        self.rows.append(({self.var(part): 1, self.var(whole): -1}, -BIG, 0))

    def components(self) -> list[list[int]]:
        parent = list(range(len(self.lo)))

        def find(a: int) -> int:
            while parent[a] != a:
                parent[a] = parent[parent[a]]
                a = parent[a]
            return a

        for coef, _, _ in self.rows:
            first, *rest = coef
            for other in rest:
                parent[find(other)] = find(first)
        groups: dict[int, list[int]] = defaultdict(list)
        for i in range(len(self.lo)):
            groups[find(i)].append(i)
        return list(groups.values())

    def ranges(self) -> dict[tuple, tuple[int, int]]:
        """The feasible range of every published count, by integer linear programming."""
        keys = {i: k for k, i in self.index.items()}
        out: dict[tuple, tuple[int, int]] = {}
        for comp in self.components():
            local = {v: j for j, v in enumerate(comp)}
            rows = [r for r in self.rows if next(iter(r[0])) in local]
            a = lil_matrix((max(len(rows), 1), len(comp)))
            for k, (coef, _, _) in enumerate(rows):
                for v, x in coef.items():
                    a[k, local[v]] = x
            cons = (
                [LinearConstraint(a.tocsr(), [r[1] for r in rows], [r[2] for r in rows])]
                if rows
                else []
            )
            bounds = Bounds([self.lo[v] for v in comp], [self.hi[v] for v in comp])
            for v in comp:
                if keys[v] not in self.targets:
                    continue
                ends = []
                for sign in (1, -1):
                    objective = np.zeros(len(comp))
                    objective[local[v]] = sign
                    res = milp(objective, constraints=cons, bounds=bounds, integrality=1)
                    assert res.status == 0, f"{keys[v]}: {res.message}"
                    ends.append(round(res.x[local[v]]))
                out[keys[v]] = (ends[0], ends[1])
        return out

    def exposed(self, truth: dict[tuple, int] | None = None) -> tuple[list, list]:
        """(narrowed, recovered): suppressed counts, and unpublished ones whose true value
        (``truth``) is small (1 .. threshold-1), whose range holds fewer values than the
        ``*`` allows (1 .. threshold-1), and rounded non-zero counts pinned to one value."""
        ranges = self.ranges()
        narrowed, recovered = [], []
        for key, (kind, c) in self.targets.items():
            lo, hi = ranges[key]
            if kind == "unpublished":
                assert truth is not None and key in truth, f"{key}: its true value is needed"
                if 0 < truth[key] < c.threshold and hi - lo + 1 < c.threshold - 1:
                    narrowed.append((key, lo, hi))
            if kind == "suppressed" and hi - lo + 1 < c.threshold - 1:
                narrowed.append((key, lo, hi))
            if kind == "rounded" and lo == hi and lo != 0:
                recovered.append((key, lo))
        return narrowed, recovered
