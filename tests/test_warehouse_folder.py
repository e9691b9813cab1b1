"""The Parquet warehouse folder without Spark: publishing a version, the pointer, readers,
cleaning up, and the one-line errors a broken folder gives.

The versions here are written by :func:`scrm_lib.warehouse.publish.write_version` from a
small DuckDB database (the way a Spark build writes its marts and build log), so these
tests pin the folder's mechanics in milliseconds; tests/test_build.py builds on Spark.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import ibis
import pandas as pd
import pytest

from scrm_lib.config import load_settings
from scrm_lib.engine import (
    Runner,
    duckdb_connect,
    is_published,
    list_tables,
    open_warehouse,
    read_only_duckdb,
    using,
    version_info,
)
from scrm_lib.engine.folder import MANIFEST, current_version, version_path
from scrm_lib.errors import ConfigError, WarehouseError
from scrm_lib.warehouse import publish
from scrm_lib.warehouse.build import build, status

V1, V2, V3 = "20260101T000000-aaaaaa", "20260102T000000-bbbbbb", "20260103T000000-cccccc"


def orders(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": [str(i) for i in range(n)],
            "paid_at": pd.to_datetime([dt.datetime(2024, 1, 1 + i) for i in range(n)], utc=True),
            "amount": [10.5 + i for i in range(n)],
        }
    )


def publish_version(folder: Path, version_id: str, n_orders: int, previous: str | None) -> None:
    """A version with ``orders`` (n rows, decimal amounts, UTC times) and an empty ``rejects``."""
    con = duckdb_connect()
    try:
        runner = Runner(con, label="test")
        con.create_table(
            "orders", ibis.memtable(orders(n_orders)).cast({"amount": "decimal(18, 2)"})
        )
        con.create_table("rejects", schema={"file": "string", "line": "int64"})
        version = version_path(folder, version_id)
        version.mkdir(parents=True)
        manifest = publish.write_version(
            runner,
            version,
            written={},
            info={"version": version_id, "previous": previous, "engine": "pyspark",
                  "master": "local[2]", "runs": {"canonical": "spark local[2]"}},
        )  # fmt: skip
    finally:
        con.disconnect()
    publish.publish_version(folder, manifest)


def test_readers_open_the_current_version_as_views(tmp_path: Path) -> None:
    folder = tmp_path / "lake"
    publish_version(folder, V1, 3, None)
    assert (folder / "CURRENT").read_text() == V1 + "\n"
    assert is_published(folder)

    con = open_warehouse(folder)
    try:
        assert list_tables(con) == ["orders", "rejects"]
        df = con.table("orders").order_by("order_id").execute()
        assert df["order_id"].tolist() == ["0", "1", "2"]
        schema = con.table("orders").schema()
        assert str(schema["amount"]) == "decimal(18, 2)" and schema["paid_at"].timezone == "UTC"
        # a table without rows is an empty table of the same columns
        assert con.table("rejects").columns == ("file", "line")
        assert con.table("rejects").count().execute() == 0
        assert version_info(con)["version"] == V1
    finally:
        con.disconnect()
    with read_only_duckdb(folder) as raw:
        assert raw.execute("SELECT count(*) FROM orders").fetchone() == (3,)
    with using(str(folder)) as c:
        assert c.table("orders").count().execute() == 3
    with pytest.raises(WarehouseError, match="written by builds only"):
        open_warehouse(folder, read_only=False)


def test_a_reader_keeps_its_version_while_a_build_publishes(tmp_path: Path) -> None:
    folder = tmp_path / "lake"
    publish_version(folder, V1, 3, None)
    held = open_warehouse(folder)
    try:
        publish_version(folder, V2, 5, V1)
        publish.remove_old_versions(folder, V2)
        assert held.table("orders").count().execute() == 3  # resolved once, at open
        with using(folder) as fresh:
            assert fresh.table("orders").count().execute() == 5
    finally:
        held.disconnect()


def test_caches_keyed_by_the_published_version_see_each_new_build(tmp_path: Path) -> None:
    """The dashboard's caches are keyed by what a reader would open: the version CURRENT
    names (a folder), the file's modification time (a DuckDB file)."""
    import os

    from scrm_lib.engine import published_version

    folder = tmp_path / "lake"
    assert published_version(folder) == ""
    publish_version(folder, V1, 3, None)
    first = published_version(folder)
    publish_version(folder, V2, 5, V1)
    assert first == f"version {V1}" and published_version(folder) == f"version {V2}"

    file = tmp_path / "scrm.duckdb"
    assert published_version(file) == ""
    file.write_bytes(b"")
    os.utime(file, ns=(1, 1_000))
    before = published_version(file)
    os.utime(file, ns=(1, 2_000))
    assert before != published_version(file) != ""


