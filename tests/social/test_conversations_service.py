"""Service KPIs on hand-made chats (Asia/Shanghai, open 09:00-21:00): every number by hand.

- a (企微私聊, s1): a burst of three questions on Mon 01-05 10:00-10:02, answered by s1 at
  10:05 (5 min) and again at 10:30; a fourth question the next morning 09:00, 22.5 h later,
  still belongs to it (the gap is under 24 h);
- b (小程序客服): a question at 20:55 answered by s2 at 09:05 the next morning (10 business
  minutes); 25 h later a new question, answered by s1 after 2 minutes and by s2 after 15;
- c (抖音私信, written to s2): a question nobody answered;
- e (企微私聊): Mon 01-12 07:00 local, Sunday in UTC: answered by s1 at 09:01, one business
  minute after the opening; it belongs to the local week of 01-12;
- a group chat message, which is not a private conversation.
"""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scrm_lib.engine import duckdb_connect, register_arrow
from scrm_lib.social.channels.intervals import wilson
from scrm_lib.social.conversations.service import (
    business_seconds,
    conversations,
    negative_share_alert,
    service_kpis,
    survey_scores,
)
from tests.value.conftest import put

ZONE = ZoneInfo("Asia/Shanghai")


def msg(acc: str, channel: str, local: str, direction: str, staff: str | None) -> dict:
    ts = dt.datetime.fromisoformat(local).replace(tzinfo=ZONE).astimezone(dt.UTC)
    return {"message_id": f"{acc}-{local}-{direction}", "account_id": acc, "ts": ts,
            "channel": channel, "room_id": None, "direction": direction, "staff_id": staff,
            "text": "在吗"}  # fmt: skip


def epoch(local: str) -> int:
    return int(dt.datetime.fromisoformat(local).replace(tzinfo=ZONE).timestamp())


MESSAGES = [
    msg("wecom:a", "wecom_private", "2026-01-05 10:00", "in", "s1"),
    msg("wecom:a", "wecom_private", "2026-01-05 10:01", "in", "s1"),
    msg("wecom:a", "wecom_private", "2026-01-05 10:02", "in", "s1"),
    msg("wecom:a", "wecom_private", "2026-01-05 10:05", "out", "s1"),
    msg("wecom:a", "wecom_private", "2026-01-05 10:30", "out", "s1"),
    msg("wecom:a", "wecom_private", "2026-01-06 09:00", "in", "s1"),
    msg("mini:b", "miniapp_service", "2026-01-05 20:55", "in", None),
    msg("mini:b", "miniapp_service", "2026-01-06 09:05", "out", "s2"),
    msg("mini:b", "miniapp_service", "2026-01-07 10:05", "in", None),
    msg("mini:b", "miniapp_service", "2026-01-07 10:07", "out", "s1"),
    msg("mini:b", "miniapp_service", "2026-01-07 10:20", "out", "s2"),
    msg("douyin:c", "douyin_dm", "2026-01-06 15:00", "in", "s2"),
    msg("wecom:e", "wecom_private", "2026-01-12 07:00", "in", "s1"),
    msg("wecom:e", "wecom_private", "2026-01-12 09:01", "out", "s1"),
    {**msg("wecom:g", "wecom_group", "2026-01-05 12:00", "in", "s1"), "room_id": "r1"},
]


@pytest.fixture
def chats():
    con = duckdb_connect()
    put(con, "messages", MESSAGES)
    yield con
    con.disconnect()


def test_conversations(chats):
    got = conversations(chats, {}).execute().sort_values("started_ts")
    rows = {(r.account_id, int(r.started_ts.timestamp())): r for r in got.itertuples(index=False)}
    expected = {
        # started: staff, first response s, resolution s, customer / staff messages, answered
        ("wecom:a", epoch("2026-01-05 10:00")): ("s1", 300, 1800, 4, 2, True),
        ("mini:b", epoch("2026-01-05 20:55")): ("s2", 600, 600, 1, 1, True),
        ("mini:b", epoch("2026-01-07 10:05")): ("s1", 120, 900, 1, 2, True),
        ("douyin:c", epoch("2026-01-06 15:00")): ("s2", None, None, 1, 0, False),
        ("wecom:e", epoch("2026-01-12 07:00")): ("s1", 60, 60, 1, 1, True),
    }
    assert set(rows) == set(expected)
    for key, (staff, first, resolution, n_in, n_out, answered) in expected.items():
        r = rows[key]
        assert r.staff_id == staff, key
        if first is None:
            assert pd.isna(r.first_response_s) and pd.isna(r.resolution_s), key
        else:
            assert (int(r.first_response_s), int(r.resolution_s)) == (first, resolution), key
        assert (r.customer_messages, r.staff_messages, bool(r.answered)) == (
            n_in,
            n_out,
            answered,
        ), key
    assert got.conversation_id.is_unique
    assert "miniapp_service:mini:b:" in got.conversation_id.iloc[1]


