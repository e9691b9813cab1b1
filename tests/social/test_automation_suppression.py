"""The suppression step: no outbox row ever breaks consent, quiet hours, a quota, the
frequency cap or a rule's window, and every row comes out planned or suppressed.

The property test draws touch histories, consent changes, time zones (DST ones too),
settings and rule outputs, and checks each invariant with its own computation
(wall clocks from ``zoneinfo`` row by row, counts by brute force), never with the
step's.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scrm_lib.social.automation.config import automation_config
from scrm_lib.social.automation.suppression import quiet_shift, suppress

DAY = 86_400
ZONES = ["Asia/Shanghai", "America/New_York", "Europe/London", "UTC", "Asia/Kolkata",
         "Australia/Lord_Howe"]  # fmt: skip
#: instants near DST changes (US, EU, Lord Howe) and an ordinary day, 00:00 UTC
BASES = [dt.datetime(2026, 3, 8, tzinfo=dt.UTC), dt.datetime(2026, 3, 29, tzinfo=dt.UTC),
         dt.datetime(2026, 4, 5, tzinfo=dt.UTC), dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
         dt.datetime(2026, 12, 10, tzinfo=dt.UTC)]  # fmt: skip
CHANNELS = ["wecom_1v1", "official_account", "sms", "miniapp_push", "staff_task"]
PERSONS = ["P0", "P1", "P2", "P3"]
RULES = ["r0", "r1", "r2", "r3"]


@st.composite
def cases(draw):
    tz = draw(st.sampled_from(ZONES))
    at = int(draw(st.sampled_from(BASES)).timestamp()) + draw(st.integers(0, 23)) * 3600
    hours = st.integers(-40, 60)
    n = draw(st.integers(0, 14))
    rows = pd.DataFrame({
        "row_id": [f"x{i}" for i in range(n)],
        "person_id": draw(st.lists(st.sampled_from(PERSONS), min_size=n, max_size=n)),
        "rule": draw(st.lists(st.sampled_from(RULES), min_size=n, max_size=n)),
        "kind": draw(st.lists(st.sampled_from(["marketing", "service"]), min_size=n, max_size=n)),
        "channel": draw(st.lists(st.sampled_from(CHANNELS), min_size=n, max_size=n)),
        "account_id": draw(st.lists(st.sampled_from(["a", None]), min_size=n, max_size=n)),
        "staff_id": draw(st.lists(st.sampled_from(["s1", None]), min_size=n, max_size=n)),
        "priority": draw(st.lists(st.integers(1, 3), min_size=n, max_size=n)),
        "window_days": draw(st.lists(st.integers(1, 5), min_size=n, max_size=n)),
        "due_at": [at + h * 3600 for h in draw(st.lists(hours, min_size=n, max_size=n))],
    })  # fmt: skip
    m = draw(st.integers(0, 12))
    history = pd.DataFrame({
        "person_id": draw(st.lists(st.sampled_from(PERSONS), min_size=m, max_size=m)),
        "channel": draw(st.lists(st.sampled_from(CHANNELS), min_size=m, max_size=m)),
        "kind": draw(st.lists(st.sampled_from(["marketing", "service"]), min_size=m, max_size=m)),
        "rule": draw(st.lists(st.sampled_from([*RULES, None]), min_size=m, max_size=m)),
        "ts": [at + h * 3600 for h in draw(st.lists(st.integers(-24 * 35, 24 * 9),
                                                     min_size=m, max_size=m))],
    })  # fmt: skip
    k = draw(st.integers(0, 10))
    consent = pd.DataFrame({
        "person_id": draw(st.lists(st.sampled_from(PERSONS), min_size=k, max_size=k)),
        "channel": draw(st.lists(st.sampled_from(CHANNELS), min_size=k, max_size=k)),
        "granted": draw(st.lists(st.booleans(), min_size=k, max_size=k)),
        "ts": [at + h * 3600 for h in draw(st.lists(st.integers(-200, 48), min_size=k,
                                                     max_size=k))],
    })  # fmt: skip
    q_start, q_end = draw(st.integers(0, 23)), draw(st.integers(0, 23))
    quotas = {}
    for ch in ("wecom_1v1", "official_account", "sms"):
        if draw(st.booleans()):
            quotas[ch] = {"max": draw(st.integers(0, 3)),
                          "per": draw(st.sampled_from(["day", "month"])),
                          "kinds": draw(st.sampled_from([["marketing"], ["marketing", "service"],
                                                         ["service"]]))}  # fmt: skip
    cfg = automation_config(
        cap_messages=draw(st.integers(0, 3)), cap_days=draw(st.integers(1, 7)),
        quiet_start=f"{q_start:02d}:{draw(st.sampled_from([0, 30])):02d}",
        quiet_end=f"{q_end:02d}:00", stale_hours=draw(st.integers(1, 60)), quotas=quotas,
    ) | {"timezone": tz}  # fmt: skip
    return rows, history, consent, cfg, at


def _wall(ts: int, tz: str) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, ZoneInfo(tz))


def _quiet(ts: int, cfg: dict) -> bool:
    w = _wall(ts, cfg["timezone"])
    tod = w.hour * 3600 + w.minute * 60 + w.second
    s, e = cfg["quiet_start_s"], cfg["quiet_end_s"]
    if s == e:
        return False
    return (tod >= s or tod < e) if s > e else (s <= tod < e)


def _period(ts: int, tz: str, per: str) -> tuple[int, ...]:
    w = _wall(ts, tz)
    return (w.year, w.month) if per == "month" else (w.year, w.month, w.day)


def check(rows, history, consent, cfg, at) -> pd.DataFrame:
    out = suppress(rows, history, consent, at=at, cfg=cfg)
    # rows in = planned + suppressed; planned rows have no reason, suppressed ones one
    assert len(out) == len(rows)
    assert list(out["row_id"]) == list(rows["row_id"])
    assert set(out["status"]) <= {"planned", "suppressed"}
    assert (out["reason"].isna() == (out["status"] == "planned")).all()
    planned = out[out["status"] == "planned"]
    tz = cfg["timezone"]
    for r in planned.itertuples():
        p = int(r.planned_at)
        assert p >= at and p >= int(r.due_at)
        assert not _quiet(p, cfg), (r, _wall(p, tz))
        assert p - int(r.due_at) <= cfg["stale_hours"] * 3600
        # consent: the latest row before the run wins (a withdrawal on a tie)
        c = consent[(consent["person_id"] == r.person_id) & (consent["channel"] == r.channel)
                     & (consent["ts"] < at)]  # fmt: skip
        latest = None
        if len(c):
            top = c[c["ts"] == c["ts"].max()]
            latest = bool(top["granted"].all())
        assert latest is not False, r
        if cfg["channels"][r.channel]["opt_in"]:
            assert latest is True, r
        if cfg["channels"][r.channel]["platforms"]:
            assert r.account_id is not None and not pd.isna(r.account_id)
        # one message per person and rule within the window
        same = history[(history["person_id"] == r.person_id) & (history["rule"] == r.rule)]
        w = r.window_days * DAY
        assert not ((same["ts"] > p - w) & (same["ts"] < p + w)).any(), r
    # the frequency cap over every window of cap_days ending at a planned marketing row
    span = cfg["cap_days"] * DAY
    mk_hist = history[history["kind"] == "marketing"]
    mk_out = planned[planned["kind"] == "marketing"]
    for r in mk_out.itertuples():
        p = int(r.planned_at)
        hs = mk_hist.loc[mk_hist["person_id"] == r.person_id, "ts"]
        os_ = mk_out.loc[mk_out["person_id"] == r.person_id, "planned_at"]
        n = ((hs > p - span) & (hs <= p)).sum() + ((os_ > p - span) & (os_ <= p)).sum()
        assert n <= cfg["cap_messages"], (r, n)
    # platform quotas per person, channel and local day or month
    for ch, q in cfg["quotas"].items():
        on = planned[(planned["channel"] == ch) & planned["kind"].isin(q["kinds"])]
        for r in on.itertuples():
            key = _period(int(r.planned_at), tz, q["per"])
            h = history[(history["person_id"] == r.person_id) & (history["channel"] == ch)
                        & history["kind"].isin(q["kinds"])]  # fmt: skip
            n = sum(_period(int(t), tz, q["per"]) == key for t in h["ts"])
            n += sum(_period(int(t), tz, q["per"]) == key
                     for t in on.loc[on["person_id"] == r.person_id, "planned_at"])  # fmt: skip
            assert n <= q["max"], (r, n, q)
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_no_outbox_row_breaks_a_limit(case):
    check(*case)


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_no_outbox_row_breaks_a_limit_many(case):
    check(*case)


# ---------------------------------------------------------------- known answers


def _shanghai(text: str) -> int:
    return int(pd.Timestamp(text, tz="Asia/Shanghai").timestamp())


def test_2330_shanghai_moves_to_0900_the_next_day_and_0859_to_0900_the_same_day():
    s = pd.Series([_shanghai("2026-12-09 23:30"), _shanghai("2026-12-10 08:59"),
                   _shanghai("2026-12-10 20:59"), _shanghai("2026-12-10 21:00")])  # fmt: skip
    out = quiet_shift(s, tz="Asia/Shanghai", start_s=21 * 3600, end_s=9 * 3600)
    assert list(out) == [_shanghai("2026-12-10 09:00"), _shanghai("2026-12-10 09:00"),
                         _shanghai("2026-12-10 20:59"), _shanghai("2026-12-11 09:00")]  # fmt: skip


def _row(i, person="P", rule="r", kind="marketing", channel="wecom_1v1", prio=1, due=None):
    return {"row_id": f"x{i}", "person_id": person, "rule": rule, "kind": kind,
            "channel": channel, "account_id": "a", "staff_id": None, "priority": prio,
            "window_days": 1, "due_at": due}  # fmt: skip


def _hist(rows):
    cols = ["person_id", "channel", "kind", "rule", "ts"]
    return pd.DataFrame(rows, columns=cols)


def test_the_cap_counts_past_touches_and_goes_to_the_higher_priority():
    at = _shanghai("2026-12-10 00:00")
    cfg = automation_config(quotas={}) | {"timezone": "Asia/Shanghai"}
    oa = "official_account"
    rows = pd.DataFrame([_row(0, rule="low", prio=3, channel=oa),
                         _row(1, rule="high", prio=1, channel=oa),
                         _row(2, rule="svc", kind="service", channel=oa)])  # fmt: skip
    touched = _hist([("P", "sms", "marketing", None, at - 3 * DAY)])
    no_consent = pd.DataFrame({"person_id": [], "channel": [], "granted": [], "ts": []})
    out = suppress(rows, touched, no_consent, at=at, cfg=cfg)
    assert dict(zip(out["rule"], out["reason"].fillna("planned"), strict=True)) == {
        "low": "frequency_cap", "high": "planned", "svc": "planned"}  # fmt: skip


def test_the_latest_consent_row_wins():
    at = _shanghai("2026-12-10 00:00")
    cfg = automation_config() | {"timezone": "Asia/Shanghai"}
    rows = pd.DataFrame([_row(0, person="A"), _row(1, person="B"),
                         _row(2, person="C", rule="q", channel="sms")])  # fmt: skip
    consent = pd.DataFrame({
        "person_id": ["A", "A", "B", "B", "C"],
        "channel": ["wecom_1v1", "wecom_1v1", "wecom_1v1", "wecom_1v1", "sms"],
        "granted": [False, True, True, False, True],
        "ts": [at - 9 * DAY, at - DAY, at - 9 * DAY, at - DAY, at + 3600],  # C grants after the run
    })  # fmt: skip
    out = suppress(rows, _hist([]), consent, at=at, cfg=cfg)
    assert out["reason"].fillna("planned").tolist() == ["planned", "opt_out", "no_opt_in"]
