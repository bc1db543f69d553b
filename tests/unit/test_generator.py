"""The generator is deterministic for a seed and writes every feed in its delivered format."""

import hashlib

from ingestion.feeds import ALL_FEEDS
from ingestion.synthetic.generator import generate


def _digests(folder):
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.suffix in (".csv", ".xlsx")
    }


def test_the_same_seed_gives_byte_identical_files_workbooks_too_and_another_seed_does_not(
    tmp_path,
):
    a = _digests(generate(tmp_path / "a", scale=0.01, seed=42, dirt=0.02).out_dir)
    b = _digests(generate(tmp_path / "b", scale=0.01, seed=42, dirt=0.02).out_dir)
    c = _digests(generate(tmp_path / "c", scale=0.01, seed=43, dirt=0.02).out_dir)
    assert a == b
    assert any(name.endswith(".xlsx") for name in a)
    assert a != c


def test_every_feed_gets_files_that_its_declaration_recognises(tmp_path):
    report = generate(tmp_path, scale=0.01, seed=1, dirt=0)
    names = list(report.files)
    for feed in ALL_FEEDS:
        mine = [n for n in names if feed.matches(n)]
        assert mine, f"no files for {feed.name}"
    ledgers = sorted(p.name for p in (tmp_path / "finance").glob("*.xlsx"))
    assert ledgers == [
        "finance_ledger_2006-07.xlsx",
        "finance_ledger_2007-08.xlsx",
        "finance_ledger_2008-09.xlsx",
    ]
    # partner records carry no probation identifier
    for system in ("dat", "supporting_people"):
        for path in (tmp_path / system).glob("*.csv"):
            assert "CRN" not in path.read_text().splitlines()[0].split(",")


def test_dirt_limited_to_lossless_faults_never_loses_a_value():
    import numpy as np

    from ingestion.feeds import get_feed
    from ingestion.synthetic.dirt import LOSSLESS, ROW_FAULTS, Dirt

    feed = get_feed("gmac_crime")
    rows = [["00BNGA", "2008-01", "BURG", "12"] for _ in range(400)]
    everything, lossless = Dirt(np.random.default_rng(3), 0.5), Dirt(np.random.default_rng(3), 0.5)
    everything.rows(feed, [list(r) for r in rows])
    lossless.rows(feed, [list(r) for r in rows], LOSSLESS)
    # GIVEN the same rows and seed WHEN only lossless faults are allowed THEN no row loses data
    assert everything.counts["unknown_code"] + everything.counts["missing_key"] > 0
    assert sum(lossless.counts[k] for k in LOSSLESS) > 150
    assert all(lossless.counts[k] == 0 for k in ROW_FAULTS if k not in LOSSLESS)


def test_partner_records_carry_noise_and_their_true_offenders_are_written_beside_not_in_landing(
    tmp_path,
):
    import csv

    from ingestion.synthetic.generator import truth_path

    landing = tmp_path / "landing"
    generate(landing, scale=0.05, seed=3, dirt=0)
    truth = truth_path(landing)
    # GIVEN a generation WHEN the true links are read THEN they sit outside the landing folder
    assert truth.exists() and landing not in truth.parents

    def rows(pattern):
        return [r for p in sorted(landing.glob(pattern)) for r in csv.DictReader(p.open())]

    offenders = {r["OFFENDER_ID"]: r for r in rows("ndelius/ndelius_offenders_*.csv")}
    sp = {r["CLIENT_RECORD_ID"]: r for r in rows("supporting_people/sp_clients_*.csv")}
    links = [r for r in csv.DictReader(truth.open()) if r["partner_source"] == "supporting_people"]
    assert len(links) > 100
    same = {"DATE_OF_BIRTH": 0, "SURNAME": 0, "POSTCODE": 0}
    for link in links:
        client, offender = sp[link["partner_record_id"]], offenders[link["offender_id"]]
        for column in same:
            same[column] += client[column] == offender[column]
    # THEN most identifiers agree with the offender's, and some do not (typos, moves...)
    for column, n in same.items():
        assert 0.85 * len(links) < n < len(links), (column, n, len(links))
