"""Financial years: the Python helper, its users and the dbt macro agree."""

from datetime import date, timedelta

import pytest

from ingestion import financial_year as fy
from ingestion.feeds import ALL_FEEDS
from warehouse.sharing.periods import ShareError, financial_year, period_holding


def test_a_financial_year_runs_from_april_to_march():
    assert fy.of_date(date(2008, 3, 31)) == "2007/08"
    assert fy.of_date(date(2008, 4, 1)) == "2008/09"
    assert fy.of_date(date(1999, 12, 31), sep="-") == "1999-00"
    day = date(2003, 1, 1)
    while day < date(2012, 1, 1):
        start = fy.start_year(day)
        assert date(start, 4, 1) <= day < date(start + 1, 4, 1), day
        day += timedelta(days=13)


def test_only_consecutive_years_parse():
    assert fy.parse("2008-09") == 2008
    assert fy.parse("1999-00") == 1999
    assert fy.parse("2008/09", sep="/") == 2008
    for text in ("2008-10", "2008-9", "08-09", "2008/09", "２００８-09"):
        assert fy.parse(text) is None, text


def test_the_share_command_and_the_share_dags_name_periods_as_the_helper_does():
    assert financial_year("2008-09") == "2008/09"
    assert period_holding(date(2009, 2, 1)) == "2008-09"
    with pytest.raises(ShareError, match="2008-10"):
        financial_year("2008-10")


def test_a_financial_year_feed_refuses_a_period_of_non_consecutive_years():
    feed = next(f for f in ALL_FEEDS if f.period_kind == "financial_year")
    assert "not a financial year" in (feed.period_problem("2007-09") or "")
    first = feed.coverage[0]
    assert feed.period_problem(fy.label(int(first[:4]), sep="-")) is None


def test_a_months_place_in_its_year_and_the_first_day():
    assert [fy.month_index(date(2008, m, 1)) for m in (4, 12, 1, 3)] == [0, 8, 9, 11]
    assert fy.first_day(2008) == date(2008, 4, 1)
