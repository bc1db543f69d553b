"""What a section gets (``Context``: one district, one year, the marts, disclosure control)
and what it gives back (``Section``: sentences, charts, tables)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from psycopg import sql

from warehouse import intervals
from warehouse.report.charts import Chart
from warehouse.sharing.disclosure import SUPPRESSED, Controls, protect_lines

GM_CODE = "E11000001"
GM_NAME = "Greater Manchester"
HIDDEN = "*"
NOT_AVAILABLE = "not yet available in this warehouse"


class ReportError(RuntimeError):
    pass


@dataclass
class Table:
    caption: str
    headers: list[str]
    rows: list[list[str]]
    counts: tuple[int, ...] = ()  # the columns holding counts (marked for the reader's check)


@dataclass
class Section:
    key: str
    title: str
    sentences: list[str] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, chart: Chart | None, missing: str) -> None:
        """A chart, or (when it would have no data) a sentence saying why there is none."""
        if chart is None:
            self.notes.append(missing)
        else:
            self.charts.append(chart)


@dataclass
class Context:
    """One pack: a district, a financial year, a connection reading the marts only."""

    conn: Any
    la_code: str
    la_name: str
    period: str  # 2008-09
    fy: str  # 2008/09
    controls: Controls
    controls_source: str
    used_marts: set[str] = field(default_factory=set)

    @property
    def last_complete_cohort(self) -> str:
        """The latest cohort whose outcome is known by the end of the pack's year: proven
        reoffending needs a year of follow-up and six months for convictions, so a cohort
        two financial years back (2006/07 for a 2008/09 pack, as the extracts)."""
        start = int(self.fy[:4]) - 2
        return f"{start}/{(start + 1) % 100:02d}"

    def rows(self, mart: str, query: str, params: list | None = None) -> list[dict]:
        """``query`` with ``{mart}`` naming ``marts.<mart>``: rows as dicts."""
        self.used_marts.add(mart)
        text = sql.SQL(query).format(mart=sql.Identifier("marts", mart))
        cur = self.conn.execute(text, params or [])
        names = [d.name for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def exists(self, mart: str) -> bool:
        row = self.conn.execute("select to_regclass(%s)", [f"marts.{mart}"]).fetchone()
        return row is not None and row[0] is not None

    # -- disclosure control (the sharing layer's rules) --------------------------------------
    def count(self, n: int | None) -> int | None:
        """One count as published: 1..threshold-1 hidden (None), others rounded."""
        if n is None:
            return None
        (v,) = protect_lines([int(n)], [], self.controls)
        return None if v is SUPPRESSED else v

    def counts(
        self,
        values: list[int],
        lines: list[tuple[int, list[int]]],
        unpublished: list[int] | None = None,
    ) -> list[int | None]:
        """Counts that add up (``lines``: total index, part indices) under primary and
        secondary suppression and rounding; ``unpublished``: those never shown (``None``)
        that a reader could still work out from the others (protect_lines)."""
        safe = protect_lines([int(v or 0) for v in values], lines, self.controls, unpublished or [])
        return [None if v is SUPPRESSED else v for v in safe]

    # -- figures computed from published counts only ---------------------------------------
    # A rate, share or interval computed from exact counts gives the counts back (a share to
    # 0.1 % with its rounded denominator, or a bar's height, pins most numerator/denominator
    # pairs), and with them every small cell that differencing reaches. So each one shown is
    # computed from the counts as published: what it adds to the pack is arithmetic on
    # figures the pack already shows.
    def part(self, part: int | None, whole: int | None) -> tuple[int, int] | None:
        """``part`` of ``whole`` as published: (part, whole) after protecting the whole with
        the part and the rest together (a small rest would give the part away), or ``None``
        when any of the three is hidden or the whole is 0."""
        if part is None or whole is None:
            return None
        k, n = int(part), int(whole)
        safe = self.counts([n, k, n - k], [(0, [1, 2])])
        if None in safe or not safe[0]:
            return None
        return int(safe[1]), int(safe[0])  # type: ignore[arg-type]

    def share(self, part: int | None, whole: int | None) -> float | None:
        """``part / whole`` (a fraction) from the published counts, or ``None`` (hidden)."""
        published = self.part(part, whole)
        return None if published is None else published[0] / published[1]

    def parts_of(self, whole: int, parts: list[int]) -> list[int | None]:
        """``[whole, *parts]`` as published when the parts and the rest of the whole they
        leave (never shown: e.g. the caseload with no tier recorded) are protected as one
        line: a reader holding the whole and every part would otherwise work the rest out."""
        rest = int(whole) - sum(int(p) for p in parts)
        rest_at = len(parts) + 1
        safe = self.counts([whole, *parts, rest], [(0, list(range(1, rest_at + 1)))], [rest_at])
        return safe[:rest_at]

    @staticmethod
    def proportion(published: tuple[int, int] | None) -> tuple[float, float, float] | None:
        """A share and its 95 % (Wilson) interval from a published (part, whole)."""
        if published is None:
            return None
        k, n = published
        return (k / n, *intervals.wilson(k, n))

    def estimate(
        self, numerator: int | None, denominator: int | None, unit: str
    ) -> tuple[float, float, float] | None:
        """An indicator's value and 95 % interval from its published count: a proportion
        (Wilson) of a published denominator, or a rate per 1,000 of a population (ONS
        estimates, public: used as they are; Byar). ``None`` when hidden."""
        if numerator is None or not denominator:
            return None
        if unit == "proportion":
            return self.proportion(self.part(numerator, denominator))
        k = self.count(numerator)
        if k is None:
            return None
        per = 1000.0 / float(denominator)
        lo, hi = intervals.byar(k)
        return (k * per, lo * per, hi * per)


def fmt_count(v: int | None) -> str:
    return HIDDEN if v is None else f"{v:,}"


def fmt_value(v: Any, unit: str) -> str:
    if v is None:
        return HIDDEN
    x = float(v)
    if unit == "proportion":
        return f"{100 * x:.1f} %"
    if unit == "gbp":
        return f"£{x:,.2f}"
    return f"{x:,.1f}"


def unit_label(unit: str) -> str:
    return {"proportion": "% of the group", "per_1000": "per 1,000 population"}.get(unit, unit)


def as_float(v: Any) -> float | None:
    return None if v is None else float(v) if isinstance(v, (Decimal, int, float)) else None


def compare_interval(lower: float, upper: float, benchmark: float, polarity: str) -> str:
    """The district's interval against a benchmark value (the marts' ``compare_interval``)."""
    if lower > benchmark:
        return {"higher_is_worse": "worse", "higher_is_better": "better"}.get(polarity, "higher")
    if upper < benchmark:
        return {"higher_is_worse": "better", "higher_is_better": "worse"}.get(polarity, "lower")
    return "similar"


def significance_sentence(r: dict, value_unit: str | None = None) -> str | None:
    """One sentence for an indicator significantly different from Greater Manchester."""
    flag = r.get("significance_vs_gm")
    if flag not in {"better", "worse", "higher", "lower"}:
        return None
    unit = value_unit or r["unit"]
    direction = "higher" if float(r["value"]) > float(r["gm_value"]) else "lower"
    verdict = "" if flag in {"higher", "lower"} else f" ({flag})"
    return (
        f"{r['label']}: {fmt_value(r['value'], unit)} (95 % CI {fmt_value(r['lower_ci_95'], unit)}"
        f" to {fmt_value(r['upper_ci_95'], unit)}) is significantly {direction}{verdict} than "
        f"{GM_NAME} ({fmt_value(r['gm_value'], unit)})."
    )


def sentences_for(rows: list[dict], topic: str) -> list[str]:
    out = [s for r in rows if (s := significance_sentence(r))]
    if not out:
        return [f"No {topic} indicator differs significantly from {GM_NAME} (95 % level)."]
    return out
