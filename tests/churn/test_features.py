"""Point-in-time features: nothing after the cutoff reaches a feature; values by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scrm_lib.churn.calendar import cutoff_calendar
from scrm_lib.churn.config import ChurnError
from scrm_lib.churn.features import FEATURE_NAMES, feature_frame
from scrm_lib.config import load_settings
from scrm_lib.engine import duckdb_connect
from tests.churn.conftest import CUTOFF, CUTOFF_TS, load, synthetic_tables
from tests.value.conftest import order, put

TIME_COL = {"orders": "paid_at", "events": "ts", "messages": "ts", "touches": "ts",
            "referrals": "ts"}  # fmt: skip


def features_of(tables, settings) -> pd.DataFrame:
    con = load(duckdb_connect(), tables)
    try:
        return feature_frame(con, cutoff=CUTOFF, settings=settings)
    finally:
        con.disconnect()


def after_cutoff_mutated(tables: dict, seed: int) -> dict:
    """Shuffle, rewrite, delete and add rows whose time is at or after the cutoff."""
    rng = np.random.default_rng(seed)
    out = {k: v.copy() for k, v in tables.items()}
    for name, col in TIME_COL.items():
        df = out[name]
        late = df[col] >= CUTOFF_TS
        idx = df.index[late]
        for c in df.columns:
            if c in (col, "created_at", "order_id", "event_id", "message_id", "touch_id"):
                continue
            df.loc[idx, c] = rng.permutation(df.loc[idx, c].to_numpy())
        # move late rows around in time (still after the cutoff), drop some, add copies
        shift = pd.to_timedelta(rng.integers(0, 30 * 86400, len(idx)), unit="s")
        df.loc[idx, col] = df.loc[idx, col] + shift
        if name == "orders":
            df.loc[idx, "created_at"] = df.loc[idx, col]
        extra = df.loc[idx[: len(idx) // 3]].copy()
        key = {"orders": "order_id", "events": "event_id", "messages": "message_id",
               "touches": "touch_id"}.get(name)  # fmt: skip
        if key:
            extra[key] = extra[key] + "_new"
        df = df.drop(index=idx[len(idx) // 2 :])
        out[name] = pd.concat([df, extra], ignore_index=True)
    # facts recorded later about earlier rows: refunds of recent orders, opens of recent touches
    o = out["orders"]
    recent = (o["paid_at"] < CUTOFF_TS) & (o["paid_at"] >= CUTOFF_TS - pd.Timedelta(days=15))
    o.loc[recent, "refund_amount"] = o.loc[recent, "amount"]
    o.loc[recent, "status"] = "refunded"
    t = out["touches"]
    fresh = (t["ts"] < CUTOFF_TS) & (t["ts"] >= CUTOFF_TS - pd.Timedelta(days=3))
    t.loc[fresh, "opened"] = ~t.loc[fresh, "opened"].astype(bool)
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_changing_anything_after_the_cutoff_changes_no_feature(tmp_path, seed):
    settings = load_settings(tmp_path)
    tables = synthetic_tables(seed=seed)
    before = features_of(tables, settings)
    after = features_of(after_cutoff_mutated(tables, seed + 10), settings)
    assert len(before) > 100
    pd.testing.assert_frame_equal(before, after)


def test_the_leakage_check_can_fail(tmp_path):
    """A change before the cutoff does change features (the comparison is not vacuous)."""
    settings = load_settings(tmp_path)
    tables = synthetic_tables(seed=0)
    before = features_of(tables, settings)
    changed = {k: v.copy() for k, v in tables.items()}
    ev = changed["events"]
    early = ev["ts"] < CUTOFF_TS - pd.Timedelta(days=5)
    ev.loc[early, "type"] = "page_view"
    after = features_of(changed, settings)
    assert not before.equals(after)


def test_values_by_hand(tmp_path):
    settings = load_settings(tmp_path)
    con = duckdb_connect()
    # cutoff: end of 2026-03-31 Shanghai = 2026-03-31 16:00 UTC
    put(con, "accounts", [{"account_id": "a", "platform": "tmall", "channel_code": "QR"},
                          {"account_id": "w", "platform": "wechat"}])  # fmt: skip
    put(con, "orders", [
        order("a", "1", "2026-01-01 04:00:00+00", 100.0),
        order("a", "2", "2026-01-22 04:00:00+00", 50.0, refund=50.0, status="refunded"),
        order("a", "3", "2026-02-12 04:00:00+00", 30.0),
        order("a", "4", "2026-04-02 04:00:00+00", 999.0),  # after the cutoff
    ])  # fmt: skip
    put(con, "events", [
        {"event_id": "e1", "account_id": "w", "ts": "2026-03-20 01:00:00+00",
         "type": "cart_add"},
        {"event_id": "e2", "account_id": "w", "ts": "2026-03-25 01:00:00+00",
         "type": "wecom_customer_deleted_staff"},
        {"event_id": "e3", "account_id": "w", "ts": "2026-04-05 01:00:00+00",
         "type": "page_view"},
    ])  # fmt: skip
    con.create_table(
        "person_accounts", pd.DataFrame({"account_id": ["a", "w"], "person_id": ["P", "P"]})
    )
    f = feature_frame(con, cutoff="2026-03-31", settings=settings).set_index("person_id").loc["P"]
    assert f["recency_days"] == 47  # 2026-02-12 04:00 -> 2026-03-31 16:00 is 47.5 days
    assert f["orders"] == 3 and f["orders_90"] == 3 and f["orders_30"] == 0
    assert f["spend_90"] == pytest.approx(180.0)  # gross: the refunded order was a purchase
    assert f["cycle_days"] == 21 and f["recency_over_cycle"] == pytest.approx(47 / 21)
    assert f["spend_total"] == pytest.approx(180.0)
    assert f["refunds"] == 1 and f["refund_share"] == pytest.approx(50 / 180, abs=1e-4)
    assert f["abandoned_carts_30"] == 1 and f["cart_adds_30"] == 1
    assert f["deleted_staff"] == 1 and f["deleted_staff_90"] == 1
    assert f["days_since_interaction"] == 6  # the deletion on 03-25 01:00 UTC
    assert f["from_channel"] == 1 and f["page_views_90"] == 0
    assert f["days_to_next_sale"] == 62  # 2026-04-01 .. 2026-06-01
    assert list(f.index) == list(FEATURE_NAMES)


def test_calendar():
    import datetime as dt

    assert cutoff_calendar(dt.date(2026, 6, 10))["days_to_next_sale"] == 0
    assert cutoff_calendar(dt.date(2026, 6, 19))["days_since_sale"] == 1
    assert cutoff_calendar(dt.date(2026, 2, 10))["days_to_spring_festival"] == 7
    assert cutoff_calendar(dt.date(2026, 12, 13))["days_to_next_sale"] == 170  # 2027-06-01


def test_a_cutoff_with_no_history_says_so(tmp_path):
    settings = load_settings(tmp_path)
    con = load(duckdb_connect(), synthetic_tables(seed=0))
    with pytest.raises(ChurnError, match="no history"):
        feature_frame(con, cutoff="2024-06-01", settings=settings)
