"""The pack's tier shares (warehouse/report/sections_profile.py ``published_tiers``): the
caseload, its four tiers and the few with no tier recorded protected as one line."""

from __future__ import annotations

from warehouse.report.model import Context
from warehouse.report.sections_profile import TIER_SHARES, published_tiers
from warehouse.sharing.disclosure import Controls

PACK = Controls(threshold=10, rounding=5)


def _rows(caseload: int, tiers: list) -> list[dict]:
    return [
        {"indicator_code": code, "numerator": k, "denominator": caseload}
        for code, k in zip(TIER_SHARES, tiers, strict=False)
    ]


def _ctx() -> Context:  # the protection needs no database
    return Context(None, "E08000007", "Stockport", "2007-08", "2007/08", PACK, "test")


def test_a_tier_beside_a_small_rest_is_hidden_and_the_others_are_shares_of_the_caseload():
    # Stockport 2007/08: 2 of 1,587 have no tier
    got = published_tiers(_ctx(), _rows(1587, [255, 418, 554, 358]))
    assert got == {
        "tier_1_share": None,
        "tier_2_share": (420, 1585),
        "tier_3_share": (555, 1585),
        "tier_4_share": (360, 1585),
    }


def test_a_missing_tier_shows_no_tier_share_rather_than_each_alone():
    got = published_tiers(_ctx(), _rows(1587, [255, 418, 554]))
    assert got == dict.fromkeys(TIER_SHARES)
    got = published_tiers(_ctx(), _rows(1587, [255, 418, None, 358]))
    assert got == dict.fromkeys(TIER_SHARES)


def test_the_years_before_tiers_have_none_to_show():
    assert published_tiers(_ctx(), _rows(1587, [None] * 4)) == {}
