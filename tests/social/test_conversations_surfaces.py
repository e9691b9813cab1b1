"""The Conversations page (会话洞察) on the built sample, checked against the warehouse.

Expected numbers are counted here with SQL on the marts, not taken from the page's own
library calls.
"""

from __future__ import annotations

import base64
import json
import shutil

import duckdb
import numpy as np
import pytest

from scrm_lib.labels import label, value_label
from tests.apptest import open_titled, page_home, sql, use_home

PAGE = "views/conversations.py"
PHONE = "13812345678"


@pytest.fixture(scope="module")
def project(built_sample, tmp_path_factory):
    """The sample's home with its own copy of the warehouse and three users.

    The newest purchase-intent message gets a phone number in its text, as customers leave
    one when they ask to be called back, so masking has something to hide.
    """
    project = page_home(built_sample, tmp_path_factory, "conversations_page")
    with duckdb.connect(str(project["warehouse"])) as con:
        (newest,) = con.execute(
            "select t.message_id from message_tags t "
            "join person_conversations p using (person_id) "
            "where t.intent = 'purchase_intent' and t.direction != 'out' "
            "and p.purchase_intent_7d > 0 order by t.ts desc, t.person_id limit 1"
        ).fetchone()
        con.execute(
            "update messages set text = text || ' 电话' || ? where message_id = ?", [PHONE, newest]
        )
    return {**project, "phone_message": newest}


@pytest.fixture
def env(project, monkeypatch):
    return use_home(project, monkeypatch)


def page(user: str = "mark", role: str = "marketer"):
    return open_titled(PAGE, "会话洞察 / Conversations", user, role)


def chart(at, key: str) -> dict:
    found = [c for c in at.get("plotly_chart") if c.proto.id and key in c.proto.id]
    assert found, f"no chart {key}"
    return json.loads(found[0].proto.spec)


def numbers(values) -> list[float]:
    """A plotly array as numbers: plotly sends numeric arrays as base64 typed arrays."""
    if isinstance(values, dict) and "bdata" in values:
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return list(values)


def high_intent_table(at):
    return next(d.value for d in at.dataframe if "命中短语" in d.value.columns)


def test_the_sample_has_the_conversation_marts(env):
    tables = {r[0] for r in sql(env, "show tables")}
    assert {"message_tags", "person_conversations", "service_kpis"} <= tables


@pytest.mark.parametrize(("user", "role"), [("vera", "viewer"), ("mark", "marketer"),
                                            ("ada", "admin")])  # fmt: skip
def test_the_page_opens_for_every_role(env, user, role):
    at = page(user, role)
    # intents, sentiment, and CSAT/NPS: the sample has survey answers
    assert len(at.get("plotly_chart")) == 3
    headers = [h.value for h in at.subheader]
    for title in ("意图分布 / Intent mix", "负面情绪 / Negative sentiment",
                  "高意向跟进 / High-intent follow-up", "客服表现 / Service by staff",
                  "满意度与推荐 / CSAT and NPS", "试一试 / Try it"):  # fmt: skip
        assert title in headers


def test_the_intent_chart_stacks_the_customer_messages_per_week_by_intent(env):
    counted = dict(sql(
        env, "select intent, count(*) from message_tags where direction != 'out' group by 1"
    ))  # fmt: skip
    spec = chart(page(), "conv_intents")
    assert spec["layout"]["barmode"] == "stack"
    bars = {trace["name"]: sum(numbers(trace["y"])) for trace in spec["data"]}
    assert bars == {value_label("intent", k): n for k, n in counted.items()}
    assert "高意向" in bars and "purchase_intent" not in bars


def test_the_sentiment_chart_marks_the_alert_days(env):
    at = page()
    spec = chart(at, "conv_sentiment")
    markers = [t for t in spec["data"] if t.get("mode") == "markers"]
    assert len(markers) == 1
    alerts = len(markers[0]["x"])
    if alerts:
        assert any(f"{alerts} 天负面占比突增" in w.value for w in at.warning)
    else:
        assert any("没有负面占比突增" in c.value for c in at.caption)


def test_the_high_intent_list_holds_the_persons_with_a_recent_purchase_intent_message(env):
    ((expected,),) = sql(
        env, "select count(*) from person_conversations where purchase_intent_7d > 0"
    )
    at = page()
    at.number_input(key="conv_top_n").set_value(1000).run()
    assert not at.exception, at.exception
    shown = high_intent_table(at)
    assert len(shown) == expected > 0
    assert shown[label("person_id")].is_unique


def test_a_viewer_sees_the_text_masked_and_an_admin_may_unmask_it(env):
    shown = high_intent_table(page("vera", "viewer"))
    texts = shown["内容"].tolist()
    assert not any(PHONE in t for t in texts)
    assert any("138****5678" in t for t in texts)
    at = page("vera", "viewer")
    assert not [t for t in at.toggle if t.key == "unmask_conv_high_intent"]

    admin = page("ada", "admin")
    assert not any(PHONE in t for t in high_intent_table(admin)["内容"])  # masked by default
    admin.toggle(key="unmask_conv_high_intent").set_value(True).run()
    assert not admin.exception, admin.exception
    assert any(PHONE in t for t in high_intent_table(admin)["内容"])


