"""Partner record linkage against the truth the generator plants (and never loads)."""

from __future__ import annotations

import pytest

from ingestion.synthetic.generator import truth_path
from warehouse.analytics import linkage
from warehouse.db import connect
from warehouse.pipeline import generate_landing, ingest_feed
from warehouse.transform import run_dbt

pytestmark = pytest.mark.integration
FEEDS = ("ndelius_offenders", "dat_episodes", "sp_clients")
STAGING = (
    "stg_ndelius__offenders",
    "stg_dat__treatment_episodes",
    "stg_supporting_people__clients",
)


@pytest.fixture(scope="module")
def linked(fresh_warehouse, tmp_path_factory):
    """A small dataset (scale 0.1, the default dirt), its offenders and partner client
    records loaded, their staging views built and the linkage run once."""
    with pytest.MonkeyPatch.context() as mp:
        settings = fresh_warehouse("linkage", tmp_path_factory.mktemp("linkage"), mp)
        generate_landing(settings, scale=0.1, seed=7)
        for feed in FEEDS:
            ingest_feed(settings, feed)
        run_dbt(settings, "run", "--select", *STAGING)
        figures = linkage.run(settings)
        yield settings, figures


def test_links_reach_the_issue_precision_and_recall_against_the_planted_truth(linked):
    settings, figures = linked
    # GIVEN partner records with typos, nicknames, swapped dates, moved postcodes and
    # clients never on the caseload WHEN the unsupervised model links them at the
    # threshold it chose THEN precision and recall meet issue 16's targets
    with connect(settings) as conn:
        scores = linkage.scores_against_truth(conn, truth_path(settings.landing_dir))
    assert scores["true_links"] > 300
    assert scores["linkage_precision"] >= 0.97, scores
    assert scores["linkage_recall"] >= 0.95, scores
    assert 0 < figures["dat_threshold"] < 1 and 0 < figures["supporting_people_threshold"] < 1


def test_the_truth_stays_outside_the_landing_folder_and_out_of_the_warehouse(linked):
    settings, _ = linked
    assert truth_path(settings.landing_dir).exists()
    assert settings.landing_dir not in truth_path(settings.landing_dir).parents
    with connect(settings) as conn:
        tables = conn.execute(
            "select table_schema || '.' || table_name from information_schema.columns"
            " where column_name in ('partner_record_id', 'offender_id')"
            " and table_schema not in ('linkage', 'staging', 'raw')"
        ).fetchall()
    assert not tables, tables


def test_the_clerical_review_list_is_the_grey_zone_and_no_bi_role_can_read_it(linked):
    settings, _ = linked
    with connect(settings) as conn:
        zones = conn.execute(
            "select r.partner_source, min(r.match_probability), max(r.match_probability),"
            " m.review_lower_probability, m.review_upper_probability"
            " from linkage.clerical_review as r join linkage.model_runs as m using (partner_source)"
            " group by 1, 4, 5"
        ).fetchall()
        public = conn.execute(
            "select has_schema_privilege('public', 'linkage', 'usage')"
        ).fetchone()[0]
    assert zones
    for _, low, high, lower, upper in zones:
        assert lower <= low and high < upper
    assert public is False
