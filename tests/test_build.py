"""Build and publish: counts reconcile, rebuilds are idempotent, publishing is atomic.

Ingest is replaced by a hand-made parser (``fake_parse``) that reads a tiny
CSV of orders, so these tests pin the warehouse layer and nothing else.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from scrm_lib.engine import duckdb_connect, list_tables, open_warehouse
from scrm_lib.errors import InputFileError, ScrmError, WarehouseError
from scrm_lib.ingest import ParsedFile
from scrm_lib.schema import TABLES, conform
from scrm_lib.warehouse.build import build, list_raw_files, status
from tests.conftest import CLUSTER_WITH_SLOW, LOCAL_WITH_SLOW

ROOT = Path(__file__).resolve().parents[1]
HEADER = "order_id,buyer,paid_at,amount,status\n"


def fake_parse(path: Path, *, preset: str | None = None, settings: Any = None) -> ParsedFile:
    """Read ``order_id,buyer,paid_at,amount,status``; a row without amount is rejected."""
    text = path.read_text(encoding="utf-8")
    if text.startswith("BROKEN"):
        raise InputFileError(path, "no preset matches the header row")
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    bad = df["amount"] == ""
    rejects = pd.DataFrame(
        {
            "line": (df.index[bad] + 2).astype("int64"),
            "column": "amount",
            "reason": "missing amount",
            "raw_value": "",
        }
    )
    good = df[~bad].copy()
    good["platform"] = "tmall"
    good["line_id"] = ""
    good["account_id"] = "tmall:" + good["buyer"]
    good["source_file"] = path.name
    good["paid_at"] = pd.to_datetime(good["paid_at"], utc=True)
    good["amount"] = pd.to_numeric(good["amount"])
    accounts = pd.DataFrame(
        {"account_id": good["account_id"], "display_name": good["buyer"], "source_file": path.name}
    )
    identifiers = pd.DataFrame(
        {
            "account_id": good["account_id"],
            "kind": "nickname",
            "value": good["buyer"],
            "source_file": path.name,
        }
    )
    return ParsedFile(
        path=path,
        format=preset or "test_orders",
        platform="tmall",
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        rows_in=len(df),
        tables={
            "orders": conform(good, "orders"),
            "accounts": conform(accounts, "accounts"),
            "identifiers": conform(identifiers, "identifiers"),
        },
        rejects=conform(rejects, "rejects"),
    )


def write(path: Path, rows: list[str], *, mtime: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    os.utime(path, (mtime, mtime))
    return path


FIRST = [
    "1,张三,2024-01-01T10:00:00+08:00,10.50,paid",
    "2,李四,2024-01-02T00:00:00Z,,paid",  # rejected: no amount
    "3,王五,2024-01-03T00:00:00Z,0.10,paid",
]
# an overlapping re-export: order 1 refunded since, order 4 new
REEXPORT = [
    "1,张三,2024-01-01T10:00:00+08:00,10.50,refunded",
    "4,张三,2024-01-05T00:00:00Z,99.99,paid",
]


@pytest.fixture(autouse=True)
def no_mart_steps(monkeypatch):
    """Build mechanics only: the identity and mart steps have tests of their own."""
    monkeypatch.setattr("scrm_lib.warehouse.steps.STEPS", [])


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    d = tmp_path / "raw"
    write(d / "shop" / "a.csv", FIRST, mtime=1_700_000_000)
    write(d / "shop" / "b.csv", REEXPORT, mtime=1_700_000_100)
    (d / "README.md").write_text("notes, not data")
    (d / ".hidden.csv").write_text(HEADER)
    (d / ".cache").mkdir()
    (d / ".cache" / "x.csv").write_text(HEADER)
    return d


def canonical_contents(path: Path) -> dict[str, pd.DataFrame]:
    con = open_warehouse(path)
    try:
        out = {}
        for name in [*TABLES, "rejects"]:
            df = con.table(name).execute()
            out[name] = df.sort_values(list(df.columns)).reset_index(drop=True)
        return out
    finally:
        con.disconnect()


def test_list_raw_files_skips_hidden_and_notes_in_mtime_order(raw: Path) -> None:
    files = [p.relative_to(raw).as_posix() for p in list_raw_files(raw)]
    assert files == ["shop/a.csv", "shop/b.csv"]
    os.utime(raw / "shop" / "a.csv", (1_800_000_000, 1_800_000_000))
    files = [p.relative_to(raw).as_posix() for p in list_raw_files(raw)]
    assert files == ["shop/b.csv", "shop/a.csv"]


def test_build_counts_reconcile_and_status(raw: Path, tmp_path: Path) -> None:
    wh = tmp_path / "wh" / "scrm.duckdb"
    messages: list[str] = []
    result = build(raw_dir=raw, warehouse=wh, parse=fake_parse, progress=messages.append)

    assert result.files == 2
    assert (result.rows_in, result.accepted, result.rejected) == (5, 4, 1)
    # a.csv's order 1 lost to the re-export
    assert result.duplicates == 1
    assert result.tables["orders"] == 3
    assert result.tables["accounts"] == 2  # 张三, 王五 (李四 was rejected)
    assert messages[0] == "parse 1/2: shop/a.csv"
    json.dumps(result.to_dict())
    assert not list(wh.parent.glob("*.building-*"))

    con = open_warehouse(wh)
    try:
        orders = con.table("orders").execute().set_index("order_id")
        assert orders.loc["1", "status"] == "refunded"
        assert orders.loc["1", "source_file"] == "b.csv"
        inputs = con.table("build_inputs").execute().set_index("file")
        assert (inputs["rows_in"] == inputs["accepted"] + inputs["rejected"]).all()
        assert inputs.loc[
            "shop/a.csv", ["rows_in", "accepted", "rejected", "duplicates"]
        ].tolist() == [
            3,
            2,
            1,
            1,
        ]
        assert inputs.loc["shop/b.csv", "duplicates"] == 0
        by_table = json.loads(inputs.loc["shop/a.csv", "duplicates_by_table"])
        assert by_table == {"accounts": 1, "identifiers": 1, "orders": 1}
        assert set(inputs["build_id"]) == {result.build_id}
        assert len(inputs.loc["shop/a.csv", "sha256"]) == 64
        rejects = con.table("rejects").execute()
        assert rejects[["file", "line", "reason"]].values.tolist() == [
            ["shop/a.csv", 3, "missing amount"]
        ]
        # money is decimal, time is UTC
        schema = con.table("orders").schema()
        assert str(schema["amount"]) == "decimal(18, 2)"
        assert schema["paid_at"].timezone == "UTC"
        assert orders.loc["1", "paid_at"] == pd.Timestamp("2024-01-01 02:00", tz="UTC")
        # staging lives in a separate file that is thrown away
        assert not any(t.startswith("stage") for t in list_tables(con))
    finally:
        con.disconnect()

    s = status(wh)
    assert s["last_build"]["build_id"] == result.build_id
    assert s["last_build"]["engine"] == "duckdb"
    assert s["last_build"]["timings"]["total"] > 0
    assert s["builds"] == 1
    assert s["tables"]["orders"] == 3
    assert s["tables"]["rejects"] == 1
    assert s["rejects"] == {"missing amount": 1}
    assert [i["file"] for i in s["inputs"]] == ["shop/a.csv", "shop/b.csv"]
    assert s["inputs"][0]["rows_in"] == s["inputs"][0]["accepted"] + s["inputs"][0]["rejected"]
    json.dumps(s)


def test_rebuild_is_idempotent_and_keeps_history(raw: Path, tmp_path: Path) -> None:
    wh = tmp_path / "scrm.duckdb"
    first = build(raw_dir=raw, warehouse=wh, parse=fake_parse)
    before = canonical_contents(wh)
    second = build(raw_dir=raw, warehouse=wh, parse=fake_parse)
    after = canonical_contents(wh)
    assert first.build_id != second.build_id
    for name in before:
        pd.testing.assert_frame_equal(before[name], after[name], obj=name)

    con = open_warehouse(wh)
    try:
        builds = con.table("builds").order_by("started_at").execute()
        assert builds["build_id"].tolist() == [first.build_id, second.build_id]
        assert (builds["status"] == "ok").all()
        assert json.loads(builds["timings"].iloc[1])["transform"] > 0
        inputs = con.table("build_inputs").execute()
        assert inputs.groupby("build_id").size().to_dict() == {
            first.build_id: 2,
            second.build_id: 2,
        }
    finally:
        con.disconnect()
    assert status(wh)["builds"] == 2


def test_same_file_twice_adds_nothing(raw: Path, tmp_path: Path) -> None:
    once = build(raw_dir=raw, warehouse=tmp_path / "once.duckdb", parse=fake_parse)
    copy = raw / "copy" / "b.csv"
    copy.parent.mkdir()
    copy.write_bytes((raw / "shop" / "b.csv").read_bytes())
    os.utime(copy, (1_700_000_200, 1_700_000_200))
    twice = build(raw_dir=raw, warehouse=tmp_path / "twice.duckdb", parse=fake_parse)
    assert twice.tables == once.tables
    assert twice.duplicates == once.duplicates + 2  # every row of the older b.csv


def test_empty_raw_dir(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "README.md").write_text("only notes")
    with pytest.raises(ScrmError, match=r"^no input files in .*raw$"):
        build(raw_dir=raw, warehouse=tmp_path / "scrm.duckdb", parse=fake_parse)
    assert not (tmp_path / "scrm.duckdb").exists()


def test_unreadable_file_is_refused_and_the_rest_is_published(raw: Path, tmp_path: Path) -> None:
    wh = tmp_path / "scrm.duckdb"
    good = build(raw_dir=raw, warehouse=wh, parse=fake_parse)
    bad = raw / "shop" / "c.csv"
    bad.write_text("BROKEN header\n")
    again = build(raw_dir=raw, warehouse=wh, parse=fake_parse)
    assert again.build_id != good.build_id and again.files == 2
    assert [(r["file"], r["reason"]) for r in again.refused] == [
        ("shop/c.csv", "no preset matches the header row")
    ]
    s = status(wh)
    assert s["last_build"]["build_id"] == again.build_id
    assert [r["file"] for r in s["refused"]] == ["shop/c.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw", "scrm.duckdb"]


def test_status_without_warehouse(tmp_path: Path) -> None:
    missing = tmp_path / "nope.duckdb"
    with pytest.raises(WarehouseError, match=r"no warehouse at .*nope\.duckdb;.* run `scrm build`"):
        status(missing)
    with pytest.raises(WarehouseError, match="no warehouse at"):
        open_warehouse(missing)


def test_preset_folder_is_passed_to_parse(raw: Path, tmp_path: Path, monkeypatch) -> None:
    import scrm_lib.ingest as ingest

    monkeypatch.setattr(ingest, "list_presets", lambda: ["tmall_orders"], raising=False)
    write(raw / "tmall_orders" / "c.csv", ["9,赵六,2024-02-01T00:00:00Z,5.00,paid"], mtime=1e9)
    seen: dict[str, str | None] = {}

    def parse(path: Path, *, preset: str | None = None, settings: Any = None) -> ParsedFile:
        seen[path.name] = preset
        return fake_parse(path, preset=preset, settings=settings)

    build(raw_dir=raw, warehouse=tmp_path / "scrm.duckdb", parse=parse)
    assert seen == {"a.csv": None, "b.csv": None, "c.csv": "tmall_orders"}


def test_concurrent_build_is_refused(raw: Path, tmp_path: Path) -> None:
    import fcntl

    wh = tmp_path / "scrm.duckdb"
    with open(tmp_path / "scrm.duckdb.lock", "a+") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        with pytest.raises(ScrmError, match=r"another build of .* is running"):
            build(raw_dir=raw, warehouse=wh, parse=fake_parse)


def test_query_errors_name_the_step_and_table(tmp_path: Path) -> None:
    from scrm_lib.engine import Runner, duckdb_connect

    runner = Runner(duckdb_connect(), label="demo")
    with pytest.raises(WarehouseError, match=r"^demo: load: orders: .*no_such_table"):
        runner.sql("SELECT * FROM no_such_table", step="load", table="orders")
    assert "load" in runner.timings


# --- atomic publish, across processes -------------------------------------------------------

READER = """
import json, sys, time
from pathlib import Path
from scrm_lib.engine import open_warehouse
path, stop = sys.argv[1], Path(sys.argv[2])
deadline = time.time() + 120
while not stop.exists() and time.time() < deadline:
    try:
        con = open_warehouse(path)
    except Exception as exc:
        print(json.dumps({"error": repr(exc)}), flush=True)
        continue
    try:
        builds = con.table("builds")
        last = builds.order_by(builds.finished_at.desc()).limit(1).execute()["build_id"][0]
        orders = con.table("orders").count().execute()
        bi = con.table("build_inputs")
        accepted = bi.filter(bi.build_id == last).accepted.sum().execute()
        print(json.dumps({"build": last, "orders": int(orders), "accepted": int(accepted)}),
              flush=True)
    except Exception as exc:
        print(json.dumps({"error": repr(exc)}), flush=True)
    finally:
        con.disconnect()
