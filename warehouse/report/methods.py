"""The methods and data-dictionary page: sources, periods, suppression rules, definitions,
the code version and the data load times (audit tables)."""

from __future__ import annotations

from ingestion.feeds import ALL_FEEDS
from warehouse.report.model import GM_NAME, Context, Section, Table, unit_label
from warehouse.settings import code_version

DEFINITIONS = [
    (
        "Caseload",
        "Offenders under probation supervision at any time in the financial year "
        "(fct_caseload_monthly); tier = the last tier held in the year.",
    ),
    (
        "Need",
        "An OASys section scoring at or above its need threshold at the latest "
        "assessment in the year (fct_assessment_needs).",
    ),
    (
        "Sentence-plan gap",
        "An objective for an identified need with no intervention "
        "planned (fct_sentence_plan_objectives).",
    ),
    (
        "Proven reoffending",
        "An offence committed within a year of the index date and proven "
        "within a further six months; only cohorts whose follow-up is complete are shown; "
        "OGRS3-predicted = the cohort's mean one-year OGRS3 probability.",
    ),
    (
        "95 % interval",
        "Wilson score interval for shares, Byar's method for rates per 1,000 "
        "(PHE Fingertips technical guide).",
    ),
    (
        "Significance",
        f"The district's interval wholly above or below the {GM_NAME} value: "
        "better/worse where the direction matters, else higher/lower; counts under 10 are "
        "not tested.",
    ),
    ("Ward decile", f"The ward's rank among all {GM_NAME} wards, in tenths (1 = highest need)."),
]


def _loads(ctx: Context) -> list[list[str]]:
    """Files loaded per feed and the periods they cover, up to the end of the pack's year
    (a pack shows nothing after its year; when each file was loaded is the trust's
    operational detail, not the partnership's). A period is compared by its first month:
    ``2002-03`` is March 2002 for a monthly feed, 2002/03 (from April) for a ledger."""
    last = f"{int(ctx.fy[:4]) + 1}-03"
    kinds = {f.name: f.period_kind for f in ALL_FEEDS}
    loads = ctx.conn.execute(
        "select feed, period, count(*) from audit.file_loads where status = 'loaded'"
        " and period is not null group by 1, 2 order by 1, 2"
    ).fetchall()
    shown: dict[str, list] = {}
    for feed, period, n in loads:
        first = f"{period[:4]}-04" if kinds.get(feed) == "financial_year" else period
        if first <= last:
            seen = shown.setdefault(feed, [0, period, period])
            seen[0] += n
            seen[2] = period
    return [[f, str(n), f"{lo} to {hi}"] for f, (n, lo, hi) in shown.items()]


def methods_section(ctx: Context) -> Section:
    s = Section("methods", "Methods and data dictionary")
    c = ctx.controls
    (built,) = ctx.conn.execute("select max(built_at) from marts.fct_caseload_monthly").fetchone()
    s.sentences = [
        f"Built from the warehouse marts only ({', '.join(sorted(ctx.used_marts))}), "
        f"for {ctx.la_name} ({ctx.la_code}), financial year {ctx.fy}; trends cover every "
        "complete financial year the marts hold.",
        f"Disclosure control ({ctx.controls_source}): counts from 1 to {c.threshold - 1} are "
        f"shown as *, other counts are rounded to the nearest {c.rounding}; counts that add up "
        "(the caseload, its tiers and the few with no tier recorded) are protected together "
        "(secondary suppression); a share or rate whose count "
        f"is from 1 to {c.threshold - 1} is not shown, nor its interval.",
        f"Code version {code_version()}; marts built {built:%Y-%m-%d %H:%M UTC}."
        if built
        else f"Code version {code_version()}.",
    ]
    s.tables.append(
        Table(
            "Sources",
            ["Feed", "System", "Description"],
            [[f.name, f.system, f.description] for f in ALL_FEEDS],
        )
    )
    s.tables.append(
        Table(
            f"Data loads to {ctx.fy} (audit.file_loads)",
            ["Feed", "Files loaded", "Periods"],
            _loads(ctx),
        )
    )
    indicator_rows = ctx.conn.execute(
        "select distinct indicator_order, indicator_name, unit, polarity "
        "from marts.jsna_indicators order by 1"
    ).fetchall()
    s.tables.append(
        Table(
            "Indicators",
            ["Indicator", "Unit", "Polarity"],
            [[n, unit_label(u), p.replace("_", " ")] for _, n, u, p in indicator_rows],
        )
    )
    s.tables.append(Table("Definitions", ["Term", "Definition"], [list(d) for d in DEFINITIONS]))
    return s
