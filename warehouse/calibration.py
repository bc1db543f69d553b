"""The calibration figures of ``../shared/calibration.md``, measured out of the marts.

Every figure is read from ``marts.*`` (never from the generator or the landing files), so
it checks the whole path: generator -> files -> validated ingestion -> dbt. Used by the
calibration test and by ``warehouse calibrate`` (prints the same table for the local
warehouse). Counts scale with the dataset's scale; shares do not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import psycopg

FYS = ("2006/07", "2007/08", "2008/09")
COUNT_TOLERANCE = 0.02  # +-2 %
SHARE_TOLERANCE = 1.5  # +-1.5 percentage points

CASELOAD_BY_TIER = {  # tier -> per financial year
    "1": (2_077, 2_756, 2_559),
    "2": (3_958, 4_391, 3_731),
    "3": (7_061, 6_198, 6_447),
    "4": (4_155, 3_990, 3_726),
    "missing": (67, 33, 37),
    "total": (17_318, 17_368, 16_500),
}
NEED_SHARES = {"THINKING": 59.5, "ETE": 54.7, "ALCOHOL": 46.3}
PLAN_GAPS = {"RELAT": 30, "THINKING": 30, "ETE": 28, "EMOTIONAL": 23, "LIFESTYLE": 20}
TOP_DECILE_WARDS = (
    "Harpurhey",
    "Miles Platting and Newton Heath",  # "& Newton Heath" in the strategy
    "Bradford",
    "Halliwell",
    "Tonge with the Haulgh",
    "Farnworth",
    "Woodhouse Park",
    "Baguley",
)


@dataclass(frozen=True)
class Figure:
    name: str
    target: str
    actual: str
    ok: bool


class _Checks:
    def __init__(self, conn: psycopg.Connection, scale: float) -> None:
        self.conn = conn
        self.scale = scale
        self.figures: list[Figure] = []

    def one(self, query: str, *params: object) -> object:
        row = self.conn.execute(query, params).fetchone()
        return None if row is None else row[0]

    def count(self, name: str, target: float, actual: object, tolerance: float = COUNT_TOLERANCE):
        want = target * self.scale
        got = float(actual or 0)
        ok = abs(got - want) <= tolerance * want
        self.figures.append(Figure(name, f"{want:,.0f} (+-{tolerance:.0%})", f"{got:,.0f}", ok))

    def share(self, name: str, target: float, actual: object, tolerance: float = SHARE_TOLERANCE):
        got = None if actual is None else 100 * float(actual)
        ok = got is not None and abs(got - target) <= tolerance
        shown = "none" if got is None else f"{got:.1f} %"
        self.figures.append(Figure(name, f"{target:.1f} % (+-{tolerance} pp)", shown, ok))

    def claim(self, name: str, target: str, actual: str, ok: bool) -> None:
        self.figures.append(Figure(name, target, actual, ok))


def measure(conn: psycopg.Connection, scale: float = 1.0) -> list[Figure]:
    """Every calibration figure, target vs actual, from the marts of ``conn``."""
    c = _Checks(conn, scale)
    for step in STEPS:
        step(c)
    return c.figures


# -- caseload and commencements -----------------------------------------------------------
def _caseload(c: _Checks) -> None:
    rows = c.conn.execute(
        """
        with years as (
            select distinct on (offender_id, financial_year)
                offender_id, financial_year, tier
            from marts.fct_caseload_monthly
            where financial_year = any(%s)
            order by offender_id, financial_year, month_start_date desc
        )
        select financial_year,
            case when tier = 0 then 'missing' else tier::text end, count(*)
        from years group by 1, 2
        """,
        [list(FYS)],
    ).fetchall()
    got = {(fy, tier): n for fy, tier, n in rows}
    for tier, targets in CASELOAD_BY_TIER.items():
        for fy, target in zip(FYS, targets, strict=True):
            if tier == "total":
                actual = sum(n for (y, _), n in got.items() if y == fy)
            else:
                actual = got.get((fy, tier), 0)
            c.count(f"caseload {fy} tier {tier}", target, actual)


def _commencements(c: _Checks) -> None:
    targets = {"2006/07": (13_333, 71.5, 2_119, 11.4), "2007/08": (12_349, 67.0, 2_890, 15.7)}
    for fy, (community, community_pct, licence, licence_pct) in targets.items():
        total, com, lic = c.conn.execute(
            """select count(*), count(*) filter (where sentence_group = 'community'),
                count(*) filter (where sentence_group = 'licence')
            from marts.fct_commencements where financial_year = %s""",
            [fy],
        ).fetchone()
        c.count(f"community commencements {fy}", community, com)
        c.share(
            f"community commencements {fy} share", community_pct, com / total if total else None
        )
        c.count(f"licence commencements {fy}", licence, lic)
        c.share(f"licence commencements {fy} share", licence_pct, lic / total if total else None)


def _requirements(c: _Checks) -> None:
    quarters = {
        "2008-01-01": ("Jan-Mar 2008", 752, 1_749),
        "2008-10-01": ("Oct-Dec 2008", 656, 1_513),
    }
    for quarter, (label, prog, upw) in quarters.items():
        for code, target in (("PROG", prog), ("UPW", upw)):
            actual = c.one(
                """select count(distinct disposal_id) from marts.fct_requirements
                where sentence_start_quarter = %s and requirement_type_code = %s
                    and sentence_group = 'community'""",
                quarter,
                code,
            )
            c.count(f"sentences with {code} {label}", target, actual)
    for group, target in (("community", 18_713), ("licence", 3_988)):
        actual = c.one(
            """select count(*) from marts.fct_requirements
            where financial_year = '2008/09' and sentence_group = %s""",
            group,
        )
        c.count(f"requirements 2008/09 on {group} sentences", target, actual, 0.03)


def _court_reports(c: _Checks) -> None:
    def reports(first: str, last: str) -> int:
        return int(
            c.one(
                "select count(*) from marts.fct_court_reports where completed_date between %s and %s",
                first,
                last,
            )
            or 0
        )

    y1, y2 = reports("2006-04-01", "2007-03-31"), reports("2007-04-01", "2008-03-31")
    q07, q08 = reports("2007-04-01", "2007-12-31"), reports("2008-04-01", "2008-12-31")
    c.share("court reports change 06/07 -> 07/08", -10.3, (y2 - y1) / y1 if y1 else None, 1.0)
    c.share(
        "court reports change Q1-Q3 07/08 -> 08/09", -1.5, (q08 - q07) / q07 if q07 else None, 1.0
    )


# -- need -----------------------------------------------------------------------------------
_LATEST_NEEDS = """
    with latest as (
        select distinct on (offender_id) offender_id, assessment_id
        from marts.fct_assessment_needs
        where financial_year = '2008/09' and offender_id <> -1
        order by offender_id, assessment_date desc, assessment_id desc
    )
    select needs.* from marts.fct_assessment_needs as needs
    join latest using (offender_id, assessment_id)
