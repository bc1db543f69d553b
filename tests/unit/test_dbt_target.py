"""Each warehouse but the default keeps dbt's target folder (and its partial parse) in its
own home: dbt parses everything again whenever the connection changes."""

from pathlib import Path

from warehouse.settings import Settings
from warehouse.transform import _target_path


def test_a_warehouse_in_another_home_gets_a_target_folder_there(tmp_path: Path):
    other = Settings(home=tmp_path / "home")
    assert _target_path(other, ("build",)) == [
        "--target-path",
        str(tmp_path / "home" / "dbt-target"),
    ]


def test_the_default_warehouse_and_an_explicit_target_path_are_left_alone(tmp_path: Path):
    default = Settings(home=Settings.model_fields["home"].default)
    assert _target_path(default, ("build",)) == []
    other = Settings(home=tmp_path / "home")
    assert _target_path(other, ("build", "--target-path", "t")) == []
