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


# --- the engine and where Spark runs ----------------------------------------------------------


def _toml(home: Path, text: str) -> Path:
    (home / "scrm.toml").write_text(text, encoding="utf-8")
    return home


@pytest.fixture
def no_engine_env(monkeypatch):
    for name in ("ENGINE", "SPARK_MASTER", "SPARK_EXECUTOR_MEMORY", "SPARK_WAREHOUSE_PATH"):
        monkeypatch.delenv(f"SCRM_{name}", raising=False)


def test_engine_defaults_run_spark_on_this_machine(tmp_path, no_engine_env):
    s = load_settings(tmp_path)
    assert (s.engine, s.spark_master, s.spark_executor_memory) == ("duckdb", "local[2]", None)
    assert s.spark_warehouse_path == str(tmp_path / "data/warehouse/spark")


def test_spark_is_an_alias_of_pyspark(tmp_path, no_engine_env, monkeypatch):
    assert load_settings(_toml(tmp_path, 'engine = "spark"\n')).engine == "pyspark"
    monkeypatch.setenv("SCRM_ENGINE", "spark")
    assert load_settings(tmp_path).engine == "pyspark"


def test_engine_table_sets_master_memory_and_warehouse_path(tmp_path, no_engine_env):
    home = _toml(
        tmp_path,
        '[engine]\nname = "spark"\nmaster = "spark://10.0.0.5:7077"\n'
        'executor_memory = "4G"\nwarehouse_path = "hdfs://nn:8020/scrm/warehouse"\n',
    )
    s = load_settings(home)
    assert s.engine == "pyspark"
    assert s.spark_master == "spark://10.0.0.5:7077"
    assert s.spark_executor_memory == "4g"
    assert s.spark_warehouse_path == "hdfs://nn:8020/scrm/warehouse"  # a URL stays as given
    # a folder is made absolute against the home; the table without a name keeps DuckDB
    s = load_settings(_toml(tmp_path, '[engine]\nwarehouse_path = "lake"\nmaster = "local[*]"\n'))
    assert (s.engine, s.spark_master) == ("duckdb", "local[*]")
    assert s.spark_warehouse_path == str(tmp_path / "lake")


def test_environment_names_the_master(tmp_path, no_engine_env, monkeypatch):
    _toml(tmp_path, '[engine]\nmaster = "local[1]"\n')
    monkeypatch.setenv("SCRM_SPARK_MASTER", "spark://127.0.0.1:7077")
    assert load_settings(tmp_path).spark_master == "spark://127.0.0.1:7077"


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('engine = "oracle"\n', "engine 'oracle' is not one of duckdb, pyspark, spark"),
        ('[engine]\nname = "hive"\n', "engine 'hive' is not one of"),
        ('[engine]\nmaster = "spark//10.0.0.5"\n', "master 'spark//10.0.0.5' is not a Spark"),
        ('[engine]\nmaster = "local[0]"\n', "master 'local[0]' is not a Spark master URL"),
        ("[engine]\nmaster = 7077\n", "master 7077 is not a Spark master URL"),
        ('[engine]\nexecutor_memory = "lots"\n', "executor_memory 'lots' is not a Spark memory"),
        ('[engine]\nexecutor_memory = "0g"\n', "executor_memory '0g'"),
        ('[engine]\nwarehouse_path = ""\n', "warehouse_path '' must be a folder or a URL"),
        ('[engine]\nwarehouse_path = "s3a:// x"\n', "warehouse_path 's3a:// x' is not a URL"),
        ('[engine]\nmemory = "4g"\n', "[engine] 'memory' is not a setting; known: name, master"),
    ],
)
def test_bad_engine_settings_are_one_line_errors(tmp_path, no_engine_env, toml, message):
    with pytest.raises(ConfigError) as exc:
        load_settings(_toml(tmp_path, toml))
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)
