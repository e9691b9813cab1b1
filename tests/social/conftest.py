"""A hand-made warehouse for the channels tests: nine persons, each a case of a rule."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest

from scrm_lib.config import load_settings
from scrm_lib.engine import duckdb_connect, register_arrow
from tests.value.conftest import order, put


def event(acc: str, ts: str, kind: str, **attrs: Any) -> dict:
    return {"event_id": f"{acc}-{kind}-{ts}", "account_id": acc, "ts": ts, "type": kind,
            "attributes": json.dumps(attrs)}  # fmt: skip


def account(acc: str, first_seen: str, platform: str | None = None, code: str | None = None):
    plat, native = acc.split(":")
    return {"account_id": acc, "platform": platform or plat, "native_id": native,
            "first_seen": first_seen, "channel_code": code}  # fmt: skip


#: account → person (OneID's answer, written by hand)
PERSONS = {
    "wecom:a": "PA", "wechat:a": "PA", "tmall:a": "PA",  # first touch on wechat, then wecom
    "wecom:b": "PB", "wechat:b": "PB",  # two touches in the same second
    "tmall:c": "PC", "wechat:c": "PC",  # bought first, scanned later
    "wechat:d": "PD",  # nothing at all
    "wechat:e": "PE",  # scanned a code the channels table lacks
    "wechat:f": "PF",  # invited by PA, a customer then
    "wechat:g": "PG",  # invited by PD, who never bought
    "wechat:h": "PH", "wechat:h2": "PH",  # invited themselves (two accounts, one person)
    "douyin:i": "PI",  # bought in a 达人's live room
    "wechat:j": "PJ",  # scanned a poster whose cost nobody entered
}  # fmt: skip

#: when each account was first seen (its first activity; the rest: 2026-01-01)
FIRST_SEEN = {
    "wechat:a": "2026-01-03T09:00:00Z", "wecom:a": "2026-01-05T10:00:00Z",
    "tmall:a": "2026-01-10T12:00:00Z", "tmall:c": "2026-01-02T12:00:00Z",
    "wechat:c": "2026-01-05T08:00:00Z", "wechat:e": "2026-01-06T08:00:00Z",
    "wechat:f": "2026-02-01T08:00:00Z", "wechat:g": "2026-02-01T08:00:00Z",
    "wechat:h": "2026-02-01T08:00:00Z", "wechat:h2": "2026-02-01T08:00:00Z",
    "douyin:i": "2026-01-08T12:00:00Z", "wechat:j": "2026-01-07T08:00:00Z",
    "wecom:b": "2026-01-04T08:00:00Z", "wechat:b": "2026-01-04T08:00:00Z",
}  # fmt: skip

CHANNELS = [
    {"channel_id": "HM1", "name": "导购活码1", "type": "活码", "campaign": "C1", "staff_id": "s1",
     "cost": 100.0},
    {"channel_id": "AD1", "name": "朋友圈广告1", "type": "广告", "campaign": "C1", "cost": 1000.0},
    {"channel_id": "HB1", "name": "海报1", "type": "海报", "cost": None},
]  # fmt: skip


def write_sample(con: Any) -> None:
    put(con, "accounts", [account(a, FIRST_SEEN.get(a, "2026-01-01T00:00:00Z")) for a in PERSONS])
    put(con, "events", [
        event("wechat:a", "2026-01-03T09:00:00Z", "qr_scan", channel_code="AD1"),
        event("wecom:a", "2026-01-05T10:00:00Z", "wecom_add", staff="s2", state="HM1"),
        event("wecom:b", "2026-01-04T08:00:00Z", "wecom_add", staff="s1", state="HM1"),
        event("wechat:b", "2026-01-04T08:00:00Z", "qr_scan", channel_code="HB1"),
        event("wechat:c", "2026-01-05T08:00:00Z", "qr_scan", channel_code="AD1"),
        event("wechat:e", "2026-01-06T08:00:00Z", "qr_scan", channel_code="ZZ9"),
        event("wechat:j", "2026-01-07T08:00:00Z", "qr_scan", channel_code="HB1"),
    ])  # fmt: skip
    put(con, "orders", [
        order("tmall:a", "o-a1", "2026-01-10T12:00:00Z", 300.0),
        order("tmall:c", "o-c1", "2026-01-02T12:00:00Z", 80.0),
        order("douyin:i", "o-i1", "2026-01-08T12:00:00Z", 120.0, platform="douyin")
        | {"influencer_id": "DR1", "traffic_source": "直播"},
        order("tmall:c", "o-c2", "2026-04-30T12:00:00Z", 50.0),
    ])  # fmt: skip
    put(con, "referrals", [
        {"inviter_account_id": "wechat:a", "invitee_account_id": "wechat:f",
         "ts": "2026-02-01T08:00:00Z", "kind": "invite", "campaign": "老带新"},
        {"inviter_account_id": "wechat:d", "invitee_account_id": "wechat:g",
         "ts": "2026-02-01T08:00:00Z", "kind": "invite", "campaign": "老带新"},
        {"inviter_account_id": "wechat:h", "invitee_account_id": "wechat:h2",
         "ts": "2026-02-01T08:00:00Z", "kind": "invite", "campaign": "老带新"},
    ])  # fmt: skip
    put(con, "channels", CHANNELS)
    pm = pd.DataFrame({"account_id": list(PERSONS), "person_id": list(PERSONS.values())})
    import pyarrow as pa

    register_arrow(con, "person_accounts", pa.Table.from_pandas(pm, preserve_index=False))


@pytest.fixture
def warehouse():
    con = duckdb_connect()
    write_sample(con)
    yield con
    con.disconnect()


@pytest.fixture
def settings(tmp_path):
    return load_settings(tmp_path)
