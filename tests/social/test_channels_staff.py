"""The staff (导购) view on a hand-made warehouse: every number counted by hand.

Four contacts, three staff members:

- PX: added by s1 through 活码 HM1 on 01-10; orders 200 on 01-20 and 50 on 03-10;
  two bursts of questions to s1 on 01-12, answered after 5 and 20 minutes;
- PY: bought 100 on 01-05 (a Tmall customer already), added by s1 on 02-01,
  deleted s1 on 02-15;
- PZ: added by s2 on 01-15; bought 40 on 02-10 (their first order); handed to s3
  on 02-20; bought 70 on 03-01 (after the handover: what s2 lost);
- PW: added by s3 on 01-20; s3's transfer of PW failed on 03-05; s3 deleted PW
  on 03-06.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from scrm_lib.engine import duckdb_connect, register_arrow
from scrm_lib.social.channels.analysis import staff_view
from tests.social.conftest import account, event
from tests.value.conftest import order, put

PERSONS = {"wecom:x": "PX", "tmall:x": "PX", "wecom:y": "PY", "tmall:y": "PY",
           "wecom:z": "PZ", "tmall:z": "PZ", "wecom:w": "PW"}  # fmt: skip
FIRST_SEEN = {"wecom:x": "2026-01-10T08:00:00Z", "tmall:x": "2026-01-20T08:00:00Z",
              "tmall:y": "2026-01-05T08:00:00Z", "wecom:y": "2026-02-01T08:00:00Z",
              "wecom:z": "2026-01-15T08:00:00Z", "tmall:z": "2026-02-10T08:00:00Z",
              "wecom:w": "2026-01-20T08:00:00Z"}  # fmt: skip


def message(acc: str, ts: str, direction: str) -> dict:
    return {"message_id": f"{acc}-{ts}", "account_id": acc, "ts": ts, "channel": "wecom_private",
            "room_id": None, "direction": direction, "staff_id": "s1", "text": "…"}  # fmt: skip


@pytest.fixture
def warehouse():
    import pyarrow as pa

    con = duckdb_connect()
    put(con, "accounts", [account(a, FIRST_SEEN[a]) for a in PERSONS])
    put(con, "events", [
        event("wecom:x", "2026-01-10T08:00:00Z", "wecom_add", staff="s1", state="HM1"),
        event("wecom:y", "2026-02-01T08:00:00Z", "wecom_add", staff="s1"),
        event("wecom:y", "2026-02-15T08:00:00Z", "wecom_customer_deleted_staff", staff="s1"),
        event("wecom:z", "2026-01-15T08:00:00Z", "wecom_follow", staff="s2"),
        event("wecom:z", "2026-02-20T08:00:00Z", "wecom_handover", staff="s3", from_staff="s2"),
        event("wecom:w", "2026-01-20T08:00:00Z", "wecom_add", staff="s3"),
        event("wecom:w", "2026-03-05T08:00:00Z", "wecom_transfer_fail", from_staff="s3"),
        event("wecom:w", "2026-03-06T08:00:00Z", "wecom_staff_deleted_customer", staff="s3"),
    ])  # fmt: skip
    put(con, "orders", [
        order("tmall:x", "x1", "2026-01-20T08:00:00Z", 200.0),
        order("tmall:x", "x2", "2026-03-10T08:00:00Z", 50.0),
        order("tmall:y", "y1", "2026-01-05T08:00:00Z", 100.0),
        order("tmall:z", "z1", "2026-02-10T08:00:00Z", 40.0),
        order("tmall:z", "z2", "2026-03-01T08:00:00Z", 70.0),
    ])  # fmt: skip
    put(con, "messages", [
        message("wecom:x", "2026-01-12T10:00:00Z", "in"),
        message("wecom:x", "2026-01-12T10:01:00Z", "in"),
        message("wecom:x", "2026-01-12T10:05:00Z", "out"),
        message("wecom:x", "2026-01-12T11:00:00Z", "in"),
        message("wecom:x", "2026-01-12T11:20:00Z", "out"),
    ])  # fmt: skip
    put(con, "channels", [{"channel_id": "HM1", "name": "活码1", "type": "活码",
                           "staff_id": "s1", "cost": 10.0}])  # fmt: skip
    pm = pd.DataFrame({"account_id": list(PERSONS), "person_id": list(PERSONS.values())})
    register_arrow(con, "person_accounts", pa.Table.from_pandas(pm, preserve_index=False))
    yield con
    con.disconnect()


COUNTS = ("contacts_added", "acquired", "deleted_by_contact", "deleted_by_staff", "handed_over",
          "received", "transfer_failed", "first_orders", "buyers", "responses")  # fmt: skip


def _rows(df: pd.DataFrame) -> dict[str, dict]:
    return df.set_index("staff_id").to_dict("index")


def test_the_whole_period(warehouse, settings):
    got = _rows(staff_view(warehouse, settings=settings))
    expected = {
        # added, acquired, deleted by contact / by staff, handed over, received, failed,
        # first orders, buyers, answered bursts
        "s1": (2, 1, 1, 0, 0, 0, 0, 1, 1, 2),  # PY's order came before the add
        "s2": (1, 0, 0, 0, 1, 0, 0, 1, 1, 0),
        "s3": (1, 0, 0, 1, 0, 1, 1, 0, 0, 0),
    }
    assert {s: tuple(int(r[c]) for c in COUNTS) for s, r in got.items()} == expected
    assert got["s1"]["contacts_gmv"] == 250.0 and got["s1"]["lost_gmv"] == 0.0
    assert got["s2"]["contacts_gmv"] == 110.0 and got["s2"]["lost_gmv"] == 70.0
    assert got["s1"]["median_response_minutes"] == pytest.approx(12.5)  # of 5 and 20
    assert math.isnan(got["s2"]["median_response_minutes"])


def test_a_period_counts_what_happened_in_it(warehouse, settings):
    got = _rows(staff_view(warehouse, since="2026-02-01", until="2026-02-28", settings=settings))
    expected = {
        "s1": (1, 0, 1, 0, 0, 0, 0, 0, 0, 0),  # PY added and gone; PX's add and chat in January
        "s2": (0, 0, 0, 0, 1, 0, 0, 1, 1, 0),  # PZ's first order (40) in February
        "s3": (0, 0, 0, 0, 0, 1, 0, 0, 0, 0),
    }
    assert {s: tuple(int(r[c]) for c in COUNTS) for s, r in got.items()} == expected
    assert got["s2"]["contacts_gmv"] == 40.0
    assert got["s2"]["lost_gmv"] == 0.0  # PZ's order after the handover came in March
