"""KPIs on a hand-made case (as of 2026-06-30, Shanghai days), worked by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from scrm_lib.config import load_settings
from scrm_lib.errors import ConfigError
from scrm_lib.value import kpis as K

from .conftest import order, put


def noon(day: str) -> str:
    return f"{day} 04:00:00+00"


ORDERS = [
    order("t:A", "a1", noon("2026-01-10"), 50),
    order("w:A", "a2", noon("2026-06-20"), 50, platform="wechat"),
    order("t:B", "b1", noon("2026-06-25"), 100),
    order("t:C", "c1", noon("2026-05-10"), 50),
    order("t:C", "c2", noon("2026-05-20"), 50),
    order("t:D", "d1", noon("2026-05-15"), 50),
]


def touch(tid, acc, day, campaign, opened=False):
    return {"touch_id": tid, "account_id": acc, "ts": noon(day), "channel": "wecom_1v1",
            "campaign": campaign, "opened": opened, "clicked": False}  # fmt: skip


TOUCHES = [
    touch("t1", "t:B", "2026-06-22", "生日关怀-A"),  # B buys 3 days later: converted
    touch("t2", "t:D", "2026-06-10", "生日关怀-B"),  # no purchase after
    touch("t3", "t:A", "2026-06-15", "2026618大促", opened=True),
    touch("t4", "t:C", "2026-06-16", "2026618大促"),
    touch("t0", "t:C", "2026-05-01", "2026618大促", opened=True),  # before the 28-day period
]


def _warehouse(duck, orders, touches):
    """Persons A (a Tmall and a WeChat account), B, C and D, with ``orders`` and ``touches``."""
    put(duck, "accounts", [{"account_id": a, "platform": "x"} for a in
                           ("t:A", "w:A", "t:B", "t:C", "t:D")])  # fmt: skip
    duck.create_table(
        "person_accounts",
        {"account_id": ["t:A", "w:A", "t:B", "t:C", "t:D"], "person_id": ["A", "A", "B", "C", "D"]},
    )
    put(duck, "orders", orders)
    put(duck, "touches", touches)
    return duck


@pytest.fixture
def wh(duck):
    return _warehouse(duck, ORDERS, TOUCHES)


def test_kpis_by_hand(wh, settings):
    df = K.kpis(wh, as_of="2026-06-30", settings=settings).set_index("kpi")
    v = df["value"]
    assert v["repeat_purchase_rate"] == pytest.approx(2 / 4)  # A and C of A, B, C, D
    assert v["crm_gmv_share"] == pytest.approx(50 / 150)  # A's wechat order of 06-03..06-30
    assert v["message_open_rate"] == pytest.approx(1 / 4)
    assert v["automation_conversion_rate"] == pytest.approx(1 / 2)
    assert v["new_30d_repurchase_rate"] == pytest.approx(1 / 2)  # C again, D not
    assert v["ltv"] == pytest.approx(350 / 6 * 1.5 * 3, abs=0.01)
    assert df.loc["repeat_purchase_rate", "met"] is True
    assert df.loc["message_open_rate", "met"] is False
    assert df.loc["ltv", "met"] is None


def test_targets_are_configuration(wh, tmp_path):
    (tmp_path / "scrm.toml").write_text("[kpis.targets]\nrepeat_purchase_rate = 0.6\n")
    df = K.kpis(wh, as_of="2026-06-30", settings=load_settings(tmp_path)).set_index("kpi")
    assert df.loc["repeat_purchase_rate", "target"] == 0.6
    assert df.loc["repeat_purchase_rate", "met"] is False
    (tmp_path / "scrm.toml").write_text("[kpis.targets]\nrepeat_rate = 0.6\n")
    with pytest.raises(ConfigError, match="'repeat_rate' is not a KPI"):
        K.kpis(wh, settings=load_settings(tmp_path))


def test_weekly_series(wh, settings):
    s = K.weekly(wh, as_of="2026-06-30", weeks=3, settings=settings)
    # weeks end on Sundays; the last is cut at the reference date (a Tuesday)
    assert [str(d) for d in s["week_end"].unique()] == ["2026-06-21", "2026-06-28", "2026-06-30"]
    last = s[s["week_end"].astype(str) == "2026-06-30"].set_index("kpi")["value"]
    assert last["repeat_purchase_rate"] == pytest.approx(0.5)
    first = s[s["week_end"].astype(str) == "2026-06-21"].set_index("kpi")["value"]
    assert first["crm_gmv_share"] == pytest.approx(1.0)  # only A's wechat order by 06-21


WEEKLY_ORDERS = [
    order("t:A", "a1", noon("2026-06-09"), 100),
    order("w:A", "a2", noon("2026-06-12"), 50, platform="wechat"),
    order("t:B", "b1", noon("2026-06-10"), 150),
    # nothing in the week to 06-21
    order("t:C", "c1", noon("2026-06-25"), 80, platform="youzan"),
    order("t:D", "d1", noon("2026-06-29"), 20),
]

WEEKLY_TOUCHES = [
    touch("t1", "t:A", "2026-06-09", "生日关怀", opened=True),  # A buys 06-12: converted
    touch("t2", "t:B", "2026-06-11", "2026618大促"),
    touch("t3", "t:C", "2026-06-23", "2026618大促", opened=True),
    touch("t4", "t:D", "2026-06-27", "welcome"),  # D buys 06-29: after the 06-28 cut, not at it
]


def test_weekly_values_by_hand_at_each_week_end(duck, tmp_path):
    """Seven-day windows, so every week holds its own buyers and touches."""
    _warehouse(duck, WEEKLY_ORDERS, WEEKLY_TOUCHES)
    (tmp_path / "scrm.toml").write_text("[kpis]\nrepeat_window_days = 7\nperiod_days = 7\n")
    s = K.weekly(duck, as_of="2026-06-30", weeks=4, settings=load_settings(tmp_path))
    assert s.attrs["as_of"] == "2026-06-30"
    by_week = {str(w): f.set_index("kpi")["value"] for w, f in s.groupby("week_end", sort=False)}
    assert list(by_week) == ["2026-06-14", "2026-06-21", "2026-06-28", "2026-06-30"]

    w = by_week["2026-06-14"]  # A twice (100 + 50 on WeChat), B once (150)
    assert w["repeat_purchase_rate"] == pytest.approx(1 / 2)
    assert w["ltv"] == pytest.approx(300 / 3 * 3 / 2 * 3.0)
    assert w["crm_gmv_share"] == pytest.approx(50 / 300)
    assert w["message_open_rate"] == pytest.approx(1 / 2)
    assert w["automation_conversion_rate"] == pytest.approx(1.0)

    w = by_week["2026-06-21"]  # no buyer, no touch
    for kpi in ("repeat_purchase_rate", "ltv", "message_open_rate", "automation_conversion_rate"):
        assert pd.isna(w[kpi]), kpi
    met = s[s["week_end"].astype(str) == "2026-06-21"].set_index("kpi")["met"]
    assert met["repeat_purchase_rate"] is None

    w = by_week["2026-06-28"]  # C once on Youzan; t3 opened, t4 not and D's purchase after the cut
    assert w["repeat_purchase_rate"] == 0.0
    assert w["ltv"] == pytest.approx(80 * 3.0)
    assert w["crm_gmv_share"] == pytest.approx(1.0)
    assert w["message_open_rate"] == pytest.approx(1 / 2)
    assert w["automation_conversion_rate"] == 0.0

    w = by_week["2026-06-30"]  # 06-24..06-30: C (80 on Youzan) and D (20); t4 only, converted
    assert w["repeat_purchase_rate"] == 0.0
    assert w["ltv"] == pytest.approx(100 / 2 * 3.0)
    assert w["crm_gmv_share"] == pytest.approx(80 / 100)
    assert w["message_open_rate"] == 0.0
    assert w["automation_conversion_rate"] == pytest.approx(1.0)
    assert s["value"][s["kpi"] == "new_30d_repurchase_rate"].isna().all()  # nobody new 31-60 days

    one = K.kpis(duck, as_of="2026-06-28", settings=load_settings(tmp_path)).set_index("kpi")
    pd.testing.assert_series_equal(
        one["value"], by_week["2026-06-28"], check_names=False, check_exact=True
    )


def test_a_period_without_crm_sales_has_a_zero_share_and_one_without_sales_none(duck, settings):
    put(duck, "accounts", [{"account_id": "t:A", "platform": "x"}])
    duck.create_table("person_accounts", {"account_id": ["t:A"], "person_id": ["A"]})
    put(duck, "orders", [order("t:A", "a1", noon("2026-06-20"), 80)])  # Tmall only
    share = K.kpis(duck, as_of="2026-06-30", settings=settings).set_index("kpi")
    assert share.loc["crm_gmv_share", "value"] == 0.0
    assert share.loc["crm_gmv_share", "met"] is False
    # the period (28 days to 2026-08-30) holds no sale at all: nothing to measure
    later = K.kpis(duck, as_of="2026-08-30", settings=settings).set_index("kpi")
    assert pd.isna(later.loc["crm_gmv_share", "value"])
    assert later["value"].dtype == "float64"  # a number column even with gaps
    assert later.loc["crm_gmv_share", "met"] is None