def test_cleanup_keeps_the_current_and_previous_versions_only(tmp_path: Path) -> None:
    folder = tmp_path / "lake"
    publish_version(folder, V1, 1, None)
    publish_version(folder, V2, 2, V1)
    publish_version(folder, V3, 3, V2)
    # what killed builds leave: a version without manifest, a half-written pointer
    dead = version_path(folder, "20260104T000000-dddddd")
    (dead / "orders").mkdir(parents=True)
    (dead / "orders" / "part-0.parquet").write_bytes(b"half")
    (folder / "CURRENT.tmp-999").write_text("20260104T000000-dddddd")

    assert publish.prepare_folder(folder) == V3
    assert sorted(p.name for p in (folder / "versions").iterdir()) == [V2, V3]
    assert sorted(p.name for p in folder.iterdir()) == ["CURRENT", "versions"]
    assert current_version(folder).manifest["previous"] == V2


def _one_line(exc: pytest.ExceptionInfo, *parts: str) -> None:
    message = str(exc.value)
    assert "\n" not in message, message
    for part in parts:
        assert part in message, message


def test_a_pointer_to_a_missing_version_is_one_line_naming_the_folder(tmp_path: Path) -> None:
    from tests.test_build import _scrm

    folder = tmp_path / "lake"
    publish_version(folder, V1, 1, None)
    (folder / "CURRENT").write_text(V2 + "\n")
    for read in (
        lambda: open_warehouse(folder),
        lambda: read_only_duckdb(folder).__enter__(),
        lambda: status(folder),
    ):
        with pytest.raises(WarehouseError) as exc:
            read()
        _one_line(exc, str(folder), f"CURRENT names version {V2}", "is missing")

    res = _scrm(tmp_path, "status", "--warehouse", str(folder))
    assert isinstance(res.exception, WarehouseError) and res.exit_code != 0
    assert str(folder) in str(res.exception) and "\n" not in str(res.exception)


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda f: None, "no build has been published there (no CURRENT)"),
        (lambda f: (f / "CURRENT").write_text("../../etc\n"), "does not name a version"),
        (lambda f: (f / "versions" / V1 / MANIFEST).unlink(), "is incomplete (no _manifest.json"),
        (lambda f: (f / "versions" / V1 / MANIFEST).write_text("{"), "not a readable manifest"),
    ],
    ids=["no-pointer", "bad-pointer", "no-manifest", "bad-manifest"],
)
def test_a_broken_folder_is_one_line(tmp_path: Path, make, expected: str) -> None:
    folder = tmp_path / "lake"
    if expected.startswith("no build"):
        folder.mkdir()
    else:
        publish_version(folder, V1, 1, None)
    make(folder)
    with pytest.raises(WarehouseError) as exc:
        open_warehouse(folder)
    _one_line(exc, str(folder), expected)


# --- where a build publishes -----------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ENGINE", "SPARK_MASTER", "SPARK_WAREHOUSE_PATH", "WAREHOUSE"):
        monkeypatch.delenv(f"SCRM_{name}", raising=False)


def test_readers_follow_the_engine_to_its_warehouse(tmp_path, clean_env, monkeypatch) -> None:
    assert load_settings(tmp_path).warehouse == tmp_path / "data/warehouse/scrm.duckdb"
    monkeypatch.setenv("SCRM_ENGINE", "spark")
    assert load_settings(tmp_path).warehouse == tmp_path / "data/warehouse/spark"
    monkeypatch.setenv("SCRM_SPARK_WAREHOUSE_PATH", f"file://{tmp_path}/lake")
    assert load_settings(tmp_path).warehouse == tmp_path / "lake"
    monkeypatch.setenv("SCRM_WAREHOUSE", str(tmp_path / "mine"))  # set explicitly: it wins
    assert load_settings(tmp_path).warehouse == tmp_path / "mine"


@pytest.mark.parametrize(
    ("engine", "where", "expected"),
    [
        ("pyspark", "hdfs://nn:8020/scrm", "publishing to hdfs:// is not supported yet"),
        ("pyspark", "wh.duckdb", "a Spark build publishes a warehouse folder, not a DuckDB file"),
        ("duckdb", "folder", "is a warehouse folder (the Spark engine's)"),
    ],
)
def test_a_build_refuses_a_target_it_cannot_publish(
    tmp_path: Path, engine: str, where: str, expected: str
) -> None:
    """Refused before anything is read or started: one line, naming the target."""
    (tmp_path / "folder").mkdir()
    target = where if "://" in where else tmp_path / where
    with pytest.raises(ConfigError) as exc:
        build(raw_dir=tmp_path / "no-raw", warehouse=target, engine=engine)  # type: ignore[arg-type]
    _one_line(exc, expected, str(where))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder"]
