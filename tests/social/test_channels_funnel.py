"""The journey funnel on a hand-made warehouse: counts in strict and in any order."""

from __future__ import annotations

import pytest

from scrm_lib.config import load_settings
from scrm_lib.engine import duckdb_connect
from scrm_lib.errors import ConfigError
from scrm_lib.social.channels.analysis import journey_funnel
from tests.social.conftest import account, event
from tests.value.conftest import order, put

STEPS = [
    {"name": "scan", "events": ["qr_scan"]},
    {"name": "join", "events": ["group_join", "wecom_follow"]},
    {"name": "view", "events": "page_view"},
    {"name": "buy", "order": 1},
]


@pytest.fixture
def journeys():
    """p1 walks every step in order; p2 viewed before scanning; p3 skipped joining;
    p4 joined without scanning; p5 bought twice, the second time after 100 days."""
    con = duckdb_connect()
    accts = ["wechat:p1", "wechat:p2", "wechat:p3", "wechat:p4", "wecom:p1", "tmall:p5"]
    put(con, "accounts", [account(a, "2026-01-01T00:00:00Z") for a in accts])
    put(con, "events", [
        event("wechat:p1", "2026-01-01T10:00:00Z", "qr_scan", channel_code="X"),
        event("wecom:p1", "2026-01-02T10:00:00Z", "wecom_follow"),  # another platform
        event("wechat:p1", "2026-01-03T10:00:00Z", "page_view"),
        event("wechat:p2", "2026-01-01T10:00:00Z", "page_view"),
        event("wechat:p2", "2026-01-02T10:00:00Z", "qr_scan", channel_code="X"),
        event("wechat:p2", "2026-01-03T10:00:00Z", "group_join"),
        event("wechat:p3", "2026-01-01T10:00:00Z", "qr_scan", channel_code="X"),
        event("wechat:p4", "2026-01-01T10:00:00Z", "group_join"),
    ])  # fmt: skip
    put(con, "orders", [
        order("wechat:p1", "o1", "2026-01-04T10:00:00Z", 10.0, platform="wechat"),
        order("wechat:p2", "o2", "2026-01-05T10:00:00Z", 10.0, platform="wechat"),
        order("wechat:p3", "o3", "2026-01-02T10:00:00Z", 10.0, platform="wechat"),
        order("tmall:p5", "o5a", "2026-01-02T10:00:00Z", 10.0),
        order("tmall:p5", "o5b", "2026-04-12T10:00:00Z", 10.0),
    ])  # fmt: skip
    import pyarrow as pa

    from scrm_lib.engine import register_arrow

    pm = {"account_id": accts, "person_id": ["p1", "p2", "p3", "p4", "p1", "p5"]}
    register_arrow(con, "person_accounts", pa.table(pm))
    yield con
    con.disconnect()


def _everyone(df):
    part = df[df["group"] == "all"].sort_values("step_no")
    return part["persons"].tolist(), part.loc[part["worst"], "step"].tolist()


def _funnel(journeys, tmp_path, mode, min_cohort=1, **kw):
    settings = load_settings(tmp_path)
    return journey_funnel(
        journeys, steps=STEPS, mode=mode, min_cohort=min_cohort, settings=settings, **kw
    )


def test_strict_order(journeys, tmp_path):
    df = _funnel(journeys, tmp_path, "strict")
    # p2's view came before the scan, p3 never joined, p4 never scanned
    assert _everyone(df) == ([3, 2, 1, 1], ["view"])
    join = df[(df["group"] == "all") & (df["step"] == "join")].iloc[0]
    assert join["median_hours_from_previous"] == pytest.approx(24.0)
    assert join["from_previous"] == pytest.approx(2 / 3)


def test_any_order(journeys, tmp_path):
    df = _funnel(journeys, tmp_path, "any")
    assert _everyone(df) == ([3, 2, 2, 2], ["join"])


@pytest.mark.parametrize(("min_cohort", "worst"), [(1, ["view"]), (3, ["join"]), (4, [])])
def test_the_worst_step_is_one_enough_persons_came_to(journeys, tmp_path, min_cohort, worst):
    # strict: 3 scanned, 2 joined (2/3), 1 viewed (1/2), 1 bought (1/1); the view's
    # 1 of 2 is the lowest rate, but only 2 persons came to it
    df = _funnel(journeys, tmp_path, "strict", min_cohort=min_cohort)
    assert _everyone(df)[1] == worst


def test_second_order_within_days(journeys, tmp_path):
    steps = [{"name": "first", "order": 1}, {"name": "second", "order": 2, "within_days": 90}]
    df = journey_funnel(journeys, steps=steps, settings=load_settings(tmp_path))
    assert _everyone(df)[0] == [4, 0]  # p5's second order came 100 days later
    steps[1]["within_days"] = 120
    df = journey_funnel(journeys, steps=steps, settings=load_settings(tmp_path))
    assert _everyone(df)[0] == [4, 1]


@pytest.mark.parametrize("steps,message", [
    ([{"name": "a", "events": ["x"]}], "at least two steps"),
    ([{"name": "a", "events": ["x"]}, {"name": "a", "order": 1}], "used twice"),
    ([{"name": "a", "events": ["x"]}, {"name": "b"}], "either 'events' or 'order'"),
    ([{"name": "a", "events": ["x"], "within_days": 3}, {"name": "b", "order": 1}],
     "goes with 'order'"),
])  # fmt: skip
def test_bad_steps_are_named(journeys, tmp_path, steps, message):
    with pytest.raises(ConfigError, match=message):
        journey_funnel(journeys, steps=steps, settings=load_settings(tmp_path))
