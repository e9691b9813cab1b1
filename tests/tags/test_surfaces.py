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


def test_the_pages_filter_on_and_show_tags(built_sample, monkeypatch, tmp_path):
    from scrm_lib.access.users import add_user
    from tests.apptest import open_page

    home, wh = built_sample["home"], built_sample["warehouse"]
    users = tmp_path / "users.yaml"
    add_user("mark", "demo-pass-123", role="marketer", path=users)
    monkeypatch.setenv("SCRM_HOME", str(home))
    monkeypatch.setenv("SCRM_USERS_FILE", str(users))
    monkeypatch.setenv("SCRM_STATE_DB", str(tmp_path / "state.duckdb"))
    monkeypatch.setenv("SCRM_WAREHOUSE", str(wh))
    with duckdb.connect(str(wh), read_only=True) as c:
        sleeping = c.sql(
            "select count(*) from value_persons where stage in ('dormant', 'lost')"
        ).fetchone()[0]
        lost = c.sql("select count(*) from value_persons where stage = 'lost'").fetchone()[0]
        everyone = c.sql("select count(*) from value_persons").fetchone()[0]
        tagged = c.sql("select person_id from person_tags where tag = 'dormant' limit 1").fetchone()

    at = open_page("views/segments.py", "mark", "marketer")
    assert not at.exception, at.exception

    def persons() -> int:
        shown = next(m for m in at.metric if m.label.startswith("人数"))
        return int(shown.value.replace(",", ""))

    assert persons() == everyone
    tag_box = next(s for s in at.selectbox if s.label.startswith("标签"))
    tag_box.set_value("dormant").run()
    assert not at.exception, at.exception
    assert persons() == sleeping > 0
    values = next(m for m in at.multiselect if m.label.startswith("标签值"))
    values.set_value(["lost"]).run()
    assert persons() == lost
    next(c for c in at.checkbox if c.label.startswith("不含此标签")).check().run()
    assert persons() == everyone - lost

    at.switch_page("views/customer_360.py").run()
    at.text_input(key="c360_search").input(tagged[0]).run()
    assert not at.exception, at.exception
    shown = [df.value for df in at.dataframe if "标签" in df.value.columns]
    assert shown and "沉睡客户" in set(shown[0]["标签"])


def test_an_unknown_tag_in_a_filter_is_one_line_and_a_nonzero_exit(con, tmp_path):
    run_derived(ctx(con))
    con.disconnect()
    f = json.dumps([{"tag": "vip_forever", "op": "has_tag"}])
    proc = scrm("segment", "preview", "--filter", f, "--warehouse", str(tmp_path / "wh.duckdb"),
                cwd=tmp_path, check=False)  # fmt: skip
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "unknown tag 'vip_forever'" in lines[0]
    assert "dormant" in lines[0]  # the known tags are listed
