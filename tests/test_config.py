"""Settings: defaults, scrm.toml, environment, validation."""

from pathlib import Path

import pytest

from scrm_lib.config import HomeSource, find_home, load_settings
from scrm_lib.errors import ConfigError


def test_defaults_are_relative_to_home(tmp_path, monkeypatch):
    monkeypatch.delenv("SCRM_WAREHOUSE", raising=False)
    s = load_settings(tmp_path)
    assert s.warehouse == tmp_path / "data/warehouse/scrm.duckdb"
    assert s.raw_dir == tmp_path / "data/raw"
    assert s.engine == "duckdb"


def test_toml_then_environment(tmp_path, monkeypatch):
    (tmp_path / "scrm.toml").write_text(
        'warehouse = "wh/x.duckdb"\ntimezone = "Asia/Hong_Kong"\n[identity]\nhub_limit = 50\n',
        encoding="utf-8",
    )
    s = load_settings(tmp_path)
    assert s.warehouse == tmp_path / "wh/x.duckdb"
    assert s.timezone == "Asia/Hong_Kong"
    assert s.extra["identity"]["hub_limit"] == 50
    monkeypatch.setenv("SCRM_WAREHOUSE", "/tmp/elsewhere.duckdb")
    assert load_settings(tmp_path).warehouse == Path("/tmp/elsewhere.duckdb")


def test_home_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SCRM_HOME", str(tmp_path))
    assert load_settings().home == tmp_path


def test_bad_engine_and_bad_toml_name_the_problem(tmp_path, monkeypatch):
    monkeypatch.setenv("SCRM_ENGINE", "oracle")
    with pytest.raises(ConfigError, match="oracle"):
        load_settings(tmp_path)
    monkeypatch.delenv("SCRM_ENGINE")
    (tmp_path / "scrm.toml").write_text("warehouse = [", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"scrm\.toml"):
        load_settings(tmp_path)


def test_overrides_make_paths_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = load_settings(tmp_path).with_overrides(warehouse="a/b.duckdb", raw_dir=None)
    assert s.warehouse == tmp_path / "a/b.duckdb"
    assert s.raw_dir == tmp_path / "data/raw"


def test_home_found_from_a_subfolder(tmp_path, monkeypatch):
    monkeypatch.delenv("SCRM_HOME", raising=False)
    (tmp_path / "scrm.toml").write_text('timezone = "Asia/Hong_Kong"\n', encoding="utf-8")
    deep = tmp_path / "notebooks" / "drafts"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    s = load_settings()
    assert s.home == tmp_path
    assert s.warehouse == tmp_path / "data/warehouse/scrm.duckdb"
    assert s.timezone == "Asia/Hong_Kong"
    assert find_home().how == "scrm.toml"


def test_home_of_a_source_checkout_and_the_environment_first(tmp_path, monkeypatch):
    monkeypatch.delenv("SCRM_HOME", raising=False)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "scrm"\n', encoding="utf-8")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    assert find_home() == HomeSource(tmp_path, "checkout")
    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.setenv("SCRM_HOME", str(other))
    assert load_settings().home == other


def test_missing_warehouse_names_the_path_and_how_to_set_it(tmp_path, monkeypatch):
    from scrm_lib.engine import open_warehouse
    from scrm_lib.errors import WarehouseError

    monkeypatch.delenv("SCRM_HOME", raising=False)
    monkeypatch.delenv("SCRM_WAREHOUSE", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WarehouseError) as err:
        open_warehouse()
    message = str(err.value)
    assert str(tmp_path / "data/warehouse/scrm.duckdb") in message
    assert "SCRM_HOME" in message and "scrm.toml" in message