def test_a_shorter_gap_splits_what_24_hours_keeps(chats):
    got = conversations(chats, {"gap_hours": 12}).execute()
    a = got[got.account_id == "wecom:a"].sort_values("started_ts")
    # the next-morning question (22.5 h later) is its own unanswered conversation now
    assert a.customer_messages.tolist() == [3, 1]
    assert a.answered.tolist() == [True, False]
    assert a.staff_id.tolist() == ["s1", "s1"]  # written to s1


def test_a_wait_across_the_weekend_counts_open_days_only():
    con = duckdb_connect()
    try:
        friday, monday = epoch("2026-01-09 20:55"), epoch("2026-01-12 09:05")
        t = ibis.memtable({"a": [friday], "b": [monday]})
        weekdays = {"business_days": [1, 2, 3, 4, 5]}
        every_day = con.execute(t.select(w=business_seconds(t.a, t.b, {})))["w"].iloc[0]
        work_week = con.execute(t.select(w=business_seconds(t.a, t.b, weekdays)))["w"].iloc[0]
    finally:
        con.disconnect()
    assert work_week == 600  # 5 minutes on Friday, 5 on Monday
    assert every_day == 600 + 2 * 12 * 3600  # and the weekend's two open days


def test_service_kpis_per_staff_and_week(chats):
    got = service_kpis(chats, {"answer_within_minutes": 5})
    rows = {(r.staff_id, str(r.week)): r for r in got.itertuples(index=False)}
    assert set(rows) == {("s1", "2026-01-05"), ("s2", "2026-01-05"), ("s1", "2026-01-12")}
    s1 = rows["s1", "2026-01-05"]  # a (5 min) and b's second (2 min)
    assert (s1.conversations, s1.answered, s1.answered_within) == (2, 2, 2)
    assert s1.median_first_response_min == pytest.approx(3.5)
    assert s1.p90_first_response_min == pytest.approx(2 + 0.9 * 3)
    assert s1.median_resolution_min == pytest.approx((30 + 15) / 2)
    lo, hi = wilson(np.array([2]), np.array([2]))
    assert (s1.within_share, s1.within_lo, s1.within_hi) == pytest.approx((1.0, lo[0], hi[0]))
    s2 = rows["s2", "2026-01-05"]  # b's first (10 min) and c's, unanswered
    assert (s2.conversations, s2.answered, s2.answered_within) == (2, 1, 0)
    assert s2.answered_share == pytest.approx(0.5)
    assert s2.median_first_response_min == pytest.approx(10.0)
    assert s2.within_share == 0.0 and s2.within_lo == 0.0
    e = rows["s1", "2026-01-12"]  # Sunday in UTC, Monday at home
    assert (e.conversations, e.median_first_response_min) == (1, pytest.approx(1.0))


def test_service_kpis_by_channel_and_a_longer_target(chats):
    got = service_kpis(chats, {"answer_within_minutes": 10}, by=("channel",))
    got = got.set_index("channel")
    assert got.loc["miniapp_service", "answered_within"] == 2  # 10 and 2 minutes
    assert got.loc["wecom_private", "conversations"] == 2
    assert got.loc["douyin_dm", "answered_share"] == 0.0
    assert math.isnan(got.loc["douyin_dm", "median_first_response_min"])


def _reference(a: int, b: int, hours: tuple[int, int], days: set[int]) -> int:
    """Open seconds between two epochs, walked day by day in local time."""
    if b <= a:
        return 0
    start = dt.datetime.fromtimestamp(a, ZONE)
    end = dt.datetime.fromtimestamp(b, ZONE)
    total = 0
    day = start.date()
    while day <= end.date():
        if day.isoweekday() in days:
            midnight = dt.datetime.combine(day, dt.time(), ZONE)
            lo = max(start, midnight + dt.timedelta(seconds=hours[0]))
            hi = min(end, midnight + dt.timedelta(seconds=hours[1]))
            total += max(0, int((hi - lo).total_seconds()))
        day += dt.timedelta(days=1)
    return total


def _clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


LOW, HIGH = epoch("2020-01-01 00:00"), epoch("2030-12-31 00:00")


@settings(max_examples=40, deadline=None)
@given(
    pairs=st.lists(
        st.tuples(st.integers(LOW, HIGH), st.integers(0, 40 * 86400)), min_size=1, max_size=25
    ),
    open_=st.integers(0, 47),
    length=st.integers(1, 48),
    days=st.sets(st.integers(1, 7)),
)
def test_business_seconds_agrees_with_a_day_by_day_walk(pairs, open_, length, days):
    o = open_ * 1800
    c = min(o + length * 1800, 86400)
    if c <= o:
        return
    cfg = {"business_hours": f"{_clock(o)}-{_clock(c)}", "business_days": sorted(days)}
    # some pairs backwards: a wait never goes negative
    starts = [a for a, _ in pairs]
    ends = [a + d if i % 3 else a - d for i, (a, d) in enumerate(pairs)]
    con = duckdb_connect()
    try:
        t = ibis.memtable({"a": starts, "b": ends})
        got = con.execute(t.select(w=business_seconds(t.a, t.b, cfg)))["w"].tolist()
    finally:
        con.disconnect()
    assert got == [_reference(a, b, (o, c), days) for a, b in zip(starts, ends, strict=True)]