def test_the_service_table_shows_each_staff_members_latest_week(env):
    week, n = sql(env, "select max(week), count(*) from service_kpis "
                       "where week = (select max(week) from service_kpis)")[0]  # fmt: skip
    at = page()
    assert at.selectbox(key="conv_week").value == week
    shown = next(d.value for d in at.dataframe if "及时回复率" in d.value.columns)
    assert len(shown) == n
    counted = dict(sql(env, "select staff_id, conversations from service_kpis where week = ?",
                       week))  # fmt: skip
    assert dict(zip(shown["员工ID"], shown["会话数"], strict=True)) == counted


# the local (Asia/Shanghai) week of each answer, its Monday
_WEEKLY = ("select date_trunc('week', timezone('Asia/Shanghai', ts))::date as week, "
           "count(*), avg(score), 100.0 * (count(*) filter (score >= 9) "
           "- count(*) filter (score <= 6)) / count(*) from surveys where kind = ? "
           "group by week order by week")  # fmt: skip


def test_the_page_shows_csat_and_nps_per_week_from_the_survey_answers(env):
    csat = sql(env, _WEEKLY, "csat")
    assert len(csat) > 4, "the sample has survey answers over several weeks"
    at = page()
    chart(at, "conv_surveys")
    shown = next(d.value for d in at.dataframe if "平均满意度" in d.value.columns)
    week, n, mean, _ = csat[-1]
    latest = shown.iloc[0]
    assert (latest["周"], latest["满意度评价数"]) == (week, n)
    assert latest["平均满意度"] == pytest.approx(mean, abs=0.005)


def test_without_survey_answers_the_page_says_so_in_one_line(env, tmp_path, monkeypatch):
    copy = tmp_path / "no_surveys.duckdb"
    shutil.copy(env["warehouse"], copy)
    with duckdb.connect(str(copy)) as con:
        con.execute("delete from surveys")
    monkeypatch.setenv("SCRM_WAREHOUSE", str(copy))
    at = page()
    assert [c.value for c in at.caption if "No survey answers" in c.value]
    assert [c.proto.id for c in at.get("plotly_chart") if "conv_surveys" in c.proto.id] == []


def test_the_service_command_gives_csat_and_nps_per_week(env):
    from typer.testing import CliRunner

    from scrm_lib.cli import app

    result = CliRunner().invoke(app, ["messages", "service", "--json"])
    assert result.exit_code == 0, result.output
    weeks = {r["week"]: r for r in json.loads(result.stdout)["surveys"]}
    for week, n, _, nps in sql(env, _WEEKLY, "nps"):
        assert weeks[str(week)]["nps_responses"] == n
        assert weeks[str(week)]["nps"] == pytest.approx(nps)


def test_the_try_it_box_tags_a_typed_message(env):
    at = page("vera", "viewer")
    at.text_input(key="conv_try").input("蹲链接").run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["意图 / Intent"] == "高意向"
    assert metrics["命中短语 / Phrase"] == "蹲链接"
    assert metrics["判定方式 / Decided by"] == "词典"
    assert metrics["情绪 / Sentiment"] in {"正面", "中性", "负面"}


def test_a_viewer_cannot_save_a_segment(env):
    at = page("vera", "viewer")
    assert not [b for b in at.button if b.key == "conv_seg_save"]
    assert any("marketer or admin" in c.value for c in at.caption)


def test_a_marketer_saves_a_segment_of_the_high_intent_persons(env):
    from scrm_lib.segments.definitions import segment_members, show_segment

    tagged = {r[0] for r in sql(env, "select person_id from person_tags where tag = 'high_intent'")}
    at = page()
    at.text_input(key="conv_seg_name").input("high-intent").run()
    at.button(key="conv_seg_save").click().run()
    assert not at.exception, at.exception
    assert any("high-intent" in s.value for s in at.success), [e.value for e in at.error]
    assert show_segment("high-intent")["definition"] == [{"tag": "high_intent", "op": "has_tag"}]
    assert set(segment_members("high-intent")) == tagged and tagged


def test_a_warehouse_without_the_marts_shows_one_line_and_the_try_it_box(env, tmp_path,
                                                                        monkeypatch):  # fmt: skip
    copy = tmp_path / "older.duckdb"
    shutil.copy(env["warehouse"], copy)
    with duckdb.connect(str(copy)) as con:
        for mart in ("message_tags", "person_conversations", "service_conversations",
                     "service_kpis"):  # fmt: skip
            con.execute(f"drop table if exists {mart}")
    monkeypatch.setenv("SCRM_WAREHOUSE", str(copy))
    at = page()
    assert [i.value for i in at.info if "scrm build" in i.value]
    assert not at.get("plotly_chart") and not at.dataframe
    at.text_input(key="conv_try").input("蹲链接").run()
    assert not at.exception, at.exception
    assert {m.label: m.value for m in at.metric}["意图 / Intent"] == "高意向"