"""


def _need_shares(c: _Checks) -> None:
    """Need shares overall, the commonest need per district, and by gender."""
    for area, target in NEED_SHARES.items():
        actual = c.one(
            f"select avg(is_need::int) from ({_LATEST_NEEDS}) n where need_area_code = %s", area
        )
        c.share(f"need {area} (latest assessment 2008/09)", target, actual)
    top = c.conn.execute(
        f"""select la_code, (array_agg(need_area_code order by share desc))[1]
        from (select la_code, need_area_code, avg(is_need::int) as share
              from ({_LATEST_NEEDS}) n where la_code <> 'UNKNOWN' group by 1, 2) s
        group by la_code"""
    ).fetchall()
    not_top = sorted(la for la, area in top if area != "THINKING")
    c.claim(
        "thinking & behaviour the most common need in every district",
        "all 10 districts",
        f"{len(top) - len(not_top)} of {len(top)}",
        bool(top) and not not_top,
    )
    for area, women, men in (("EMOTIONAL", 62, 37), ("RELAT", 60, 30)):
        for gender, target in (("F", women), ("M", men)):
            actual = c.one(
                f"""select avg(is_need::int) from ({_LATEST_NEEDS}) n
                where need_area_code = %s and gender_code = %s""",
                area,
                gender,
            )
            c.share(f"need {area} {'women' if gender == 'F' else 'men'}", target, actual)


def _need_gradients(c: _Checks) -> None:
    """How needs vary with age band, ethnicity and tier."""
    by_age = c.conn.execute(
        f"""select need_area_code = 'EMOTIONAL', age_band, avg(is_need::int)
        from ({_LATEST_NEEDS}) n where age_band <> 'Unknown' and need_area_code <> 'FINANCE'
        group by 1, 2 order by 1, 2"""
    ).fetchall()
    others = [float(v) for emotional, _, v in by_age if not emotional]
    emotional = [float(v) for is_emotional, _, v in by_age if is_emotional]
    c.claim(
        "needs fall with age band (youngest vs oldest)",
        "youngest > oldest",
        f"{others[0]:.1%} -> {others[-1]:.1%}" if others else "none",
        len(others) > 1 and others[0] > others[-1],
    )
    c.claim(
        "emotional wellbeing rises with age band",
        "youngest < oldest",
        f"{emotional[0]:.1%} -> {emotional[-1]:.1%}" if emotional else "none",
        len(emotional) > 1 and emotional[0] < emotional[-1],
    )
    wb, other = c.conn.execute(
        f"""select avg(is_need::int) filter (where is_white_british),
            avg(is_need::int) filter (where not is_white_british)
        from ({_LATEST_NEEDS}) n where need_area_code = 'ALCOHOL'"""
    ).fetchone()
    gap = 100 * (float(wb or 0) - float(other or 0))
    c.claim("alcohol need gap, white British vs others", ">= 5 pp", f"{gap:.1f} pp", gap >= 5)
    severe = dict(
        ((area, tier), float(v))
        for area, tier, v in c.conn.execute(
            f"""select need_area_code, tier_at_assessment, avg(is_severe_need::int)
            from ({_LATEST_NEEDS}) n
            where need_area_code in ('THINKING', 'ALCOHOL', 'LIFESTYLE')
            group by 1, 2"""
        ).fetchall()
    )
    for area in ("THINKING", "ALCOHOL"):
        t1, t4 = severe.get((area, 1), 0.0), severe.get((area, 4), 0.0)
        c.claim(
            f"severe {area} share tier 4 > tier 1",
            "tier 4 > tier 1",
            f"{t1:.1%} -> {t4:.1%}",
            t4 > t1,
        )
    needs = dict(
        (tier, float(v))
        for tier, v in c.conn.execute(
            f"""select tier_at_assessment, avg(is_need::int) from ({_LATEST_NEEDS}) n
            where need_area_code = 'LIFESTYLE' group by 1"""
        ).fetchall()
    )
    step3, step4 = needs.get(3, 0) - needs.get(2, 0), needs.get(4, 0) - needs.get(3, 0)
    c.claim(
        "lifestyle need accelerates in tier 4",
        "rise 3->4 > rise 2->3",
        f"{step3:+.1%} then {step4:+.1%}",
        step4 > step3,
    )


def _plan_gaps(c: _Checks) -> None:
    for area, target in PLAN_GAPS.items():
        actual = c.one(
            """select avg((not is_intervention_planned)::int)
            from marts.fct_sentence_plan_objectives
            where is_need_identified and need_area_code = %s""",
            area,
        )
        c.share(f"sentence plan gap {area}", target, actual)


def _need_change(c: _Checks) -> None:
    # a "need score" that can fall: the first assessment scored the section above 0
    overall = c.one(
        "select avg(is_score_fallen::int) from marts.fct_need_change where first_score > 0"
    )
    ete = c.one(
        """select avg(is_score_fallen::int) from marts.fct_need_change
        where first_score > 0 and need_area_code = 'ETE'"""
    )
    c.share("need scores that fall, all needs", 40, overall)
    c.share("need scores that fall, ETE", 26, ete)


# -- geography, crime, finance --------------------------------------------------------------
def _geography(c: _Checks) -> None:
    rows = dict(
        c.conn.execute(
            """select ward_name, need_decile from marts.jsna_ward_need
            where financial_year = '2008/09'"""
        ).fetchall()
    )
    for ward in TOP_DECILE_WARDS:
        decile = rows.get(ward)
        c.claim(f"ward {ward} in the top decile of need", "decile 1", str(decile), decile == 1)
    population, wb = c.conn.execute(
        """select sum(population_2007), sum(population_2007 * white_british_share)
        / sum(population_2007) from marts.dim_district where la_code <> 'UNKNOWN'"""
    ).fetchone()
    c.count("population", 2_550_000 / c.scale, population)
    c.share("white British share", 84.9, wb)
    for name, target in (("Manchester", 30), ("Wigan", 4.1)):
        actual = c.one(
            "select ethnic_minority_share from marts.dim_district where la_name = %s", name
        )
        c.share(f"ethnic minorities, {name}", target, actual)


def _crime(c: _Checks) -> None:
    by_year = dict(
        c.conn.execute(
            """select calendar_year, sum(recorded_crimes) from marts.fct_recorded_crime
            group by 1"""
        ).fetchall()
    )
    c.count("recorded crime 2008", 297_966, by_year.get(2008))
    c.count("recorded crime 2007", 332_555, by_year.get(2007))
    population = float(c.one("select sum(population_2007) from marts.dim_district") or 0)
    per_1000 = 1000 * float(by_year.get(2008) or 0) / population if population else 0
    c.count("recorded crime 2008 per 1,000 population", 117, per_1000)
    top = [
        code
        for (code,) in c.conn.execute(
            """select crime_category_code from marts.fct_recorded_crime
            where calendar_year = 2008 group by 1 order by sum(recorded_crimes) desc limit 4"""
        ).fetchall()
    ]
    want = ["BURG", "WOUND", "THEFT", "CDAM"]
    c.claim("most common crime categories 2008", ", ".join(want), ", ".join(top), top == want)
    changes = c.conn.execute(
        """select la.la_name,
            sum(recorded_crimes) filter (where financial_year = '2007/08')
            - sum(recorded_crimes) filter (where financial_year = '2006/07')
        from marts.fct_recorded_crime join marts.dim_district la using (la_code)
        group by 1"""
    ).fetchall()
    rising = sorted(name for name, change in changes if change >= 0)
    wigan = dict(changes).get("Wigan")
    c.claim(
        "LAs with more crime in 07/08 than 06/07",
        "Wigan only",
        ", ".join(rising),
        rising == ["Wigan"],
    )
    c.count("Wigan crime rise 06/07 -> 07/08", 414, wigan)


def _finance(c: _Checks) -> None:
    main, total, contracted = c.conn.execute(
        """select sum(budget_gbp) filter (where s.is_main_intervention),
            sum(budget_gbp), sum(budget_gbp) filter (where costs.service_code = 'CONT')
        from marts.fct_service_costs costs join marts.dim_service s using (service_code)
        where financial_year = '2008/09'"""
    ).fetchone()
    c.count("main intervention services budget 2008/09 (GBP)", 10_930_247 / c.scale, main)
    c.share("main interventions share of total budget", 21, main / total if total else None, 1.5)
    c.share(
        "contracted services share of total budget", 2.2, contracted / total if total else None, 0.5
    )
    men, women = c.conn.execute(
        """select count(*) filter (where gender_code = 'M'), count(*) filter (where gender_code = 'F')
        from marts.dim_approved_premises where premises_code <> 'UNKNOWN'"""
    ).fetchone()
    c.claim("approved premises (men, women)", "6, 1", f"{men}, {women}", (men, women) == (6, 1))
    occupancy = c.one(
        """select sum(units) / nullif(sum(beds_available), 0) from marts.fct_unit_costs
        where service_code = 'AP' and unit_measure = 'BED_NIGHTS' and financial_year = '2008/09'"""
    )
    c.share("approved premises occupancy 2008/09", 92, occupancy)


# -- reoffending (complete cohorts 2005/06 to 2007/08) ----------------------------------------
REOFFENDING_COHORTS = ("2005/06", "2006/07", "2007/08")


def _auc(scores: list[float], outcomes: list[bool]) -> float | None:
    """Area under the ROC curve: the chance a reoffender has the higher score (ties half),
    by ranks (Mann-Whitney U)."""
    from scipy.stats import rankdata

    pos = sum(outcomes)
    neg = len(outcomes) - pos
    if not pos or not neg:
        return None
    ranks = rankdata(scores)
    rank_sum = sum(r for r, y in zip(ranks, outcomes, strict=True) if y)
    return float((rank_sum - pos * (pos + 1) / 2) / (pos * neg))


def _range(c: _Checks, name: str, lo: float, hi: float, got: float | None, fmt: str) -> None:
    shown = "none" if got is None else fmt.format(got)
    target = f"{fmt.format(lo)} to {fmt.format(hi)}"
    c.claim(name, target, shown, got is not None and lo <= got <= hi)


def _reoffending(c: _Checks) -> None:
    for year in REOFFENDING_COHORTS:
        rows = c.conn.execute(
            """select ogrs3_1yr_probability::float, is_reoffender, la_code, tier, gender_code,
                ogrs3_band, reoffence_count
            from marts.fct_reoffending_cohort
            where cohort_year = %s and is_follow_up_complete
                and ogrs3_1yr_probability is not null""",
            [year],
        ).fetchall()
        if not rows:
            c.claim(f"reoffending {year}: complete cohort", "present", "none", False)
            continue
        scores = [r[0] for r in rows]
        outcomes = [bool(r[1]) for r in rows]
        rate = sum(outcomes) / len(rows)
        ratio = rate / (sum(scores) / len(rows))
        _range(c, f"reoffending {year}: binary rate", 0.30, 0.45, rate, "{:.1%}")
        _range(c, f"reoffending {year}: OGRS3 AUC", 0.75, 0.82, _auc(scores, outcomes), "{:.3f}")
        _range(c, f"reoffending {year}: actual / predicted", 0.85, 1.15, ratio, "{:.2f}")

        def rate_by(key: int, rows=rows) -> dict:
            groups: dict = {}
            for r in rows:
                groups.setdefault(r[key], []).append(r)
            return {
                k: (sum(bool(x[1]) for x in g) / len(g), sum(x[0] for x in g) / len(g))
                for k, g in groups.items()
            }

        districts = {k: a / p for k, (a, p) in rate_by(2).items() if k != "UNKNOWN"}
        inside = all(0.70 <= v <= 1.30 for v in districts.values())
        sides = {v > 1 for v in districts.values()}
        c.claim(
            f"reoffending {year}: actual / predicted by district",
            "0.70 to 1.30, both sides of 1",
            f"{min(districts.values()):.2f} to {max(districts.values()):.2f}",
            inside and len(sides) == 2,
        )
        bands = rate_by(5)
        order = [b for b in ("low", "medium", "high", "very high") if b in bands]
        band_rates = [bands[b][0] for b in order]
        c.claim(
            f"reoffending {year}: rate by OGRS3 band",
            "strictly rising",
            ", ".join(f"{r:.0%}" for r in band_rates),
            len(order) == 4
            and all(a < b for a, b in zip(band_rates, band_rates[1:], strict=False)),
        )
        tiers = rate_by(3)
        t = {k: tiers.get(k, (None,))[0] for k in (1, 3, 4)}
        c.claim(
            f"reoffending {year}: rate by tier",
            "tier 4 > tier 3 > tier 1",
            ", ".join(f"{k}: {'none' if v is None else f'{v:.0%}'}" for k, v in t.items()),
            None not in t.values() and t[4] > t[3] > t[1],
        )
        reoffenders = [r[6] for r in rows if r[1]]
        frequency = sum(reoffenders) / len(reoffenders) if reoffenders else None
        _range(c, f"reoffending {year}: reoffences per reoffender", 2.0, 3.5, frequency, "{:.2f}")
        genders = rate_by(4)
        gap = genders["M"][0] - genders["F"][0] if "M" in genders and "F" in genders else None
        _range(c, f"reoffending {year}: women below men by", 0.03, 0.10, gap, "{:.1%}")


STEPS: tuple[Callable[[_Checks], None], ...] = (
    _caseload,
    _commencements,
    _requirements,
    _court_reports,
    _need_shares,
    _need_gradients,
    _plan_gaps,
    _need_change,
    _geography,
    _crime,
    _finance,
    _reoffending,
)
