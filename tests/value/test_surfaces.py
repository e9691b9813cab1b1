"""The build step and the CLI on a small warehouse file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from scrm_lib.engine import duckdb_connect
from scrm_lib.value import persons as P

from .conftest import put
from .test_rfm import ACCOUNTS, ORDERS


def test_build_step_writes_the_mart(duck, settings):
    put(duck, "accounts", ACCOUNTS)
    put(duck, "orders", ORDERS)
    counts = P.run(SimpleNamespace(con=duck, settings=settings, build_id="b-7"))
    mart = duck.table(P.MART).execute().set_index("person_id")
    assert counts == {P.MART: 5} and list(mart.columns) == list(P.COLUMNS)[1:]
    assert mart.loc["t:A", "rfm_segment"] == "champions" and mart.loc["t:A", "frequency"] == 4
    meta = dict(duck.table(P.META).execute().values)
    assert json.loads(meta["build_id"]) == "b-7"


def test_build_step_on_an_empty_warehouse_writes_an_empty_typed_mart(duck, settings):
    put(duck, "accounts", [])
    put(duck, "orders", [])
    assert P.run(SimpleNamespace(con=duck, settings=settings, build_id="b-0")) == {P.MART: 0}
    assert duck.table(P.MART).schema()["p_alive"].is_floating()
    assert "no paid or refunded orders" in dict(duck.table(P.META).execute().values)["error"]


def scrm(home, *args):
    env = {**os.environ, "SCRM_HOME": str(home), "CI": "true"}
    return subprocess.run([sys.executable, "-m", "scrm_lib.cli", *args], cwd=home, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


@pytest.fixture
def home(tmp_path):
    path = tmp_path / "data" / "warehouse" / "scrm.duckdb"
    path.parent.mkdir(parents=True)
    con = duckdb_connect(path)
    put(con, "accounts", ACCOUNTS)
    put(con, "orders", ORDERS)
    con.disconnect()
    return tmp_path


def test_cli_value_and_segment(home):
    proc = scrm(home, "value", "rfm", "--as-of", "2026-01-31", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    sizes = {s["segment"]: s["persons"] for s in data["segments"]}
    assert sizes["champions"] == 1 and sizes["important_develop"] == 2
    bad = '[{"column": "churn", "op": ">", "value": 1}]'
    proc = scrm(home, "segment", "save", "x", "--filter", bad)
    assert proc.returncode != 0 and proc.stderr.count("\n") == 1
    assert "unknown column 'churn'" in proc.stderr and "Traceback" not in proc.stderr
    proc = scrm(home, "value", "rfm", "--as-of", "2019-01-01")
    assert proc.returncode != 0 and "before every order" in proc.stderr
