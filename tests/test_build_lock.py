"""A build killed with SIGKILL at any stage never blocks the next one, which cleans up after it.

The killed build runs in a real subprocess on a hand-made home (two small
Youzan exports), stopped by its own progress callback at the stage under
test, then killed. What it leaves behind (its lock file naming it, the
``.building-*`` file with its ``.stage`` and ``.wal``) is checked, and the
next build must publish, remove all of it and keep the build history.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scrm_lib.config import load_settings
from scrm_lib.engine import open_warehouse
from scrm_lib.errors import ScrmError
from scrm_lib.warehouse.build import build, status

ROOT = Path(__file__).resolve().parents[1]
HEADER = "订单号,买家手机号,订单实付金额,订单状态,订单创建时间\n"

KILLED = """
import os, sys, time
from pathlib import Path
from scrm_lib.warehouse.build import build
from scrm_lib.config import load_settings

home, marker, stage = sys.argv[1], Path(sys.argv[2]), sys.argv[3]

def progress(message):
    if message.startswith(stage):
        marker.write_text(str(os.getpid()))
        time.sleep(300)

build(settings=load_settings(home), steps=[], progress=progress)
"""


@pytest.fixture(autouse=True)
def no_mart_steps(monkeypatch):
    monkeypatch.setattr("scrm_lib.warehouse.steps.STEPS", [])


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    raw = home / "data" / "raw" / "youzan_orders"
    raw.mkdir(parents=True)
    for i, rows in enumerate(
        (
            ["YZ1,13812340001,10.00,交易成功,2025-03-01 10:00:00"],
            ["YZ2,13812340002,20.00,交易成功,2025-03-02 10:00:00"],
        )
    ):
        path = raw / f"youzan_orders_{i}.csv"
        path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8-sig")
        os.utime(path, (1_700_000_000 + i, 1_700_000_000 + i))
    return home


def _start(home: Path, marker: Path, stage: str, workers: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SCRM_WORKERS": str(workers)}
    with log.open("w") as out:
        # its own process group, so the test can end any worker the build left
        return subprocess.Popen(
            [sys.executable, "-c", KILLED, str(home), str(marker), stage],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize(
    ("stage", "workers"),
    # the default suite kills a build in a parse worker and while publishing (its first
    # and last stages); parsing in-process and transforming run with the slow tests
    [
        pytest.param("parse 2/", 1, marks=pytest.mark.slow),
        ("parse 2/", 2),
        pytest.param("transform", 1, marks=pytest.mark.slow),
        ("publish", 1),
    ],
    ids=["parsing", "parsing-in-worker-processes", "transforming", "publishing"],
)
def test_killed_build_is_recovered_by_the_next(
    home: Path, tmp_path: Path, stage: str, workers: int, caplog
) -> None:
    cfg = load_settings(home)
    wh = cfg.warehouse
    old = build(settings=cfg, steps=[])
    assert _names(wh.parent) == ["scrm.duckdb"], "a finished build leaves only the warehouse"

    marker, log = tmp_path / "reached", tmp_path / "killed.log"
    proc = _start(home, marker, stage, workers, log)
    try:
        deadline = time.time() + 120
        while not marker.exists():
            assert proc.poll() is None, log.read_text()
            assert time.time() < deadline, f"the build never reached {stage!r}"
            time.sleep(0.05)
        pid = int(marker.read_text())
        # while it runs, a second build is refused and told who holds the lock
        with pytest.raises(ScrmError, match=rf"another build of .* is running \(pid {pid}, build "):
            build(settings=cfg, steps=[])
        os.kill(proc.pid, signal.SIGKILL)  # the build process only, as the OOM killer does
        proc.wait(timeout=30)
        # parse workers it started notice and end (they would wait for jobs for ever)
        deadline = time.time() + 30
        while _group_alive(proc.pid) and time.time() < deadline:
            time.sleep(0.1)
        assert not _group_alive(proc.pid), "a parse worker outlived the killed build"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    # what a killed build leaves: its lock file (naming it) and its build files
    left = _names(wh.parent)
    assert "scrm.duckdb.lock" in left, left
    held = json.loads((wh.parent / "scrm.duckdb.lock").read_text())
    assert held["pid"] == pid and held["build_id"]
    building = [n for n in left if n.startswith("scrm.duckdb.building-")]
    assert any(n.endswith(held["build_id"]) for n in building), left
    assert any(n.endswith(".stage") for n in building) or stage == "publish", left
    s = status(wh)  # the published warehouse is untouched
    assert s["last_build"]["build_id"] == old.build_id and s["tables"]["orders"] == 2

    with caplog.at_level(logging.WARNING, logger="scrm_lib.warehouse.build"):
        new = build(settings=cfg, steps=[])
    assert any("did not finish" in r.getMessage() for r in caplog.records)
    assert _names(wh.parent) == ["scrm.duckdb"]
    con = open_warehouse(wh)
    try:
        ids = con.table("builds").order_by("started_at").execute()["build_id"].tolist()
        assert ids == [old.build_id, new.build_id]
    finally:
        con.disconnect()


def test_failed_build_removes_its_lock_and_files(home: Path, monkeypatch) -> None:
    cfg = load_settings(home)

    def boom(message: str) -> None:
        if message.startswith("transform"):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        build(settings=cfg, steps=[], progress=boom)
    assert _names(cfg.warehouse.parent) == []
    build(settings=cfg, steps=[])
    assert _names(cfg.warehouse.parent) == ["scrm.duckdb"]


@pytest.mark.parametrize("content", ["", "not json", '{"pid": 999999999}'])
def test_a_lock_file_nobody_holds_is_taken_over(home: Path, content: str) -> None:
    cfg = load_settings(home)
    cfg.warehouse.parent.mkdir(parents=True, exist_ok=True)
    (cfg.warehouse.parent / "scrm.duckdb.lock").write_text(content)
    (cfg.warehouse.parent / "scrm.duckdb.building-x").write_text("half a build")
    result = build(settings=cfg, steps=[])
    assert result.tables["orders"] == 2
    assert _names(cfg.warehouse.parent) == ["scrm.duckdb"]
