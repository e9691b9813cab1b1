"""``scrm tags`` and ``scrm segment columns`` with --json; the built sample carries tags."""

from __future__ import annotations

import json

import duckdb
import pandas as pd
from typer.testing import CliRunner

from scrm_lib import cli
from scrm_lib.tags.registry import write_tags
from scrm_lib.tags.step import run_derived
from tests.sample_project import scrm
from tests.tags.conftest import AS_OF, ctx, since


def invoke(*args: str) -> dict:
    res = CliRunner().invoke(cli.app, [*args, "--json"])
    assert res.exit_code == 0, res.output + repr(res.exception)
    return json.loads(res.output)


def test_cli_lists_tags_and_one_persons_tags(con, tmp_path):
    run_derived(ctx(con))
    write_tags(con, "toy", pd.DataFrame({
        "person_id": ["P2"], "tag": ["toy_channel"], "value": ["活码"],
        "since": [since("2026-01-01")],
    }), build_id="B1")  # fmt: skip
    con.disconnect()
    wh = str(tmp_path / "wh.duckdb")

    rows = invoke("tags", "list", "--warehouse", wh)["tags"]
    got = {(r["tag"], r["value"]): (r["persons"], r["person_share"]) for r in rows}
    assert got[("dormant", "lost")] == (1, 0.2)
    assert got[("toy_channel", "活码")] == (1, 0.2)
    assert got[("high_churn_risk", None)] == (2, 0.4)
    assert {r["source"] for r in rows if r["tag"] == "lifecycle_stage"} == {"value"}

    p2 = invoke("tags", "person", "P2", "--warehouse", wh)
    assert p2["person_id"] == "P2"
    assert [(t["tag"], t["value"]) for t in p2["tags"]] == [
        ("high_churn_risk", None), ("lifecycle_stage", "mature"), ("toy_channel", "活码"),
    ]  # fmt: skip
    assert p2["tags"][1]["since"].startswith(AS_OF) and p2["tags"][1]["rule_version"] == "1"
    assert invoke("tags", "person", "P404", "--warehouse", wh)["tags"] == []


def test_segment_columns_lists_the_tags(tags):
    data = invoke("segment", "columns")
    by_name = {t["tag"]: t for t in data["tags"]}
    assert by_name["dormant"] == {
        "tag": "dormant", "source": "value", "rule": by_name["dormant"]["rule"],
        "values": ["dormant", "lost"],
    }  # fmt: skip
    assert by_name["toy_channel"]["values"] == ["活码", "poster", "live"]
    assert data["tag_ops"] == ["has_tag", "not_has_tag"]
    assert "rfm_segment" in {c["column"] for c in data["columns"]}


def test_the_built_sample_carries_tags(built_sample):
    wh = built_sample["warehouse"]
    with duckdb.connect(str(wh), read_only=True) as c:
        stages = dict(c.sql("select stage, count(*) from value_persons group by 1").fetchall())
        high = c.sql("select count(*) from churn_scores where risk_band = 'high'").fetchone()[0]
    out = scrm("tags", "list", "--json", cwd=built_sample["home"]).stdout
    rows = json.loads(out)["tags"]
    got = {(r["tag"], r["value"]): r["persons"] for r in rows}
    assert {v: n for (t, v), n in got.items() if t == "lifecycle_stage" and n} == stages
    assert got.get(("dormant", "dormant"), 0) == stages.get("dormant", 0)
    assert got.get(("dormant", "lost"), 0) == stages.get("lost", 0)
    assert got.get(("high_churn_risk", None), 0) == high
    assert sum(stages.values()) > 100
