"""The default dataset, built once per test session (several modules read it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ingestion.feeds import ALL_FEEDS
from warehouse.access import READER, district_role
from warehouse.pipeline import assert_conservation, generate, ingest_feed
from warehouse.settings import Settings
from warehouse.transform import run_dbt

BI_PASSWORD = "bi-test-password"
SHARE_KEY = "test-only-share-key-0123456789abcdef-0123456789"


def bi_roles() -> list[str]:
    import csv

    from warehouse.access import LA_SEED

    with LA_SEED.open(newline="") as f:
        return [READER, *(district_role(r["la_name"]) for r in csv.DictReader(f))]


@pytest.fixture(scope="session")
def default_warehouse(pg_server, tmp_path_factory) -> Iterator[Settings]:
    """The default dataset (scale 1, default seed and dirt), ingested and built, with the
    BI logins (test passwords) and the DAT's pseudonymisation key in the environment."""
    password = "pipeline-test-password"
    pg_server.ensure_database("calibration", "pipeline", password)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(
            "WAREHOUSE_DSN",
            f"postgresql://pipeline:{password}@{pg_server.host}:{pg_server.port}/calibration",
        )
        mp.setenv("WAREHOUSE_HOME", str(tmp_path_factory.mktemp("calibration-home")))
        for role in bi_roles():
            mp.setenv(f"WAREHOUSE_BI_PASSWORD_{role.upper()}", BI_PASSWORD)
        mp.setenv("WAREHOUSE_SHARE_KEY_DAT_MANCHESTER", SHARE_KEY)
        settings = Settings()
        generate(settings)
        for feed in ALL_FEEDS:
            ingest_feed(settings, feed.name)
        assert_conservation(settings)
        run_dbt(settings, "build")
        yield settings
