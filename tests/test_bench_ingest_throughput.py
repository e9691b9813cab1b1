"""The ingest throughput benchmark (bench/ingest_throughput.py) on a few files of a tiny sample.

One file of each kind the benchmark tells apart: a UTF-8 CSV and a JSON
lines file (DuckDB's readers are the floor), an XLSX (python-calamine's
read is the floor) and a GBK CSV (no floor offline). Every reader must see
the same rows as scrm, and the results file must carry MB/s and ratios per
format, with the machine.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

import ingest_throughput as it  # noqa: E402

PERSONS = 300


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("work")
    full = it.sample_exports(PERSONS, work)
    few = work / "few"
    few.mkdir()
    for pattern in ("channels.csv", "miniapp_referrals.jsonl", "douyin_orders_*.xlsx",
                    "tmall_orders_*.csv"):  # fmt: skip
        shutil.copy(sorted(full.glob(pattern))[0], few)
    return few


def test_a_run_writes_mb_s_per_format_beside_the_floor(exports: Path, tmp_path: Path) -> None:
    out = it.run(
        PERSONS, exports, results=tmp_path / "results", work=tmp_path, by="preset",
        startup_runs=1, repeat=2,
    )  # fmt: skip
    saved = json.loads((tmp_path / "results" / f"ingest_throughput_{PERSONS}.json").read_text())
    assert saved == json.loads(json.dumps(out))
    assert saved["persons"] == PERSONS and saved["machine"]["cores"]
    assert set(saved["formats"]) == {"csv", "jsonl", "xlsx"}

    groups = {(g["preset"], g["encoding"]): g for g in saved["groups"]}
    assert set(groups) == {
        ("channels", "utf-8"),
        ("miniapp_referrals", "utf-8"),
        ("douyin_orders", "utf-8"),
        ("tmall_orders", "gbk"),
    }
    for g in groups.values():
        assert g["scrm"]["seconds"] > 0 and not g["scrm"]["errors"], g
        for tool in ("scrm", "pandas", *(["floor"] if g["floor"].get("engine") else [])):
            # the tools took turns twice; the fastest run is the one reported
            assert len(g[tool]["runs_seconds"]) == 2, (tool, g)
            assert g[tool]["seconds"] == min(g[tool]["runs_seconds"]), (tool, g)
        assert g["pandas"]["rows"] == g["scrm"]["rows"] > 0, g
        if g["floor"].get("engine"):
            assert g["floor"]["rows"] == g["scrm"]["rows"], g
            assert g["scrm_over_floor"] > 0
    assert groups[("channels", "utf-8")]["floor"]["engine"] == "duckdb read_csv"
    assert groups[("miniapp_referrals", "utf-8")]["floor"]["engine"] == "duckdb read_json"
    assert "python-calamine" in groups[("douyin_orders", "utf-8")]["floor"]["engine"]
    assert "encodings extension" in groups[("tmall_orders", "gbk")]["floor"]["none"]

    csv = saved["formats"]["csv"]
    assert csv["files"] == 2 and csv["without_floor"] == ["tmall_orders (gbk)"]
    assert csv["floor"]["bytes"] < csv["bytes"]
    for kind in ("csv", "jsonl"):
        row = saved["formats"][kind]
        assert row["floor"]["seconds"] > 0 and row["pandas"]["seconds"] > 0
        assert isinstance(row["within_target"], bool)
    assert "within_target" not in saved["formats"]["xlsx"]
    assert set(saved["startup_seconds"]) == {"scrm", "duckdb", "pandas"}
    assert all(v > 0 for v in saved["startup_seconds"].values())


def test_by_kind_one_group_per_format_and_encoding(exports: Path) -> None:
    """As a user ingests a folder: every UTF-8 CSV in one process, GBK apart."""
    files = it.describe_files(exports)
    kinds = {(g["kind"], g["encoding"]): len(g["files"]) for g in it.groups_of(files, "kind")}
    assert kinds == {("csv", "utf-8"): 1, ("csv", "gbk"): 1, ("jsonl", "utf-8"): 1,
                     ("xlsx", "utf-8"): 1}  # fmt: skip
    by_preset = it.groups_of([*files, {**files[0], "preset": "other"}], "preset")
    assert len(by_preset) == len(it.groups_of([*files, {**files[0], "preset": "other"}])) + 1


def test_the_readme_renderer_reads_the_results(exports: Path, tmp_path: Path) -> None:
    import table

    data = {
        "persons": 1000,
        "target": it.TARGET,
        "formats": {
            "csv": {
                "files": 2, "bytes": 5_000_000, "scrm_seconds": 2.0, "scrm_mb_s": 2.5,
                "floor": {"engine": "duckdb read_csv", "mb_s": 25.0},
                "scrm_over_floor": 10.0, "without_floor": ["tmall_orders (gbk)"],
                "pandas": {"mb_s": 10.0}, "scrm_over_pandas": 4.0,
            },
        },
    }  # fmt: skip
    [(what, scrm, peers)] = table.ingest_throughput(tmp_path / "x.json", data)
    assert "CSV (5 MB, 2 files)" in what and scrm == "2.5 MB/s (2.0 s)"
    assert "25.0 MB/s (scrm 10.00× its time, target ≤ 3.00×)" in peers
    assert "no floor for tmall_orders (gbk)" in peers and "pandas read_csv 10.0 MB/s" in peers
