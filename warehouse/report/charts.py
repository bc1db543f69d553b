"""The pack's charts: matplotlib figures written as inline SVG (vector, text kept as text).

Every data mark (bar, point, line) carries an SVG id ``<chart>-mark-<n>``, so a reader's
check can count a chart's data marks; a chart without any data is never drawn (the
caller gets ``None`` and says so in words). Each chart salts its SVG ids with its own
name: many SVGs inline in one page never share a clip-path or marker id.
"""

from __future__ import annotations

import io
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("svg")
import matplotlib.pyplot as plt  # noqa: E402

FONT = "DejaVu Sans"
COLOURS = {
    "better": "#2b8cbe",
    "lower": "#7fcdbb",
    "similar": "#fdb863",
    "higher": "#c994c7",
    "worse": "#d7301f",
    "not tested": "#bdbdbd",
    None: "#bdbdbd",
}
SERIES = ["#1f4e79", "#d95f02", "#7570b3", "#1b9e77", "#e7298a", "#66a61e"]
WIDTH_IN = 6.6  # fits an A4 page's text width (about 170 mm) at 100 %


@dataclass(frozen=True)
class Chart:
    name: str
    title: str
    svg: str
    marks: int
    alt: str


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[float | None]
    lower: Sequence[float | None] | None = None
    upper: Sequence[float | None] | None = None


def _figure(height: float):
    plt.rcParams.update(
        {
            "font.family": FONT,
            "font.size": 8,
            "svg.fonttype": "none",
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    )
    return plt.subplots(figsize=(WIDTH_IN, height), layout="constrained")


def _finish(fig, name: str, title: str, marks: int, alt: str) -> Chart:
    plt.rcParams["svg.hashsalt"] = name
    fig.suptitle(textwrap.fill(title, 95), x=0.01, ha="left", fontsize=9)
    handles, labels = fig.axes[0].get_legend_handles_labels()
    if labels:  # below the plot: never over the data
        fig.legend(
            handles,
            labels,
            loc="outside lower center",
            ncols=min(len(labels), 6),
            fontsize=7,
            frameon=False,
        )
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    text = buf.getvalue()
    svg = text[text.index("<svg") :]
    # ids unique across the page: matplotlib numbers its groups from 1 in every figure
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{name}-\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{name}-\1)", svg)
    svg = re.sub(r'href="#([^"]+)"', rf'href="#{name}-\1"', svg)
    return Chart(name, title, svg, marks, alt)


def _mark(artists, name: str, start: int) -> int:
    n = start
    for a in artists:
        a.set_gid(f"mark-{n}")
        n += 1
    return n


def _present(values: Sequence[float | None]) -> list[int]:
    return [i for i, v in enumerate(values) if v is not None]


def _errors(s: Series, idx: list[int]):
    if s.lower is None or s.upper is None:
        return None
    lo = [max(0.0, s.values[i] - s.lower[i]) if s.lower[i] is not None else 0.0 for i in idx]
    hi = [max(0.0, s.upper[i] - s.values[i]) if s.upper[i] is not None else 0.0 for i in idx]
    return [lo, hi]


def spine(name: str, title: str, rows: list[dict]) -> Chart | None:
    """Fingertips-style: each indicator's value as a ratio to Greater Manchester's (1 = the
    same), its 95 % interval, coloured by significance."""
    rows = [r for r in rows if r["value"] is not None and r["gm_value"]]
    if not rows:
        return None
    fig, ax = _figure(0.26 * len(rows) + 1.0)
    n = 0
    for y, r in enumerate(reversed(rows)):
        gm = float(r["gm_value"])
        lo, hi = float(r["lower_ci_95"]) / gm, float(r["upper_ci_95"]) / gm
        ax.plot([lo, hi], [y, y], color="#555555", linewidth=1)
        (pt,) = ax.plot(
            float(r["value"]) / gm,
            y,
            "o",
            color=COLOURS[r["significance_vs_gm"]],
            markersize=6,
            markeredgecolor="#333333",
        )
        n = _mark([pt], name, n)
    ax.axvline(1.0, color="#000000", linewidth=0.8)
    ax.set_yticks(range(len(rows)), [r["label"] for r in reversed(rows)])
    ax.set_xlabel("Ratio to Greater Manchester (1 = the same), 95 % interval")
    for label in ("better", "similar", "worse", "higher", "lower", "not tested"):
        ax.plot([], [], "o", color=COLOURS[label], label=label)
    return _finish(fig, name, title, n, f"{title}: {len(rows)} indicators")


def trend(name: str, title: str, periods: list[str], series: list[Series], unit: str):
    """Lines over the periods, each with its interval as a band when given."""
    if not periods or not any(_present(s.values) for s in series):
        return None
    fig, ax = _figure(2.4)
    n = 0
    for k, s in enumerate(series):
        idx = _present(s.values)
        xs, ys = list(idx), [float(s.values[i]) for i in idx]
        colour = SERIES[k % len(SERIES)]
        if s.lower is not None and s.upper is not None and idx:
            ax.fill_between(
                xs,
                [float(s.lower[i]) for i in idx],
                [float(s.upper[i]) for i in idx],
                color=colour,
                alpha=0.15,
                linewidth=0,
            )
        (line,) = ax.plot(xs, ys, "-o", color=colour, label=s.label, markersize=3)
        n = _mark([line], name, n)
    ax.set_xticks(
        range(len(periods)),
        periods,
        rotation=45 if len(periods) > 8 else 0,
        ha="right" if len(periods) > 8 else "center",
    )
    ax.set_xlabel("Period")
    ax.set_ylabel(unit)
    ax.set_ylim(bottom=0)
    return _finish(fig, name, title, n, f"{title}, {periods[0]} to {periods[-1]}")