"""

KILLED_BUILD = """
import os, sys, time
from pathlib import Path
from scrm_lib.warehouse.build import build
from tests.test_build import fake_parse
raw, wh, marker = sys.argv[1], sys.argv[2], Path(sys.argv[3])
calls = []
def slow_parse(path, *, preset=None, settings=None):
    calls.append(path)
    if len(calls) == 2:  # the first file is staged by now
        marker.write_text(str(os.getpid()))
        time.sleep(120)
    return fake_parse(path, preset=preset, settings=settings)
build(raw_dir=raw, warehouse=wh, parse=slow_parse)
"""


def _python(code: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_readers_see_old_or_new_build_never_a_mix(tmp_path: Path) -> None:
    small, big = tmp_path / "small", tmp_path / "big"
    write(small / "a.csv", FIRST, mtime=1_700_000_000)
    write(big / "a.csv", FIRST, mtime=1_700_000_000)
    write(big / "b.csv", REEXPORT, mtime=1_700_000_100)
    wh = tmp_path / "scrm.duckdb"
    expected = {}
    r = build(raw_dir=small, warehouse=wh, parse=fake_parse)
    expected[r.build_id] = r.tables["orders"]

    stop = tmp_path / "stop"
    reader = _python(READER, str(wh), str(stop))
    try:
        time.sleep(1.5)  # the reader is looping before the first swap
        for i in range(4):
            r = build(raw_dir=big if i % 2 == 0 else small, warehouse=wh, parse=fake_parse)
            expected[r.build_id] = r.tables["orders"]
        stop.touch()
        out, err = reader.communicate(timeout=60)
    finally:
        reader.kill()
    seen = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert seen, err
    errors = [s["error"] for s in seen if "error" in s]
    assert not errors, errors[:3]
    for s in seen:
        assert s["build"] in expected
        assert s["orders"] == expected[s["build"]], s
        # build_inputs of the same file agree with its orders: one build, not a mix
        assert s["accepted"] == (2 if expected[s["build"]] == 2 else 4), s
    assert len({s["build"] for s in seen}) >= 2, "the reader never saw a swap"


def test_killed_build_leaves_old_warehouse_and_next_build_cleans_up(
    raw: Path, tmp_path: Path
) -> None:
    wh = tmp_path / "scrm.duckdb"
    old = build(raw_dir=raw, warehouse=wh, parse=fake_parse)
    marker = tmp_path / "staging-started"
    proc = _python(KILLED_BUILD, str(raw), str(wh), str(marker))
    try:
        deadline = time.time() + 60
        while not marker.exists():
            assert proc.poll() is None, proc.communicate()[1]
            assert time.time() < deadline, "the build never reached its second file"
            time.sleep(0.05)
        leftovers = list(tmp_path.glob("scrm.duckdb.building-*"))
        assert leftovers, "no build file while the build runs"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    assert list(tmp_path.glob("scrm.duckdb.building-*")), "the dead build left nothing behind?"

    # the published warehouse is untouched and readable
    s = status(wh)
    assert s["last_build"]["build_id"] == old.build_id
    assert s["tables"]["orders"] == 3

    new = build(raw_dir=raw, warehouse=wh, parse=fake_parse)
    assert not list(tmp_path.glob("scrm.duckdb.building-*"))
    con = open_warehouse(wh)
    try:
        # a table has no row order: ids start with their time, so sorted is oldest first
        assert sorted(con.table("builds").execute()["build_id"]) == [old.build_id, new.build_id]
    finally:
        con.disconnect()


# --- the Spark engine: a Parquet warehouse folder ---------------------------------------------


def _orders_per_account(ctx: Any) -> dict[str, int]:
    """A later build step's mart, made on DuckDB from the canonical tables (on Spark
    builds: views over the Parquet files Spark wrote)."""
    o = ctx.con.table("orders")
    mart = o.group_by("account_id").aggregate(orders=o.count(), amount=o.amount.sum())
    t = ctx.con.create_table("orders_per_account", mart, overwrite=True)
    return {"orders_per_account": int(t.count().execute())}


#: Build-log columns that differ between two builds of the same files by nature.
PER_BUILD = {"build_id", "started_at", "finished_at", "timings", "engine", "master", "runs",
             "raw_dir", "seconds", "storage"}  # fmt: skip


def assert_same_table(a: pd.DataFrame, b: pd.DataFrame, name: str, **kw: Any) -> None:
    """Two builds' table ``name`` equal; a ``*_meta`` mart's JSON numbers within 1e-8, since
    the engines sum a fit's statistics in another order (the last bits differ)."""
    if not name.endswith("_meta"):
        pd.testing.assert_frame_equal(a, b, obj=name, **kw)
        return
    assert a["key"].tolist() == b["key"].tolist(), name
    for key, x, y in zip(a["key"], a["value"], b["value"], strict=True):
        x, y = json.loads(x), json.loads(y)
        assert not isinstance(x, dict) or x.keys() == y.keys(), (name, key)
        pairs = [(x[k], y[k]) for k in x] if isinstance(x, dict) else [(x, y)]
        for u, v in pairs:
            assert u == (pytest.approx(v, rel=1e-8) if isinstance(v, float) else v), (name, key)