def test_negative_share_alert():
    days = pd.date_range("2026-03-01", periods=17, freq="D")
    messages = [100] * 14 + [100, 10, 100]
    negative = [5] * 14 + [20, 5, 7]
    daily = pd.DataFrame({"day": days, "messages": messages, "negative": negative})
    got = negative_share_alert(daily, {"alert_window_days": 14, "alert_sigma": 3})
    assert list(got.columns) == ["day", "messages", "negative", "share", "baseline", "z", "alert"]
    assert got.alert.tolist() == [False] * 14 + [True, False, False]
    jump = got.iloc[14]  # 20 of 100 against 5% over the fortnight
    assert jump.baseline == pytest.approx(0.05)
    assert jump.z == pytest.approx((0.20 - 0.05) / math.sqrt(0.05 * 0.95 / 100))
    small = got.iloc[15]  # half negative, but 10 messages: below the minimum of 20
    assert small.share == 0.5 and small.z > 3
    assert small.baseline == pytest.approx((13 * 5 + 20) / 1400)
    assert math.isnan(got.baseline.iloc[0]) and not got.alert.iloc[0]


def test_negative_share_alert_counts_missing_days_as_silent():
    daily = pd.DataFrame(
        {"day": ["2026-03-01", "2026-03-20"], "messages": [100, 100], "negative": [5, 50]}
    )
    got = negative_share_alert(daily, {"alert_window_days": 14})
    # 03-01 is outside 03-20's fortnight: no baseline, no alert
    assert math.isnan(got.baseline.iloc[1]) and not got.alert.iloc[1]


def test_survey_scores(chats):
    assert survey_scores(chats).empty
    rows = [("csat", s, "2026-01-06 12:00") for s in (5, 4, 3, 2, 5)]
    rows += [("nps", s, "2026-01-07 12:00") for s in (9, 10, 9, 10, 9, 7, 8, 8, 3, 6)]
    rows += [("csat", 5, "2026-01-12 01:00")]  # Sunday 17:00 in UTC: the next local week
    ts = [dt.datetime.fromisoformat(t).replace(tzinfo=ZONE) for _, _, t in rows]
    data = pa.table(
        {
            "account_id": [f"wecom:{i}" for i in range(len(rows))],
            "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
            "kind": [k for k, _, _ in rows],
            "score": pa.array([s for _, s, _ in rows], pa.int64()),
        }
    )
    register_arrow(chats, "surveys", data)
    got = survey_scores(chats).set_index("week")
    first = got.loc[dt.date(2026, 1, 5)]
    assert (first.promoters, first.passives, first.detractors) == (5, 3, 2)
    assert first.nps == pytest.approx(30.0)
    assert first.csat_mean == pytest.approx(3.8)
    assert first.csat_satisfied_share == pytest.approx(0.6)
    second = got.loc[dt.date(2026, 1, 12)]
    assert (second.csat_responses, second.nps_responses) == (1, 0)
    assert math.isnan(second.nps)


def test_survey_scores_of_the_hand_made_survey_export(chats):
    """The small questionnaire export, parsed and put as canonical rows, weeks counted by hand."""
    from pathlib import Path

    from scrm_lib.ingest import parse_file

    path = Path(__file__).parents[1] / "data/small_exports/survey_answers/survey_answers_may.csv"
    put(chats, "surveys", parse_file(path).tables["surveys"])
    got = survey_scores(chats, {"timezone": "Asia/Shanghai"}).set_index("week")
    assert list(got.index) == [dt.date(2025, 4, 28), dt.date(2025, 5, 5), dt.date(2025, 5, 19)]
    # 05-03 and 05-04 (a Sunday): CSAT 5, 4, 3; NPS 10, 8, 6: one of each kind of answer
    first = got.loc[dt.date(2025, 4, 28)]
    assert (first.csat_responses, first.csat_mean) == (3, pytest.approx(4.0))
    assert first.csat_satisfied_share == pytest.approx(2 / 3)
    assert (first.promoters, first.passives, first.detractors, first.nps) == (1, 1, 1, 0.0)
    # 5分 with a 9, and ★★★★☆ without an NPS answer
    second = got.loc[dt.date(2025, 5, 5)]
    assert (second.csat_mean, second.csat_satisfied_share) == (4.5, 1.0)
    assert (second.nps_responses, second.nps) == (1, 100.0)
    # 不满意 and 3（不太可能）; the off-scale and unknown answers of 05-12/13 never arrive
    third = got.loc[dt.date(2025, 5, 19)]
    assert (third.csat_mean, third.csat_satisfied_share, third.nps) == (2.0, 0.0, -100.0)
