from warehouse.settings import Settings


def test_dsn_points_every_tool_at_the_external_warehouse():
    s = Settings(dsn="postgresql://bob:s%40cret@db.example:6543/wh")
    info = s.conninfo()
    assert (info.host, info.port, info.user, info.password, info.dbname) == (
        "db.example",
        6543,
        "bob",
        "s@cret",
        "wh",
    )
    env = s.tool_env()
    assert env["WAREHOUSE_PGHOST"] == "db.example"
    assert env["AIRFLOW_CONN_WAREHOUSE"] == "postgresql://bob:s%40cret@db.example:6543/wh"


def test_keyword_dsn_is_accepted_too():
    info = Settings(dsn="host=10.0.0.5 port=5433 user=u password=p dbname=d").conninfo()
    assert (info.host, info.port, info.dbname) == ("10.0.0.5", 5433, "d")


def test_dsn_without_host_is_refused():
    import pytest

    with pytest.raises(ValueError, match="host"):
        Settings(dsn="postgresql:///wh?user=x").conninfo()


def test_local_password_is_generated_once_and_private(tmp_path, monkeypatch):
    # GIVEN no external warehouse (an integration fixture earlier in the session may have
    # pointed WAREHOUSE_DSN at its test database)
    monkeypatch.delenv("WAREHOUSE_DSN", raising=False)
    s = Settings(home=tmp_path)
    first = s.local_password(create=True)
    assert len(first) >= 24
    assert Settings(home=tmp_path).local_password() == first
    assert oct((tmp_path / "secrets" / "warehouse_password").stat().st_mode & 0o777) == "0o600"
    assert Settings(home=tmp_path).conninfo().password == first


def test_the_dbt_graph_is_cached_in_the_home_unless_a_shared_folder_is_set(monkeypatch, tmp_path):
    monkeypatch.delenv("WAREHOUSE_DBT_GRAPH_CACHE", raising=False)
    monkeypatch.setenv("WAREHOUSE_HOME", str(tmp_path / "home"))
    assert Settings().graph_cache_dir == tmp_path / "home" / "dbt"
    monkeypatch.setenv("WAREHOUSE_DBT_GRAPH_CACHE", str(tmp_path / "shared"))
    assert Settings().graph_cache_dir == tmp_path / "shared"
