"""A synthetic warehouse with every table churn reads, built from a seed (no files)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.value.conftest import put

START = pd.Timestamp("2025-01-01", tz="UTC")
DAYS = 600
CUTOFF = "2026-01-15"  # local day; the cutoff is its end (16:00 UTC)
CUTOFF_TS = pd.Timestamp("2026-01-15 16:00:00", tz="UTC")


def synthetic_tables(seed: int = 1, n_persons: int = 300) -> dict[str, pd.DataFrame]:
    """Canonical rows: accounts, orders, events, messages, touches, referrals."""
    rng = np.random.default_rng(seed)
    acc = [f"tmall:{i}" for i in range(n_persons)] + [f"wechat:{i}" for i in range(n_persons)]

    def times(n: int) -> pd.Series:
        return START + pd.to_timedelta(rng.integers(0, DAYS * 86400, n), unit="s")

    n_o = n_persons * 6
    o_ts = times(n_o)
    amount = rng.gamma(2.0, 80.0, n_o).round(2)
    refunded = rng.random(n_o) < 0.1
    orders = pd.DataFrame(
        {
            "platform": "tmall",
            "order_id": [f"o{i}" for i in range(n_o)],
            "line_id": "",
            "account_id": rng.choice(acc[:n_persons], n_o),
            "created_at": o_ts,
            "paid_at": o_ts,
            "amount": amount,
            "refund_amount": np.where(refunded, amount, 0.0),
            "status": np.where(refunded, "refunded", "paid"),
        }
    )
    types = ["page_view", "cart_add", "groupbuy_join", "share", "wecom_customer_deleted_staff",
             "wecom_staff_deleted_customer", "wecom_handover", "group_join", "group_leave",
             "wecom_follow"]  # fmt: skip
    n_e = n_persons * 10
    events = pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(n_e)],
            "account_id": rng.choice(acc, n_e),
            "ts": times(n_e),
            "type": rng.choice(types, n_e),
        }
    )
    n_m = n_persons * 3
    messages = pd.DataFrame(
        {
            "message_id": [f"m{i}" for i in range(n_m)],
            "account_id": rng.choice(acc[n_persons:], n_m),
            "ts": times(n_m),
            "channel": "wecom_private",
            "direction": rng.choice(["in", "out"], n_m),
        }
    )
    n_t = n_persons * 4
    touches = pd.DataFrame(
        {
            "touch_id": [f"t{i}" for i in range(n_t)],
            "account_id": rng.choice(acc, n_t),
            "ts": times(n_t),
            "channel": "sms",
            "opened": rng.random(n_t) < 0.3,
            "clicked": rng.random(n_t) < 0.1,
        }
    )
    n_r = n_persons
    referrals = pd.DataFrame(
        {
            "inviter_account_id": rng.choice(acc[n_persons:], n_r),
            "invitee_account_id": [f"wechat:new{i}" for i in range(n_r)],
            "ts": times(n_r),
            "kind": "invite",
        }
    )
    accounts = pd.DataFrame(
        {
            "account_id": acc,
            "platform": [a.split(":")[0] for a in acc],
            "channel_code": np.where(rng.random(len(acc)) < 0.3, "QR1", None),
        }
    )
    # OneID: tmall:i and wechat:i are one person
    person_accounts = pd.DataFrame(
        {"account_id": acc, "person_id": [f"P{a.split(':')[1]}" for a in acc]}
    )
    return {
        "accounts": accounts,
        "orders": orders,
        "events": events,
        "messages": messages,
        "touches": touches,
        "referrals": referrals,
        "person_accounts": person_accounts,
    }


def load(con: Any, tables: dict[str, pd.DataFrame]) -> Any:
    for name, df in tables.items():
        if name == "person_accounts":
            con.create_table(name, df, overwrite=True)
        else:
            put(con, name, df)
    return con


@pytest.fixture
def tables() -> dict[str, pd.DataFrame]:
    return synthetic_tables()