def warehouse_contents(path: Path) -> dict[str, pd.DataFrame]:
    """Every table a reader sees, sorted, without the columns that name the build."""
    con = open_warehouse(path)
    try:
        out = {}
        for name in list_tables(con):
            df = con.table(name).execute()
            df = df.drop(columns=[c for c in df.columns if c in PER_BUILD])
            out[name] = df.sort_values(list(df.columns)).reset_index(drop=True)
        return out
    finally:
        con.disconnect()


@pytest.mark.spark
@LOCAL_WITH_SLOW
def test_build_on_spark_publishes_a_folder_that_reads_as_the_duckdb_build(
    raw: Path, tmp_path: Path, spark_target: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On local[2] and on the standalone cluster (``SCRM_SPARK_MASTER`` names it): Spark's
    executors write the canonical tables into a new version of the warehouse folder, a
    later step's mart, ``rejects`` and the build log follow, CURRENT names the version,
    and every reader sees what the DuckDB build of the same files publishes."""
    from scrm_lib.warehouse.steps import Step

    monkeypatch.setattr("scrm_lib.warehouse.steps.STEPS", [Step("demo", _orders_per_account)])
    on_duck = build(raw_dir=raw, warehouse=tmp_path / "duck.duckdb", parse=fake_parse)
    lake = tmp_path / "lake"
    on_spark = build(raw_dir=raw, warehouse=lake, parse=fake_parse, engine="pyspark")
    assert spark_target.session.sparkContext.master == spark_target.master
    assert (on_spark.engine, on_spark.master) == ("pyspark", spark_target.master)
    assert on_spark.tables == on_duck.tables
    assert on_spark.duplicates == on_duck.duplicates

    # one complete version, named by the pointer; the build's work files are gone
    version = lake / "versions" / on_spark.build_id
    assert (lake / "CURRENT").read_text() == on_spark.build_id + "\n" == on_spark.version + "\n"
    assert sorted(p.name for p in lake.iterdir()) == ["CURRENT", "versions"]
    assert [p.name for p in (lake / "versions").iterdir()] == [on_spark.build_id]
    assert not (version / "_build").exists()
    manifest = json.loads((version / "_manifest.json").read_text())
    assert manifest["tables"]["orders"]["written_by"] == "spark"
    assert manifest["tables"]["orders_per_account"]["written_by"] == "duckdb"
    # orders by month of payment: the three orders fall in January 2024
    assert [f.split("/")[1] for f in manifest["tables"]["orders"]["files"]] == ["ts_month=2024-01"]
    # the executors wrote into the warehouse folder, nowhere else (the lock is gone too)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["duck.duckdb", "lake", "raw"]

    left, right = warehouse_contents(tmp_path / "duck.duckdb"), warehouse_contents(lake)
    assert sorted(left) == sorted(right)
    assert {"orders", "rejects", "builds", "build_steps", "orders_per_account"} <= set(right)
    for name in left:
        assert_same_table(left[name], right[name], name)

    s = status(lake)
    assert (s["storage"], s["engine"], s["master"]) == ("parquet", "pyspark", spark_target.master)
    assert s["version"] == s["last_build"]["build_id"] == on_spark.build_id
    assert s["runs"]["canonical"].startswith(f"spark {spark_target.master}")
    assert s["runs"]["steps"].startswith("duckdb")
    assert s["last_build"]["runs"] == s["runs"]
    res = _scrm(tmp_path, "status", "--json", "--warehouse", str(lake))
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["version"] == on_spark.build_id

    # a path any Spark cluster can read: Spark reads the table back, partitions and all
    back = spark_target.session.read.parquet(str(version / "orders"))
    assert back.count() == 3 and "ts_month" in back.columns
    spark_target.check_distributed()


KILLED_SPARK_BUILD = """
import os, sys, time
from pathlib import Path
import scrm_lib.warehouse.canonical as canonical
import scrm_lib.warehouse.steps as steps
from scrm_lib.warehouse.build import build
from tests.test_build import fake_parse
raw, lake, marker = sys.argv[1], sys.argv[2], Path(sys.argv[3])
steps.STEPS = []
partitioned, tables = canonical.partitioned, []
def slow(expr, table):
    tables.append(table)
    if len(tables) == 3:  # Spark has written two tables into the new version
        marker.write_text(str(os.getpid()))
        time.sleep(300)
    return partitioned(expr, table)
canonical.partitioned = slow
build(raw_dir=raw, warehouse=lake, parse=fake_parse, engine="pyspark")
"""


# A Spark JVM of its own in a subprocess, killed, then a second build: about a minute on an
# idle 2-core machine. The pointer, cleanup and dead-folder rules it relies on are in the
# default suite without Spark (tests/test_warehouse_folder.py).
@pytest.mark.slow
@pytest.mark.spark
def test_a_spark_build_killed_half_way_leaves_the_previous_version_published(
    raw: Path, tmp_path: Path, spark_session: Any
) -> None:
    """SIGKILL while Spark writes the canonical tables: CURRENT and the previous version are
    untouched and readable, and the next build removes the dead one's folder."""
    lake = tmp_path / "lake"
    old = build(raw_dir=raw, warehouse=lake, parse=fake_parse, engine="pyspark")
    marker = tmp_path / "writing"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SCRM_SPARK_MASTER": "local[1]"}
    # its own process group: the JVM it starts dies with it
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_SPARK_BUILD, str(raw), str(lake), str(marker)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.time() + 300
        while not marker.exists():
            assert proc.poll() is None, proc.communicate()[1][-2000:]
            assert time.time() < deadline, "the build never reached its third table"
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL

    dead = [p for p in (lake / "versions").iterdir() if p.name != old.build_id]
    assert len(dead) == 1, "the killed build left no version folder?"
    assert list((dead[0] / "accounts").glob("part-*.parquet")), "Spark wrote no table yet?"
    assert not (dead[0] / "_manifest.json").exists()
    assert (lake / "CURRENT").read_text() == old.build_id + "\n"
    s = status(lake)
    assert s["version"] == s["last_build"]["build_id"] == old.build_id
    assert s["tables"]["orders"] == 3

    new = build(raw_dir=raw, warehouse=lake, parse=fake_parse, engine="pyspark")
    assert sorted(p.name for p in (lake / "versions").iterdir()) == [old.build_id, new.build_id]
    assert sorted(p.name for p in lake.iterdir()) == ["CURRENT", "versions"]
    con = open_warehouse(lake)
    try:
        assert sorted(con.table("builds").execute()["build_id"]) == [old.build_id, new.build_id]
    finally:
        con.disconnect()


# --- the CLI's engine options -----------------------------------------------------------------

SMALL_ORDERS = Path(__file__).parent / "data" / "small_exports" / "youzan_orders"


def _scrm(home: Path, *args: str) -> Any:
    from typer.testing import CliRunner

    from scrm_lib.cli import app

    return CliRunner().invoke(app, list(args), env={"SCRM_HOME": str(home)})


@pytest.fixture
def small_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project home whose raw area holds one hand-made Youzan order export (4 orders)."""
    for name in ("ENGINE", "SPARK_MASTER", "SPARK_EXECUTOR_MEMORY", "SPARK_WAREHOUSE_PATH"):
        monkeypatch.delenv(f"SCRM_{name}", raising=False)
    home = tmp_path / "home"
    (home / "data" / "raw").mkdir(parents=True)
    import shutil

    shutil.copytree(SMALL_ORDERS, home / "data" / "raw" / "youzan_orders")
    return home


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--engine", "oracle"], "engine 'oracle' is not one of duckdb, pyspark, spark"),
        (["--engine", "spark", "--master", "spark//x"], "master 'spark//x' is not a Spark master"),
        (["--master", "local[1]"], "--master local[1] is for the Spark engine: add --engine spark"),
        (["--executor-memory", "4g"], "--executor-memory 4g is for the Spark engine: add --engine"),
        (
            ["--engine", "spark", "--executor-memory", "lots"],
            "--executor-memory 'lots' is not a Spark memory size (e.g. 512m, 4g)",
        ),
    ],
)
def test_cli_engine_options_are_checked_before_the_build(
    small_home: Path, args: list[str], message: str
) -> None:
    res = _scrm(small_home, "build", "--steps", "none", *args)
    assert isinstance(res.exception, ScrmError), repr(res.exception)
    assert message in str(res.exception) and "\n" not in str(res.exception)
    assert not (small_home / "data" / "warehouse").exists()


# ~20 s more on the cluster for what test_build_on_spark_matches_duckdb[cluster] shows; the
# flag's way to the session is shown cheaply by test_cli_master_reaches_the_session
@pytest.mark.spark
@pytest.mark.slow
def test_cli_builds_on_the_standalone_cluster_named_by_master(
    small_home: Path, spark_cluster_session: Any, spark_cluster: Any
) -> None:
    """``scrm build --engine spark --master spark://...`` runs the transform on that cluster
    (a session on any other master is refused) and publishes, as a Parquet warehouse
    folder, what DuckDB publishes."""
    duck, spark = small_home / "duck.duckdb", small_home / "lake"
    res = _scrm(small_home, "build", "--steps", "none", "--json", "--warehouse", str(duck))
    assert res.exit_code == 0, res.output + repr(res.exception)
    on_duck = json.loads(res.output)
    url = spark_cluster.master_url
    args = ["--engine", "spark", "--master", url, "--warehouse", str(spark)]
    res = _scrm(small_home, "build", "--steps", "none", "--json", *args)
    assert res.exit_code == 0, res.output + repr(res.exception)
    on_spark = json.loads(res.output)
    assert on_spark["engine"] == "pyspark"
    assert on_spark["tables"] == on_duck["tables"] and on_spark["tables"]["orders"] == 4
    assert on_spark["version"] == (spark / "CURRENT").read_text().strip()
    left, right = canonical_contents(duck), canonical_contents(spark)
    for name in left:
        assert_same_table(left[name], right[name], name)
    assert spark_cluster_session.sparkContext.master == url


@pytest.mark.spark
@pytest.mark.slow
def test_every_step_on_a_spark_build_reads_and_publishes_what_duckdb_does(
    small_home: Path, spark_session: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The registered steps (identity, value, churn, ...) run on DuckDB over the Parquet
    Spark wrote; every table of the folder, marts included, equals the DuckDB build's, and
    the data-health readers give the same answers on both."""
    from scrm_lib.warehouse import health

    monkeypatch.setattr("scrm_lib.warehouse.steps.STEPS", None)  # the registered ones
    duck, lake = small_home / "duck.duckdb", small_home / "lake"
    runs = {}
    for engine, where in (("duckdb", duck), ("spark", lake)):
        res = _scrm(small_home, "build", "--json", "--engine", engine, "--warehouse", str(where))
        assert res.exit_code == 0, res.output + repr(res.exception)
        runs[engine] = json.loads(res.output)["build_id"]

    def contents(path: Path, build_id: str) -> dict[str, pd.DataFrame]:
        # the *_meta marts carry their build's id among their (JSON text) values
        def unnamed(value: Any) -> Any:
            return value.replace(build_id, "<build>") if isinstance(value, str) else value

        return {name: df.map(unnamed) for name, df in warehouse_contents(path).items()}

    left, right = contents(duck, runs["duckdb"]), contents(lake, runs["spark"])
    assert sorted(left) == sorted(right) and len(left) > 40
    for name in left:
        assert_same_table(left[name], right[name], name)
    # (not freshness: it measures the data's age from each build's own finish)
    for reader in (health.coverage, health.inputs, health.rejects_by_reason):
        pd.testing.assert_frame_equal(reader(duck), reader(lake), obj=reader.__name__)


@pytest.mark.spark
def test_cli_master_reaches_the_session(small_home: Path, spark_session: Any) -> None:
    """One Spark session per process: a build for another master says so instead of
    silently running on the one that runs (proof that --master gets to the session)."""
    res = _scrm(small_home, "build", "--steps", "none", "--engine", "spark", "--master", "local[1]")
    assert isinstance(res.exception, WarehouseError), repr(res.exception)
    message = str(res.exception)
    assert "a Spark session on local[2] already runs" in message and "master local[1]" in message


def test_cli_executor_memory_reaches_the_spark_session(small_home: Path, monkeypatch) -> None:
    """``--executor-memory`` travels to the session the build starts (caught before Spark)."""
    import scrm_lib.engine as engine

    asked: dict[str, Any] = {}

    def fake_session(**kwargs: Any) -> Any:
        asked.update(kwargs)
        raise WarehouseError("no Spark here")

    monkeypatch.setattr(engine, "spark_session", fake_session)
    args = ("--engine", "spark", "--master", "local[1]", "--executor-memory", "3G")
    res = _scrm(small_home, "build", "--steps", "none", *args)
    assert isinstance(res.exception, WarehouseError), repr(res.exception)
    assert asked == {"master": "local[1]", "executor_memory": "3g"}


# --- build steps on Spark ---------------------------------------------------------------------


def _synthetic_parse(path: Path, *, preset: str | None = None, settings: Any = None) -> ParsedFile:
    """One file standing for every export: the canonical tables of 150 persons, two accounts
    each (tests/test_transform.py's value and churn inputs)."""
    from tests.test_transform import _mart_inputs

    inputs = _mart_inputs()
    inputs["referrals"] = pd.concat([inputs["referrals"], _referral_chains()], ignore_index=True)
    tables = {n: conform(df, n) for n, df in inputs.items() if n in TABLES}
    for df in tables.values():
        df["source_file"] = path.name
    return ParsedFile(
        path=path, format="synthetic", platform="tmall",
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        rows_in=max(len(df) for df in tables.values()), tables=tables,
    )  # fmt: skip


def _referral_chains() -> pd.DataFrame:
    """Links beside the inputs' one-level invites (person Pi invites a new account), so the
    closure walks generations: a chain four deep whose end invites its start (a ring), a
    person invited twice, a campaign's own chain, a self-referral (tmall:2 and wechat:2 are
    P2)."""
    links = [
        ("wechat:new0", "wechat:new1", None), ("wechat:new1", "wechat:new2", None),
        ("wechat:new2", "wechat:new3", None), ("wechat:new3", "wechat:new0", None),
        ("wechat:5", "wechat:new2", None), ("wechat:1", "wechat:new7", "裂变A"),
        ("wechat:new7", "wechat:new8", "裂变A"), ("wechat:new8", "wechat:new9", "裂变A"),
        ("tmall:2", "wechat:2", "裂变A"),
    ]  # fmt: skip
    ts = pd.Timestamp("2025-06-01", tz="UTC") + pd.to_timedelta(range(len(links)), unit="D")
    return pd.DataFrame({"inviter_account_id": [s for s, _, _ in links],
                         "invitee_account_id": [d for _, d, _ in links], "ts": ts,
                         "kind": "invite", "campaign": [c for _, _, c in links]})  # fmt: skip


def _synthetic_identity(ctx: Any) -> dict[str, int]:
    """Identity's marts as the identity step writes them, on DuckDB: tmall:i and wechat:i
    are person Pi; tmall:7 is a counter phone (an account-key hub)."""
    from tests.test_transform import _mart_inputs

    tables = _mart_inputs()
    for name in ("person_accounts", "identity_hubs"):
        ctx.con.create_table(name, tables[name], overwrite=True)
    return {"person_accounts": len(tables["person_accounts"])}


@pytest.mark.spark
@CLUSTER_WITH_SLOW
# the referrals step's closure costs a Spark job per generation (most of this test's time
# on Spark): with the slow tests
@pytest.mark.parametrize("with_referrals", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_value_and_churn_steps_run_on_spark_and_publish_what_duckdb_does(
    tmp_path: Path, spark_target: Any, monkeypatch: pytest.MonkeyPatch, with_referrals: bool
) -> None:
    """On a Spark build the value, churn, referrals and tag steps run on Spark, reading
    identity's marts (written by DuckDB) and each other's (churn reads value's CLV, the
    derived tags all three); their marts and the derived tags' parts of person_tags are
    written into the version by Spark, and every one of them, person_tags assembled from its
    parts too, is the DuckDB build's. Local[2] without referrals here; the standalone
    cluster and the referrals step with the slow tests."""
    import datetime as dt

    from scrm_lib.churn.backtest import labelled
    from scrm_lib.churn.config import churn_config
    from scrm_lib.churn.model import fit_model, save_model
    from scrm_lib.churn.step import STEP as churn
    from scrm_lib.config import load_settings
    from scrm_lib.engine import duckdb_connect
    from scrm_lib.social.referrals.step import MARTS as referral_marts
    from scrm_lib.social.referrals.step import STEP as referrals
    from scrm_lib.tags.step import STEP as tags
    from scrm_lib.tags.step import STEP_LATE as tags_derived
    from scrm_lib.value.step import STEP as value
    from scrm_lib.warehouse.steps import Step
    from tests.test_transform import _load_marts_input, _mart_inputs

    settings = load_settings(tmp_path / "home")
    # one model scores both builds (trained on the same rows, as scrm churn train would)
    duck = duckdb_connect()
    try:
        _load_marts_input(duck, _mart_inputs())
        cfg = churn_config(settings, max_iter=30, calibration="sigmoid")
        train = pd.concat([labelled(duck, dt.date(2025, m, 1), settings=settings, cfg=cfg)
                           for m in (8, 10)])  # fmt: skip
        save_model(fit_model(train, train["churned"], groups=train["person_id"], cfg=cfg),
                   {"kind": "churn"}, settings=settings)  # fmt: skip
    finally:
        duck.disconnect()
    identity = Step("identity", _synthetic_identity)
    steps = [identity, tags, value, churn, *([referrals] if with_referrals else []), tags_derived]
    monkeypatch.setattr("scrm_lib.warehouse.steps.STEPS", steps)
    raw = tmp_path / "raw"
    write(raw / "all.csv", ["0,x,2025-01-01T00:00:00Z,1,paid"], mtime=1_700_000_000)
    kw: dict[str, Any] = {"raw_dir": raw, "parse": _synthetic_parse, "settings": settings}
    on_duck = build(warehouse=tmp_path / "duck.duckdb", **kw)
    lake = tmp_path / "lake"
    # on a few hundred rows, compiling whole-stage code costs more than it saves; the
    # steps' session takes its settings from the build's
    session = spark_target.session
    codegen = session.conf.get("spark.sql.codegen.wholeStage")
    session.conf.set("spark.sql.codegen.wholeStage", "false")
    try:
        on_spark = build(warehouse=lake, engine="pyspark", **kw)
    finally:
        session.conf.set("spark.sql.codegen.wholeStage", codegen)

    manifest = json.loads((lake / "versions" / on_spark.build_id / "_manifest.json").read_text())
    written_by = {name: t["written_by"] for name, t in manifest["tables"].items()}
    spark_marts = ("value_persons", "value_meta", "churn_scores", "churn_meta",
                   "person_tags__value", "person_tags__churn")  # fmt: skip
    if with_referrals:
        spark_marts = (*spark_marts, *referral_marts, "referrals_meta", "person_tags__referrals")
    for name in (*spark_marts, "orders"):
        assert written_by[name] == "spark", name
    for name in ("person_accounts", "identity_hubs", "person_tags", "build_steps"):
        assert written_by[name] == "duckdb", name
    runs = status(lake)["runs"]["steps"]
    on_spark_steps = "tags, value, churn, " + ("referrals, " if with_referrals else "")
    assert runs.endswith(f": {on_spark_steps}tags_derived")
    assert (
        "duckdb on the driver, over the version's Parquet (marts written as Parquet): identity;"
        in runs
    )

    left, right = warehouse_contents(tmp_path / "duck.duckdb"), warehouse_contents(lake)
    for name in (*spark_marts, "person_tags"):
        a, b = (
            df.map(lambda v, i=i: v.replace(i, "<build>") if isinstance(v, str) else v)
            for df, i in ((left[name], on_duck.build_id), (right[name], on_spark.build_id))
        )
        assert_same_table(a, b, name, check_dtype=False, rtol=1e-9, atol=1e-9)
    # not vacuous: CLV fitted, persons scored, tags derived from the value mart
    persons = left["value_persons"]
    assert len(persons) >= 100 and persons["clv"].notna().sum() >= 100
    assert "P7" not in set(persons["person_id"])
    assert left["churn_scores"]["churn_probability"].nunique() > 10
    assert {"lifecycle_stage", "dormant"} <= set(left["person_tags"]["tag"])
    spark_target.check_distributed()
    if not with_referrals:
        return
    # the closure walked the chains: four deep, round the ring, and a campaign's own
    closure = left["referral_closure"]
    assert closure["depth"].max() >= 4
    ring = closure[closure["ancestor_id"] == "wechat:new0"]
    assert set(ring["descendant_id"]) >= {"wechat:new1", "wechat:new2", "wechat:new3"}
    persons = left["referral_persons"].set_index("person_id")
    assert persons.loc["wechat:new0", "in_ring"] and persons.loc["P1", "downstream_persons"] >= 3
    campaigns = left["referral_campaigns"].set_index("key")
    assert campaigns.loc["裂变A", "generations"] == 3


def test_a_spark_build_gives_the_steps_that_run_on_spark_its_spark_side(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without Spark: a step declaring pyspark gets the Spark side's connection, inside its
    hand-over; the others get the build's DuckDB file; the build log says which ran where."""
    from scrm_lib.warehouse.build import _runs
    from scrm_lib.warehouse.steps import Step, StepContext, placement, run_steps

    seen: list[tuple[str, Any]] = []

    class FakeSide:
        con = object()

        @contextlib.contextmanager
        def running(self, step: str) -> Any:
            seen.append(("share", step))
            yield self.con
            seen.append(("take", step))

    def record(name: str) -> Any:
        return lambda ctx: seen.append((name, ctx.con)) or {}

    steps = [
        Step("identity", record("identity")),
        Step("value", record("value"), engines=("duckdb", "pyspark")),
        Step("tags_derived", record("tags_derived")),
    ]
    monkeypatch.setattr("scrm_lib.warehouse.steps.STEPS", steps)
    duck, side = duckdb_connect(), FakeSide()
    try:
        run_steps(StepContext(con=duck, settings=None, build_id="b", spark=side))
    finally:
        duck.disconnect()
    assert seen == [("identity", duck), ("share", "value"), ("value", side.con),
                    ("take", "value"), ("tags_derived", duck)]  # fmt: skip
    where = placement(steps, spark=True)
    assert where == {"identity": "duckdb", "value": "pyspark", "tags_derived": "duckdb"}
    assert set(placement(steps, spark=False).values()) == {"duckdb"}
    runs = _runs("pyspark", "local[2]", tmp_path, tmp_path / "v", where)["steps"]
    assert runs == (
        "duckdb on the driver, over the version's Parquet (marts written as Parquet): "
        "identity, tags_derived; spark local[2] (executors write the marts as Parquet): value"
    )
    with pytest.raises(ValueError, match="must hold duckdb"):
        Step("x", record("x"), engines=("pyspark",))
