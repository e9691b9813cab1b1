"""The conversations build step on a hand-made warehouse: marts, person windows and tags.

Three customers (two accounts of PA joined by OneID), one staff member; the latest
message is on 03-31, so "the last 7 days" starts on 03-24.
"""

from __future__ import annotations

import pandas as pd
import pytest

from scrm_lib.config import load_settings
from scrm_lib.engine import duckdb_connect, register_arrow
from scrm_lib.social.conversations.analysis import high_intent_persons, message_intents
from scrm_lib.social.conversations.step import run
from scrm_lib.tags.registry import tags_table
from scrm_lib.warehouse.steps import StepContext
from tests.social.conftest import account
from tests.value.conftest import put

PERSONS = {"wecom:a": "PA", "wechat:a": "PA", "wecom:b": "PB", "douyin:c": "PC"}


def msg(mid: str, acc: str, ts: str, text: str, direction: str = "in",
        channel: str = "wecom_private") -> dict:  # fmt: skip
    return {"message_id": mid, "account_id": acc, "ts": ts, "channel": channel, "room_id": None,
            "direction": direction, "staff_id": "s1", "text": text}  # fmt: skip


MESSAGES = [
    msg("m1", "wecom:a", "2026-03-01T02:00:00Z", "这个面膜多少钱"),  # purchase, too early
    msg("m2", "wecom:a", "2026-03-01T02:05:00Z", "您好，69元一盒", "out"),
    msg("m3", "wechat:a", "2026-03-30T02:00:00Z", "蹲链接", channel="miniapp_service"),
    msg("m4", "wecom:b", "2026-03-20T02:00:00Z", "敏感肌能用吗"),  # 11 days before: in 14
    msg("m5", "wecom:b", "2026-03-28T02:00:00Z", "怎么还没到！！！太慢了"),  # service, negative
    msg("m6", "douyin:c", "2026-03-31T02:00:00Z", "[图片]", channel="douyin_comment"),
]


@pytest.fixture
def built(tmp_path):
    import pyarrow as pa

    con = duckdb_connect()
    put(con, "messages", MESSAGES)
    pm = pd.DataFrame({"account_id": list(PERSONS), "person_id": list(PERSONS.values())})
    register_arrow(con, "person_accounts", pa.Table.from_pandas(pm, preserve_index=False))
    counts = run(StepContext(con, load_settings(tmp_path), "b1"))
    yield con, counts
    con.disconnect()


def test_every_message_is_tagged_once_under_its_person(built):
    con, counts = built
    assert counts["message_tags"] == len(MESSAGES)
    t = con.table("message_tags").execute().set_index("message_id")
    assert t.loc["m1", "person_id"] == t.loc["m3", "person_id"] == "PA"  # OneID's person
    assert t.loc["m2", "intent"] == "staff"
    assert (t.loc["m3", "intent"], t.loc["m3", "phrase"]) == ("purchase_intent", "蹲链接")
    assert (t.loc["m5", "intent"], t.loc["m5", "sentiment"]) == ("service_logistics", "negative")
    assert (t.loc["m6", "intent"], t.loc["m6", "reason"]) == ("other", "placeholder [图片]")


def test_person_windows_count_back_from_the_latest_message(built):
    con, _ = built
    p = con.table("person_conversations").execute().set_index("person_id")
    assert p.loc["PA", "messages"] == 2  # the staff reply is not theirs
    assert p.loc["PA", "purchase_intent_7d"] == 1  # m3; m1 is a month old
    assert p.loc["PB", "needs_explanation_14d"] == 1
    assert (p.loc["PB", "service_30d"], p.loc["PB", "negative_30d"]) == (1, 1)
    assert p.loc["PB", "last_negative_message_id"] == "m5"
    assert p.loc["PB", "negative_share"] == pytest.approx(0.5)
    assert p.loc["PA", "last_intent"] == "purchase_intent"


def test_tags_are_written_through_the_registry(built):
    con, _ = built
    tags = tags_table(con).execute()
    got = set(zip(tags["person_id"], tags["tag"], strict=True))
    assert got == {("PA", "high_intent"), ("PB", "needs_explanation"),
                   ("PB", "negative_sentiment"), ("PB", "service_issue")}  # fmt: skip
    assert set(tags["source"]) == {"conversations"} and set(tags["build_id"]) == {"b1"}


def test_the_library_reads_the_marts(built):
    con, _ = built
    hi = high_intent_persons(con)
    assert hi["person_id"].tolist() == ["PA"] and hi["text"].tolist() == ["蹲链接"]
    mix = message_intents(con, freq="month")
    march = mix.set_index("intent")["messages"]
    assert march["purchase_intent"] == 2 and "staff" not in march


@pytest.mark.parametrize("messages", [None, []], ids=["no table", "empty table"])
def test_a_warehouse_without_messages_builds_empty_marts(tmp_path, messages):
    con = duckdb_connect()
    if messages is not None:  # an archive with no rows in a warehouse that has accounts
        put(con, "messages", pd.DataFrame(columns=list(MESSAGES[0])))
        put(con, "accounts", [account("wecom:a", "2026-01-01T00:00:00Z")])
    counts = run(StepContext(con, load_settings(tmp_path), "b1"))
    assert counts == dict.fromkeys(counts, 0)
    assert con.table("message_tags").count().execute() == 0
    con.disconnect()


def test_a_period_is_of_local_days(built):
    con, _ = built
    # m6 came at 10:00 on 03-31 Shanghai time; m3 at 10:00 on 03-30
    last_day = message_intents(con, freq="day", since="2026-03-31")
    assert last_day["messages"].sum() == 1 and last_day["intent"].tolist() == ["other"]
    before = message_intents(con, freq="day", since="2026-03-30", until="2026-03-30")
    assert before["intent"].tolist() == ["purchase_intent"]
