"""Service KPIs of private chats: conversations, first response, resolution, alerts, CSAT/NPS.

A customer's private chat (one ``account_id`` on one of :data:`PRIVATE_CHANNELS`)
is cut into conversations: a customer message more than ``gap_hours`` after the
previous message of the chat opens a new one. A staff message never opens one,
so a late answer (after a weekend) still belongs to the question it answers.

Waits count business time only: ``business_hours`` (``"09:00-21:00"``) local time
in ``timezone`` on the ISO weekdays ``business_days``; a question at 20:55 answered
at 09:05 the next morning waited 10 minutes. The business seconds between two
epochs are engine arithmetic (:func:`business_seconds`), so the conversation table
stays one query however many messages there are.

The timezone is applied as its UTC offset (taken on today's date): exact for
China's zones, which keep no daylight saving time.

Example
-------
>>> from scrm_lib.social.conversations.service import conversations, service_kpis
>>> conv = conversations(con, {"gap_hours": 24})  # doctest: +SKIP
>>> service_kpis(con, {"answer_within_minutes": 5})  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from scrm_lib.social.channels.intervals import wilson

#: the one-to-one chats a customer starts with the brand (group chats are not service)
PRIVATE_CHANNELS = ("wecom_private", "miniapp_service", "douyin_dm", "xhs_dm")

DEFAULTS: dict[str, Any] = {
    "gap_hours": 24,
    "business_hours": "09:00-21:00",
    "business_days": [1, 2, 3, 4, 5, 6, 7],
    "timezone": "Asia/Shanghai",
    "answer_within_minutes": 5,
    "alert_window_days": 14,
    "alert_sigma": 3.0,
    "alert_min_messages": 20,
}

DAY = 86_400
#: 1970-01-01, day 0 of the epoch, was a Thursday (ISO weekday 4)
EPOCH_WEEKDAY = 4

KPI_COLUMNS = [
    "conversations",
    "answered",
    "answered_share",
    "median_first_response_min",
    "p90_first_response_min",
    "answered_within",
    "within_share",
    "within_lo",
    "within_hi",
    "median_resolution_min",
]

SURVEY_COLUMNS = [
    "week",
    "csat_responses",
    "csat_mean",
    "csat_satisfied",
    "csat_satisfied_share",
    "nps_responses",
    "promoters",
    "passives",
    "detractors",
    "nps",
]


def _cfg(cfg: Mapping[str, Any] | None) -> dict[str, Any]:
    return {**DEFAULTS, **(cfg or {})}


def utc_offset_s(cfg: Mapping[str, Any] | None = None) -> int:
    """The UTC offset of ``cfg["timezone"]`` in seconds (today's; Asia/Shanghai: 28800).

    Examples
    --------
    >>> utc_offset_s({"timezone": "Asia/Shanghai"})
    28800
    """
    zone = ZoneInfo(_cfg(cfg)["timezone"])
    offset = dt.datetime.now(zone).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def _clock(text: str) -> int:
    hours, minutes = text.strip().split(":")
    return int(hours) * 3600 + int(minutes) * 60


def opening(cfg: Mapping[str, Any] | None = None) -> tuple[int, int]:
    """``business_hours`` as seconds after local midnight: ``"09:00-21:00"`` → (32400, 75600).

    Raises
    ------
    ValueError
        The close is not after the open (a shift across midnight is not supported) or
        outside the day.

    Examples
    --------
    >>> opening({"business_hours": "09:00-21:00"})
    (32400, 75600)
    """
    start, _, end = str(_cfg(cfg)["business_hours"]).partition("-")
    o, c = _clock(start), _clock(end)
    if not 0 <= o < c <= DAY:
        raise ValueError(f"business_hours {_cfg(cfg)['business_hours']!r}: want HH:MM-HH:MM")
    return o, c


def _days(cfg: Mapping[str, Any]) -> set[int]:
    days = {int(d) for d in cfg["business_days"]}
    if not days <= set(range(1, 8)):
        raise ValueError(f"business_days {sorted(days)}: ISO weekdays 1 (Monday) to 7")
    return days


def _open_before(phase: ir.IntegerValue, days: set[int]) -> ir.IntegerValue:
    """Business days among the ``phase`` (0..6) days that open a week counted from a Thursday."""
    # the seven possible answers are constants: one CASE, no per-row counting
    counts, seen = [], 0
    for i in range(7):
        counts.append(seen)
        seen += ((EPOCH_WEEKDAY - 1 + i) % 7 + 1) in days
    return phase.cases(*[(i, counts[i]) for i in range(7)], else_=0)


def _open_day(phase: ir.IntegerValue, days: set[int]) -> ir.BooleanValue:
    wanted = [i for i in range(7) if (EPOCH_WEEKDAY - 1 + i) % 7 + 1 in days]
    return phase.isin(wanted) if wanted else ibis.literal(False)


def business_clock(ts: ir.IntegerValue, cfg: Mapping[str, Any] | None = None) -> ir.IntegerValue:
    """Business seconds elapsed from the epoch to ``ts`` (epoch seconds): an engine expression.

    Whole local days contribute their open seconds when they are business days;
    the day of ``ts`` contributes its open seconds up to ``ts``. Differences of
    this clock are waits in business time.
    """
    c = _cfg(cfg)
    o, close = opening(c)
    days = _days(c)
    local = ts.cast("int64") + utc_offset_s(c)
    day = local // DAY
    second = local - day * DAY
    # the engine's % keeps the sign of the dividend: days before 1970 need the fold
    phase = (day % 7 + 7) % 7
    whole = (day // 7) * len(days) + _open_before(phase, days)
    today = ibis.greatest(ibis.least(second, close) - o, 0)
    today = ibis.ifelse(_open_day(phase, days), today, 0)
    return whole * (close - o) + today


def business_seconds(
    start: ir.IntegerValue, end: ir.IntegerValue, cfg: Mapping[str, Any] | None = None
) -> ir.IntegerValue:
    """Open seconds between ``start`` and ``end`` (epoch seconds; 0 when ``end`` <= ``start``).

    Parameters
    ----------
    start, end
        Integer ibis expressions (epoch seconds, UTC).
    cfg
        ``business_hours``, ``business_days`` and ``timezone`` (see :data:`DEFAULTS`).

    Returns
    -------
    ir.IntegerValue
        An engine expression: the whole open days between the two, plus the clipped
        open part of the first and last day.

    Examples
    --------
    Mon 2026-01-05 20:55 to Tue 09:05 in Shanghai: five open minutes on each day.

    >>> t = ibis.memtable({"a": [1767617700], "b": [1767661500]})  # doctest: +SKIP
    >>> t.select(w=business_seconds(t.a, t.b)).execute()  # doctest: +SKIP
         w
    0  600
    """
    wait = business_clock(end, cfg) - business_clock(start, cfg)
    return ibis.greatest(wait, 0)


def conversations(con: Any, cfg: Mapping[str, Any] | None = None) -> ir.Table:
    """Private chats cut into conversations, with their first response and resolution.

    Parameters
    ----------
    con
        An ibis connection with a canonical ``messages`` table.
    cfg
        ``gap_hours`` (24) and the business-time settings (see :data:`DEFAULTS`).

    Returns
    -------
    ir.Table
        One row per conversation that has a customer message: ``conversation_id``
        (``channel:account_id:start epoch``), ``account_id``, ``channel``, ``staff_id``
        (the first staff member who answered; unanswered: the one the customer wrote
        to), ``started_ts``, ``first_response_s`` and ``resolution_s`` (business
        seconds from the first customer message to the first and to the last staff
        message after it; null when unanswered), ``customer_messages``,
        ``staff_messages``, ``answered``.

    Examples
    --------
    >>> conversations(con, {"gap_hours": 24}).execute()  # doctest: +SKIP
    """
    c = _cfg(cfg)
    gap = int(float(c["gap_hours"]) * 3600)
    m = con.table("messages")
    m = m.filter(m.channel.isin(PRIVATE_CHANNELS) & m.direction.isin(("in", "out")))
    chat = [m.account_id, m.channel]
    # a customer message and a reply in the same second: the question comes first
    order = [m.ts, m.direction, m.message_id]
    t = m.ts.epoch_seconds().cast("int64")
    m = m.mutate(t=t, prev=t.lag().over(ibis.window(group_by=chat, order_by=order)))
    opens = m.prev.isnull() | ((m.direction == "in") & (m.t - m.prev > gap))
    running = ibis.window(group_by=chat, order_by=order, rows=(None, 0))
    m = m.mutate(seq=opens.cast("int64").sum().over(running))
    conv = [m.account_id, m.channel, m.seq]
    is_in = m.direction == "in"
    m = m.mutate(
        first_in=ibis.ifelse(is_in, m.t, ibis.null("int64")).min().over(group_by=conv),
    )
    reply = (m.direction == "out") & (m.t >= m.first_in)
    g = m.group_by(["account_id", "channel", "seq"]).aggregate(
        started=m.t.min(),
        first_in=m.first_in.min(),
        first_reply=m.t.min(where=reply),
        last_reply=m.t.max(where=reply),
        responder=m.staff_id.argmin(m.t, where=reply & m.staff_id.notnull()),
        owner=m.staff_id.argmin(m.t, where=is_in & m.staff_id.notnull()),
        anyone=m.staff_id.argmin(m.t, where=m.staff_id.notnull()),
        customer_messages=is_in.sum(),
        staff_messages=(m.direction == "out").sum(),
    )
    g = g.filter(g.customer_messages > 0)
    answered = g.first_reply.notnull()
    return g.select(
        conversation_id=g.channel.concat(":", g.account_id, ":", g.started.cast("string")),
        account_id=g.account_id,
        channel=g.channel,
        staff_id=ibis.coalesce(g.responder, g.owner, g.anyone),
        started_ts=g.started.as_timestamp("s").cast("timestamp('UTC')"),
        first_response_s=ibis.ifelse(
            answered, business_seconds(g.first_in, g.first_reply, c), ibis.null("int64")
        ),
        resolution_s=ibis.ifelse(
            answered, business_seconds(g.first_in, g.last_reply, c), ibis.null("int64")
        ),
        customer_messages=g.customer_messages.cast("int64"),
        staff_messages=g.staff_messages.cast("int64"),
        answered=answered,
    )


def _week(ts: ir.TimestampValue, offset: int) -> ir.DateValue:
    """The local Monday of ``ts``'s ISO week."""
    day = (ts.epoch_seconds().cast("int64") + offset) // DAY
    monday = day - (day + EPOCH_WEEKDAY - 1) % 7
    return (monday * DAY).as_timestamp("s").date()


def service_kpis(
    con: Any, cfg: Mapping[str, Any] | None = None, by: Sequence[str] = ("staff_id", "week")
) -> pd.DataFrame:
    """Service KPIs per staff member and local ISO week (or any of ``by``).

    Parameters
    ----------
    con
        An ibis connection with a canonical ``messages`` table.
    cfg
        ``answer_within_minutes`` (5), ``gap_hours`` and the business-time settings.
    by
        Columns of :func:`conversations` to group by, and ``week`` (the Monday, local).

    Returns
    -------
    pd.DataFrame
        ``by`` then ``conversations``, ``answered``, ``answered_share``,
        ``median_first_response_min`` and ``p90_first_response_min`` (of answered
        conversations), ``answered_within`` (first response within
        ``answer_within_minutes`` business minutes), ``within_share`` of all
        conversations with its 95% Wilson interval ``within_lo``/``within_hi``, and
        ``median_resolution_min``.

    Examples
    --------
    >>> service_kpis(con, {"answer_within_minutes": 5}, by=("staff_id", "week"))  # doctest: +SKIP
    """
    c = _cfg(cfg)
    by = list(by)
    t = conversations(con, c)
    if "week" in by:
        t = t.mutate(week=_week(t.started_ts, utc_offset_s(c)))
    within = t.answered & (t.first_response_s <= float(c["answer_within_minutes"]) * 60)
    fr = t.first_response_s / 60
    agg = {
        "conversations": t.count(),
        "answered": t.answered.sum(),
        "median_first_response_min": fr.median(),
        "p90_first_response_min": fr.quantile(0.9),
        "answered_within": within.sum(),
        "median_resolution_min": (t.resolution_s / 60).median(),
    }
    expr = t.group_by(by).aggregate(**agg) if by else t.aggregate(**agg)
    df = expr.order_by(by).execute() if by else expr.execute()
    if "week" in by:
        df["week"] = pd.to_datetime(df["week"]).dt.date
    n = df["conversations"].to_numpy("float64")
    for col in ("conversations", "answered", "answered_within"):
        df[col] = pd.to_numeric(df[col]).fillna(0).astype("int64")
    with np.errstate(invalid="ignore", divide="ignore"):
        df["answered_share"] = df["answered"] / n
        df["within_share"] = df["answered_within"] / n
    df["within_lo"], df["within_hi"] = wilson(df["answered_within"].to_numpy(), n)
    for col in ("median_first_response_min", "p90_first_response_min", "median_resolution_min"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    return df[[*by, *KPI_COLUMNS]].reset_index(drop=True)


def negative_share_alert(daily: pd.DataFrame, cfg: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Days whose share of negative customer messages jumps above the recent baseline.

    The baseline is the share over the ``alert_window_days`` calendar days before the
    day (their negatives over their messages, so a quiet day weighs little); a day is
    flagged when its share exceeds it by more than ``alert_sigma`` binomial standard
    errors of the day's count and it has at least ``alert_min_messages`` messages.

    Parameters
    ----------
    daily
        ``day, messages, negative``: one row per local day (missing days count as
        silent).
    cfg
        ``alert_window_days`` (14), ``alert_sigma`` (3), ``alert_min_messages`` (20).

    Returns
    -------
    pd.DataFrame
        ``day, messages, negative, share, baseline, z, alert`` in day order; no
        baseline (no messages in the window) gives NaN and no alert.

    Examples
    --------
    >>> negative_share_alert(daily, {"alert_sigma": 3})  # doctest: +SKIP
    """
    c = _cfg(cfg)
    cols = ["day", "messages", "negative", "share", "baseline", "z", "alert"]
    if daily.empty:
        return pd.DataFrame(columns=cols)
    d = daily[["day", "messages", "negative"]].copy()
    d["day"] = pd.to_datetime(d["day"])
    d = d.groupby("day", as_index=True)[["messages", "negative"]].sum().astype("float64")
    full = d.reindex(pd.date_range(d.index.min(), d.index.max(), freq="D"), fill_value=0.0)
    window = int(c["alert_window_days"])
    past = full.rolling(window, min_periods=1).sum().shift(1).reindex(d.index)
    n, k = d["messages"].to_numpy(), d["negative"].to_numpy()
    pn, pk = past["messages"].to_numpy(), past["negative"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        share = k / n
        base = np.where(pn > 0, pk / pn, np.nan)
        # a window without a single negative would make any negative day infinitely
        # surprising: the error is taken at no less than half a message of the window
        floor = 0.5 / pn
        p0 = np.clip(base, floor, 1 - floor)
        z = (share - base) / np.sqrt(p0 * (1 - p0) / n)
    alert = (n >= float(c["alert_min_messages"])) & (z > float(c["alert_sigma"]))
    out = pd.DataFrame(
        {
            "day": d.index,
            "messages": n.astype("int64"),
            "negative": k.astype("int64"),
            "share": share,
            "baseline": base,
            "z": z,
            "alert": alert,
        }
    )
    if not pd.api.types.is_datetime64_any_dtype(daily["day"]):
        out["day"] = out["day"].dt.date
    return out.reset_index(drop=True)


def survey_scores(con: Any, cfg: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """CSAT and NPS per local ISO week from the ``surveys`` table (empty without it).

    CSAT (1–5): the mean and the share of 4 and 5. NPS (0–10): the percentage of
    promoters (9–10) minus that of detractors (0–6), in points.

    Parameters
    ----------
    con
        An ibis connection; ``surveys`` has ``account_id, ts, kind`` (``csat`` |
        ``nps``) and ``score``.
    cfg
        ``timezone`` for the weeks.

    Returns
    -------
    pd.DataFrame
        ``week`` (the Monday) then the counts, ``csat_mean``, ``csat_satisfied_share``
        and ``nps`` (NaN in a week without responses of that kind).

    Examples
    --------
    >>> survey_scores(con)  # doctest: +SKIP
    """
    if "surveys" not in con.list_tables():
        return pd.DataFrame(columns=SURVEY_COLUMNS)
    s = con.table("surveys")
    s = s.filter(s.score.notnull() & s.ts.notnull())
    s = s.mutate(week=_week(s.ts, utc_offset_s(cfg)), score=s.score.cast("float64"))
    csat = s.kind == "csat"
    nps = s.kind == "nps"
    g = s.group_by("week").aggregate(
        csat_responses=csat.sum(),
        csat_mean=s.score.mean(where=csat),
        csat_satisfied=(csat & (s.score >= 4)).sum(),
        nps_responses=nps.sum(),
        promoters=(nps & (s.score >= 9)).sum(),
        passives=(nps & (s.score >= 7) & (s.score < 9)).sum(),
        detractors=(nps & (s.score <= 6)).sum(),
    )
    df = g.order_by("week").execute()
    df["week"] = pd.to_datetime(df["week"]).dt.date
    counts = ("csat_responses", "csat_satisfied", "nps_responses", "promoters", "passives",
              "detractors")  # fmt: skip
    for col in counts:
        df[col] = pd.to_numeric(df[col]).fillna(0).astype("int64")
    with np.errstate(invalid="ignore", divide="ignore"):
        df["csat_satisfied_share"] = df["csat_satisfied"] / df["csat_responses"].astype("float64")
        df["nps"] = (
            100 * (df["promoters"] - df["detractors"]) / df["nps_responses"].astype("float64")
        )
    df["csat_mean"] = pd.to_numeric(df["csat_mean"], errors="coerce").astype("float64")
    return df[SURVEY_COLUMNS].reset_index(drop=True)