def bars(
    name: str,
    title: str,
    labels: list[str],
    s: Series,
    unit: str,
    reference: Series | None = None,
    colours: list[str] | None = None,
) -> Chart | None:
    """Horizontal bars with intervals; ``reference`` (e.g. Greater Manchester) as ticks."""
    idx = _present(s.values)
    if not idx:
        return None
    fig, ax = _figure(0.24 * len(labels) + 1.0)
    ys = list(range(len(labels)))[::-1]
    drawn = ax.barh(
        [ys[i] for i in idx],
        [float(s.values[i]) for i in idx],
        xerr=_errors(s, idx),
        color=[(colours or [SERIES[0]] * len(labels))[i] for i in idx],
        error_kw={"elinewidth": 0.8, "ecolor": "#333333"},
        label=s.label,
    )
    n = _mark(drawn.patches, name, 0)
    if reference is not None:
        ridx = _present(reference.values)
        ax.plot(
            [float(reference.values[i]) for i in ridx],
            [ys[i] for i in ridx],
            "|",
            color="#000000",
            markersize=10,
            markeredgewidth=2,
            label=reference.label,
        )
    ax.set_yticks(ys, labels)
    ax.set_xlabel(unit)
    return _finish(fig, name, title, n, f"{title}: {len(idx)} of {len(labels)} shown")


def grouped(name: str, title: str, groups: list[str], series: list[Series], unit: str):
    """Vertical bars: one cluster per group, one bar per series (suppressed ones absent)."""
    if not any(_present(s.values) for s in series):
        return None
    fig, ax = _figure(2.6)
    width = 0.8 / max(1, len(series))
    n = 0
    for k, s in enumerate(series):
        idx = _present(s.values)
        xs = [i + (k - (len(series) - 1) / 2) * width for i in idx]
        drawn = ax.bar(
            xs,
            [float(s.values[i]) for i in idx],
            width=width * 0.95,
            yerr=_errors(s, idx),
            color=SERIES[k % len(SERIES)],
            label=s.label,
            error_kw={"elinewidth": 0.6, "ecolor": "#333333"},
        )
        n = _mark(drawn.patches, name, n)
    ax.set_xticks(
        range(len(groups)),
        groups,
        rotation=30 if len(groups) > 5 else 0,
        ha="right" if len(groups) > 5 else "center",
    )
    ax.set_ylabel(unit)
    return _finish(fig, name, title, n, f"{title} by {len(groups)} groups")


def stacked(name: str, title: str, periods: list[str], series: list[Series], unit: str):
    """Stacked vertical bars (e.g. the tier mix each year); a suppressed part is left out."""
    if not any(_present(s.values) for s in series):
        return None
    fig, ax = _figure(2.4)
    bottom = [0.0] * len(periods)
    n = 0
    for k, s in enumerate(series):
        values = [float(v) if v is not None else 0.0 for v in s.values]
        drawn = ax.bar(
            periods, values, bottom=bottom, color=SERIES[k % len(SERIES)], label=s.label, width=0.6
        )
        n = _mark([p for p, v in zip(drawn.patches, s.values, strict=True) if v], name, n)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_xlabel("Financial year")
    ax.set_ylabel(unit)
    return _finish(fig, name, title, n, f"{title}, {periods[0]} to {periods[-1]}")


def fan(name: str, title: str, periods: list[str], history: Series, forecast: Series, unit: str):
    """A forecast fan chart: the history as a line, then the forecast (``forecast.values``)
    inside its 80 % band (``forecast.lower``/``upper``) and its 95 % band (``history.lower``/
    ``upper`` carry the 95 % bounds, on the forecast's months). Values are aligned on
    ``periods``; a month a series does not cover is None."""
    hidx, fidx = _present(history.values), _present(forecast.values)
    if not hidx or not fidx:
        return None
    fig, ax = _figure(2.4)
    bands = ((history.lower, history.upper, 0.15, "95 % interval"),)
    bands += ((forecast.lower, forecast.upper, 0.3, "80 % interval"),)
    for lower, upper, alpha, label in bands:
        if lower is not None and upper is not None:
            ax.fill_between(
                fidx,
                [float(lower[i]) for i in fidx],
                [float(upper[i]) for i in fidx],
                color=SERIES[1],
                alpha=alpha,
                linewidth=0,
                label=label,
            )
    (past,) = ax.plot(hidx, [float(history.values[i]) for i in hidx], "-", color=SERIES[0])
    past.set_label(history.label)
    (ahead,) = ax.plot(fidx, [float(forecast.values[i]) for i in fidx], "-o", color=SERIES[1])
    ahead.set_label(forecast.label)
    ahead.set_markersize(2.5)
    n = _mark([past, ahead], name, 0)
    step = max(1, len(periods) // 12)
    ticks = list(range(0, len(periods), step))
    ax.set_xticks(ticks, [periods[i] for i in ticks], rotation=45, ha="right")
    ax.set_ylabel(unit)
    ax.set_ylim(bottom=0)
    return _finish(fig, name, title, n, f"{title}, {periods[0]} to {periods[-1]}")
