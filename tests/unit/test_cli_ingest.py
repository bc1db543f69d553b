"""`warehouse ingest` runs every feed even when one fails, then exits 1 naming the paths."""

from typer.testing import CliRunner

from ingestion.feeds import ALL_FEEDS
from ingestion.registry import FileLoadResult
from ingestion.runner import IngestionError
from warehouse import cli, pipeline


def test_a_failing_feed_stops_no_other_and_the_command_fails_naming_its_path(monkeypatch):
    called = []

    def ingest_feed(settings, name, period=None):
        called.append(name)
        ok = FileLoadResult(1, f"{name}_2007-01.csv", name, "2007-01", "loaded", 3, 3, 0)
        if name == "ndelius_events":
            raise IngestionError("1 of 2", ["ndelius/ndelius_events_2007-02.csv: OSError"], [ok])
        return [ok]

    monkeypatch.setattr(pipeline, "ingest_feed", ingest_feed)
    monkeypatch.setattr(pipeline, "ingest_strays", lambda settings: [])
    # one feed at a time: the worker processes of the default would not see the stand-ins
    result = CliRunner().invoke(cli.app, ["ingest", "--workers", "1"])
    assert called == [f.name for f in ALL_FEEDS]
    assert result.exit_code == 1
    assert "ndelius_events_2007-02.csv: OSError" in result.output
    assert "ndelius_events: 1 file(s), 3 loaded" in result.output
