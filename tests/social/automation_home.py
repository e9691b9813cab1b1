"""A hand-made warehouse for the automation tests: one person per case of a shipped rule.

The run date is 2026-12-10 (Asia/Shanghai), so the run's instant ``AT`` is
2026-12-09 16:00 UTC; every time below is written relative to it.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pandas as pd
import pyarrow as pa

from scrm_lib.engine import duckdb_connect, register_arrow
from tests.value.conftest import order, put

DAY_ = dt.date(2026, 12, 10)
AT = pd.Timestamp("2026-12-10 00:00", tz="Asia/Shanghai").tz_convert("UTC")


def at(**delta: float) -> str:
    """``AT`` minus ``delta`` (hours=, days=, minutes=), as UTC ISO text."""
    return (AT - pd.Timedelta(**delta)).isoformat()


def local(text: str) -> str:
    """A Shanghai wall-clock time as UTC ISO text."""
    return pd.Timestamp(text, tz="Asia/Shanghai").tz_convert("UTC").isoformat()


def event(acc: str, ts: str, kind: str, n: int = 0, **attrs: Any) -> dict:
    return {"event_id": f"{acc}-{kind}-{ts}-{n}", "account_id": acc, "ts": ts, "type": kind,
            "attributes": json.dumps(attrs)}  # fmt: skip


#: person → accounts (each person has a WeCom contact unless said otherwise)
PERSONS: dict[str, list[str]] = {
    "G3": ["wecom:g3"],  # 3 group-buy page views in 7 days, no order
    "G2": ["wecom:g2"],  # 2 views
    "GO": ["wecom:go"],  # 3 views, but ordered
    "C1": ["wecom:c1"],  # cart 24 h 01 ago, unpaid
    "C2": ["wecom:c2"],  # cart 23 h 59 ago
    "C3": ["wecom:c3"],  # cart at 23:30 on 8 December (local), unpaid
    "CP": ["wecom:cp"],  # cart 30 h ago, paid after
    "D180": ["wecom:d180"],  # last order 180 days before the run day
    "D179": ["wecom:d179"],
    "S30": ["wecom:s30"],  # a buyer silent exactly 30 days
    "L60": ["wecom:l60"],  # bought in a live room, silent 61 days
    "B0": ["wecom:b0", "wechat:b0"],  # birthday on the run day
    "R14": ["wecom:r14"],  # first and only order 14 days ago
    "WR": ["wecom:wr"],  # acquired yesterday through a referral
    "WA": ["wecom:wa"],  # acquired yesterday through an ad
    "HI": ["wecom:hi"],  # asked for the link yesterday
    "VN": ["wecom:vn"],  # a champion who complained yesterday
    "OPT": ["wecom:opt"],  # would be dormant, but opted out of WeCom
    "NOACC": ["wechat:noacc"],  # dormant, no WeCom contact (miniapp needs opt-in)
}


def rows(con: Any) -> None:
    accounts = [
        {"account_id": a, "platform": a.split(":")[0], "native_id": a.split(":")[1],
         "first_seen": "2025-01-01T00:00:00Z"}
        for accs in PERSONS.values() for a in accs
    ]  # fmt: skip
    for a in accounts:
        if a["account_id"] in ("wecom:wr", "wecom:wa"):
            a["first_seen"] = at(hours=10)
    put(con, "accounts", accounts)
    gb = {"page": "pages/groupbuy/detail"}
    put(con, "events", [
        *[event("wecom:g3", at(days=d), "page_view", **gb) for d in (1, 3, 6.9)],
        event("wecom:g3", at(days=8), "page_view", **gb),  # outside 7 days
        *[event("wecom:g2", at(days=d), "page_view", **gb) for d in (1, 3)],
        event("wecom:g2", at(days=2), "page_view", page="pages/index"),  # not group-buy
        *[event("wecom:go", at(days=d), "page_view", **gb) for d in (1, 2, 3)],
        event("wecom:c1", at(hours=24, minutes=1), "cart_add"),
        event("wecom:c2", at(hours=23, minutes=59), "cart_add"),
        event("wecom:c3", local("2026-12-08 23:30"), "cart_add"),
        event("wecom:cp", at(hours=30), "cart_add"),
        event("wecom:l60", at(days=61), "page_view"),
    ])  # fmt: skip
    put(con, "orders", [
        order("wecom:go", "o-go", at(days=2), 50.0),
        order("wecom:cp", "o-cp", at(hours=20), 80.0),
        order("wecom:d180", "o-d180", local("2026-06-13 15:00"), 100.0),
        order("wecom:d179", "o-d179", local("2026-06-14 15:00"), 100.0),
        order("wecom:opt", "o-opt", local("2026-06-01 15:00"), 100.0),
        order("wechat:noacc", "o-noacc", local("2026-06-01 15:00"), 100.0),
        order("wecom:s30", "o-s30", local("2026-11-10 12:00"), 60.0),
        order("wecom:l60", "o-l60", at(days=90), 60.0) | {"traffic_source": "直播"},
        order("wecom:r14", "o-r14", local("2026-11-26 20:00"), 70.0),
        order("wecom:vn", "o-vn", at(days=5), 900.0),
    ])  # fmt: skip
    put(con, "identifiers", [
        {"account_id": "wechat:b0", "kind": "birthday", "value": "1990-12-10"},
        {"account_id": "wecom:r14", "kind": "birthday", "value": "1991-12-11"},
    ])  # fmt: skip
    put(con, "consent", [
        {"account_id": "wecom:opt", "channel": "wecom_1v1", "granted": True, "ts": at(days=100)},
        {"account_id": "wecom:opt", "channel": "wecom_1v1", "granted": False, "ts": at(days=10)},
    ])  # fmt: skip
    put(con, "touches", [
        {"touch_id": "t0", "account_id": "wecom:g2", "ts": at(days=1), "channel": "wecom_1v1",
         "campaign": "双12", "opened": True, "clicked": False},
    ])  # fmt: skip
    pm = pd.DataFrame([(a, p) for p, accs in PERSONS.items() for a in accs],
                      columns=["account_id", "person_id"])  # fmt: skip
    register_arrow(con, "person_accounts", pa.Table.from_pandas(pm, preserve_index=False))
    ts = pd.Timestamp("2026-12-01T00:00:00Z")
    from scrm_lib.schema import MARTS

    tags = pd.DataFrame([
        {"person_id": "WR", "tag": "channel_type", "value": "referral", "source": "channels",
         "since": AT - pd.Timedelta(hours=10)},
        {"person_id": "WA", "tag": "channel_type", "value": "广告", "source": "channels",
         "since": AT - pd.Timedelta(hours=10)},
        {"person_id": "G3", "tag": "channel_type", "value": "referral", "source": "channels",
         "since": ts - pd.Timedelta(days=300)},
    ])  # fmt: skip
    register_arrow(con, "person_tags", pa.Table.from_pandas(
        MARTS["person_tags"].typed(tags), preserve_index=False))  # fmt: skip
    mt = pd.DataFrame([
        {"message_id": "m1", "person_id": "HI", "account_id": "wecom:hi",
         "ts": AT - pd.Timedelta(hours=5),
         "channel": "wecom_private", "direction": "in", "staff_id": "s1",
         "intent": "purchase_intent", "sentiment": "neutral"},
        {"message_id": "m2", "person_id": "VN", "account_id": "wecom:vn",
         "ts": AT - pd.Timedelta(hours=3),
         "channel": "wecom_private", "direction": "in", "staff_id": "s7",
         "intent": "complaint", "sentiment": "negative"},
    ])  # fmt: skip
    register_arrow(con, "message_tags", pa.Table.from_pandas(
        MARTS["message_tags"].typed(mt), preserve_index=False))  # fmt: skip
    vp = pd.DataFrame({"person_id": list(PERSONS)})
    vp["rfm_segment"] = ["champions" if p == "VN" else "general_develop" for p in vp["person_id"]]
    vp["frequency"], vp["actions"] = 1, 0
    register_arrow(con, "value_persons", pa.Table.from_pandas(
        MARTS["value_persons"].typed(vp), preserve_index=False))  # fmt: skip


def home() -> Any:
    con = duckdb_connect()
    rows(con)
    return con
