"""The one suppression step every outbox goes through: consent, windows, quiet hours,
quotas and the frequency cap. Nothing reaches an outbox around it.

Each candidate row ends ``planned`` or ``suppressed`` with the first reason that
stopped it, in this order:

==============  ===============================================================
reason          when
==============  ===============================================================
no_account      the person has no account on any of the rule's channels
no_staff        a staff task for a person without a staff member
opt_out         the person's latest consent row for the channel (any account,
                before the run) withdraws consent
no_opt_in       the channel needs an explicit grant and the latest row is none
window          the rule already planned this person within ``window_days``
stale           quiet hours pushed the send more than ``stale_hours`` past due
quota           the platform's quota for the person, channel and local day or
                month is full (past touches, earlier runs, higher priorities);
                a quota counts the kinds it lists (default: marketing, as a
                platform's mass-message limit does not count 1:1 service)
frequency_cap   ``cap_messages`` marketing messages within ``cap_days`` already
==============  ===============================================================

Quotas and the cap are shared out by priority (1 first), then planned time, then
rule name. A hold-out row goes through every check like the others and takes its
place (it is planned, not sent), so the two arms of a rule see the same suppression.

The count behind the cap is conservative: for a row planned at ``p`` it counts
the person's marketing messages in ``(p - cap_days, p + cap_days)``, so no window of
``cap_days`` holding an outbox row ever holds more than ``cap_messages``, whatever
runs come later for earlier dates.

Example
-------
>>> out = suppress(rows, history, consent, at=at, cfg=automation_config())  # doctest: +SKIP
>>> out.status.isin(["planned", "suppressed"]).all()  # doctest: +SKIP
True
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

DAY = 86_400
REASONS = ("no_account", "no_staff", "opt_out", "no_opt_in", "window", "stale", "quota",
           "frequency_cap")  # fmt: skip
#: What :func:`suppress` needs of each candidate row.
ROW_COLUMNS = ("row_id", "person_id", "rule", "kind", "channel", "account_id", "staff_id",
               "priority", "window_days", "due_at")  # fmt: skip
#: What it needs of the history (past touches and earlier runs' planned rows).
HISTORY_COLUMNS = ("person_id", "channel", "kind", "rule", "ts")
CONSENT_COLUMNS = ("person_id", "channel", "granted", "ts")


def _wall(ts: pd.Series, tz: str) -> pd.Series:
    return pd.to_datetime(ts, unit="s", utc=True).dt.tz_convert(tz)


def quiet_shift(planned: pd.Series, *, tz: str, start_s: int, end_s: int) -> pd.Series:
    """Epoch seconds moved out of quiet hours to their end (next local day if needed).

    ``start_s`` / ``end_s`` are local times as seconds after midnight; equal: none.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.Timestamp("2026-03-01 23:30", tz="Asia/Shanghai").timestamp()
    >>> out = quiet_shift(pd.Series([int(t)]), tz="Asia/Shanghai", start_s=75600, end_s=32400)
    >>> str(pd.Timestamp(out[0], unit="s", tz="UTC").tz_convert("Asia/Shanghai"))
    '2026-03-02 09:00:00+08:00'
    """
    planned = pd.Series(planned, dtype="int64").reset_index(drop=True)
    if start_s == end_s or planned.empty:
        return planned
    w = _wall(planned, tz)
    tod = w.dt.hour * 3600 + w.dt.minute * 60 + w.dt.second
    if start_s > end_s:
        quiet = (tod >= start_s) | (tod < end_s)
        next_day = tod >= start_s
    else:
        quiet = (tod >= start_s) & (tod < end_s)
        next_day = pd.Series(False, index=tod.index)
    naive = w.dt.tz_localize(None).dt.normalize()
    target = naive + pd.to_timedelta(next_day.astype(int), unit="D") + pd.Timedelta(seconds=end_s)
    local = target.dt.tz_localize(tz, ambiguous=np.ones(len(target), dtype=bool),
                                  nonexistent="shift_forward")  # fmt: skip
    moved = (local.dt.tz_convert("UTC") - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    return planned.where(~quiet, moved.astype("int64"))


def period_bounds(ts: pd.Series, *, tz: str, per: str) -> tuple[pd.Series, pd.Series]:
    """The local day or month holding each epoch second, as ``[start, end)`` epochs."""
    w = _wall(pd.Series(ts, dtype="int64").reset_index(drop=True), tz)
    naive = w.dt.tz_localize(None).dt.normalize()
    if per == "month":
        start = naive - pd.to_timedelta(naive.dt.day - 1, unit="D")
        end = start + pd.offsets.MonthBegin(1)
    else:
        start, end = naive, naive + pd.Timedelta(days=1)

    def utc(s: pd.Series) -> pd.Series:
        loc = s.dt.tz_localize(tz, ambiguous=np.ones(len(s), dtype=bool),
                               nonexistent="shift_forward")  # fmt: skip
        return ((loc.dt.tz_convert("UTC") - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
                ).astype("int64")  # fmt: skip

    return utc(start), utc(end)


def latest_consent(consent: ir.Table, at: int) -> ir.Table:
    """``person_id, channel, granted``: each person's latest consent row before ``at``.

    A withdrawal and a grant in the same second: the withdrawal wins.
    """
    c = consent.filter(consent.ts < at)
    rank = ibis.row_number().over(
        group_by=["person_id", "channel"], order_by=[ibis.desc("ts"), c.granted.cast("int8")]
    )
    c = c.mutate(_n=rank)
    return c.filter(c._n == 0).select("person_id", "channel", "granted")


_TYPES = {"person_id": "string", "channel": "string", "kind": "string", "rule": "string",
          "account_id": "string", "staff_id": "string", "priority": "int64",
          "window_days": "int64", "ts": "int64", "granted": "bool"}  # fmt: skip


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    return df.astype({c: t for c, t in _TYPES.items() if c in df.columns})


def _mark(j: ir.Table, hit: ir.Table, flag: str, reason: str) -> ir.Table:
    """``j`` with ``reason`` set on the rows ``hit`` lists (``_i``) that had none."""
    j = j.left_join(hit, "_i").drop("_i_right")
    why = ibis.ifelse(j[flag].fill_null(False), reason, ibis.null("string"))
    return j.mutate(reason=ibis.coalesce(j.reason, why)).drop(flag)


def _frame(df: pd.DataFrame | ir.Table, cols: tuple[str, ...]) -> pd.DataFrame:
    if isinstance(df, ir.Table):
        df = df.execute()
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"suppression input lacks columns {missing}")
    return df


def suppress(
    rows: pd.DataFrame,
    history: pd.DataFrame | ir.Table,
    consent: pd.DataFrame | ir.Table,
    *,
    at: int,
    cfg: dict[str, Any],
) -> pd.DataFrame:
    """Every candidate row, ``planned`` or ``suppressed`` with its reason and send time.

    Parameters
    ----------
    rows
        Candidates (:data:`ROW_COLUMNS`); ``due_at`` is when the rule wants to send
        (epoch seconds); ``kind`` marketing or service.
    history
        Messages already sent or planned (:data:`HISTORY_COLUMNS`): past touches and
        earlier runs' planned rows (``rule`` empty for touches).
    consent
        Consent rows by person (:data:`CONSENT_COLUMNS`); only rows before ``at`` count.
    at
        The run's instant (epoch seconds): nothing is planned before it.
    cfg
        :func:`scrm_lib.social.automation.config.automation_config`.

    Returns
    -------
    pandas.DataFrame
        ``rows`` with ``planned_at`` (epoch seconds, after quiet hours), ``status``
        (planned / suppressed) and ``reason`` (empty when planned), in input order.
    """
    rows = _frame(rows, ROW_COLUMNS).reset_index(drop=True).copy()
    hist = _frame(history, HISTORY_COLUMNS)
    cons = _frame(consent, CONSENT_COLUMNS)
    tz = cfg["timezone"]
    rows["_i"] = np.arange(len(rows), dtype="int64")
    due = pd.to_numeric(rows["due_at"]).fillna(at).astype("int64").clip(lower=at)
    rows["planned_at"] = quiet_shift(due, tz=tz, start_s=cfg["quiet_start_s"],
                                     end_s=cfg["quiet_end_s"]).to_numpy()  # fmt: skip
    rows["_due"] = pd.to_numeric(rows["due_at"]).fillna(at).astype("int64").to_numpy()
    rows["_qstart"] = np.zeros(len(rows), dtype="int64")
    rows["_qend"] = np.zeros(len(rows), dtype="int64")
    rows["_qmax"] = np.full(len(rows), -1, dtype="int64")
    for ch, q in cfg["quotas"].items():
        sel = ((rows["channel"] == ch) & rows["kind"].isin(q["kinds"])).to_numpy()
        if sel.any():
            s, e = period_bounds(rows.loc[sel, "planned_at"], tz=tz, per=q["per"])
            rows.loc[sel, "_qstart"], rows.loc[sel, "_qend"] = s.to_numpy(), e.to_numpy()
            rows.loc[sel, "_qmax"] = q["max"]
    needs_account = [ch for ch, spec in cfg["channels"].items() if spec["platforms"]]
    opt_in = [ch for ch, spec in cfg["channels"].items() if spec["opt_in"]]

    from scrm_lib.engine import duckdb_connect

    keep = [c for c in ROW_COLUMNS if c != "due_at"]
    keep += ["_i", "planned_at", "_due", "_qstart", "_qend", "_qmax"]
    con = duckdb_connect()
    try:
        done = _reasons(con, rows[keep], hist, cons, at=at, cfg=cfg, needs_account=needs_account,
                        opt_in=opt_in)  # fmt: skip
    finally:
        con.disconnect()
    out = rows.drop(columns=["_due", "_qstart", "_qend", "_qmax"]).merge(
        done[["_i", "reason"]], on="_i", how="left"
    )
    out = out.sort_values("_i").drop(columns="_i").reset_index(drop=True)
    out["reason"] = out["reason"].astype("string")
    out["status"] = np.where(out["reason"].isna(), "planned", "suppressed")
    return out


def _reasons(
    con: Any, rows: pd.DataFrame, hist: pd.DataFrame, cons: pd.DataFrame, *, at: int,
    cfg: dict[str, Any], needs_account: list[str], opt_in: list[str],
) -> pd.DataFrame:  # fmt: skip
    """``_i, reason`` per row, computed in ``con`` in three stages (each kept as a temporary
    table, so no stage re-plans the ones before it)."""

    def keep(name: str, t: Any) -> ir.Table:
        return con.create_table(name, t, temp=True, overwrite=True)

    r = keep("_rows", _typed(rows))
    h = keep("_hist", _typed(hist[list(HISTORY_COLUMNS)]))
    c = keep("_consent", _typed(cons[list(CONSENT_COLUMNS)]))
    last = latest_consent(c, at)
    j = r.left_join(last, ["person_id", "channel"]).drop("person_id_right", "channel_right")

    # one message per person per rule per window: earlier runs' planned rows of the rule
    prior = h.filter(h.rule.notnull())
    dup = j.inner_join(prior, [j.person_id == prior.person_id, j.rule == prior.rule])
    dup = dup.filter((dup.ts > dup.planned_at - dup.window_days * DAY)
                     & (dup.ts < dup.planned_at + dup.window_days * DAY))  # fmt: skip
    dup = dup.select("_i").distinct().mutate(_dup=ibis.literal(True))
    j = j.left_join(dup, "_i").drop("_i_right")

    checks = [
        (j.channel.isin(needs_account) & j.account_id.isnull(), "no_account"),
        ((j.channel == "staff_task") & j.staff_id.isnull(), "no_staff"),
        (j.granted.notnull() & ~j.granted.fill_null(True), "opt_out"),
        (j.channel.isin(opt_in or [""]) & ~j.granted.fill_null(False), "no_opt_in"),
        (j._dup.fill_null(False), "window"),
        (j.planned_at - j._due > cfg["stale_hours"] * 3600, "stale"),
    ]
    reason = ibis.cases(*checks, else_=ibis.null("string"))
    j = keep("_checked", j.mutate(reason=reason).drop("_dup", "granted"))
    order = ["priority", "planned_at", "rule", "_i"]

    # quotas: the person's messages on the channel in the local period, then this run's
    # rows by priority
    live = j.filter(j.reason.isnull() & (j._qmax >= 0))
    pairs = [{"channel": ch, "kind": k} for ch, q in cfg["quotas"].items() for k in q["kinds"]]
    hq = h.semi_join(keep("_qkinds", _typed(pd.DataFrame(pairs, columns=["channel", "kind"]))),
                     ["channel", "kind"])  # fmt: skip
    used = live.inner_join(hq, [live.person_id == hq.person_id, live.channel == hq.channel])
    used = used.filter((used.ts >= used._qstart) & (used.ts < used._qend))
    used = used.group_by("_i").aggregate(_qused=used.count())
    ranked = live.left_join(used, "_i").drop("_i_right")
    nth = ibis.row_number().over(group_by=["person_id", "channel", "_qstart"], order_by=order)
    ranked = ranked.mutate(_nth=nth)
    ranked = ranked.mutate(_qn=ranked._qused.fill_null(0) + ranked._nth + 1)
    over = ranked.filter(ranked._qn > ranked._qmax).select("_i", _quota=ibis.literal(True))
    j = keep("_quota", _mark(j, over, "_quota", "quota"))

    # the frequency cap: marketing only, past touches and planned rows of every rule
    span = cfg["cap_days"] * DAY
    mk = j.filter(j.reason.isnull() & (j.kind == "marketing"))
    hm = h.filter(h.kind == "marketing")
    seen = mk.inner_join(hm, mk.person_id == hm.person_id)
    seen = seen.filter((seen.ts > seen.planned_at - span) & (seen.ts < seen.planned_at + span))
    seen = seen.group_by("_i").aggregate(_seen=seen.count())
    mk = mk.left_join(seen, "_i").drop("_i_right")
    nth = ibis.row_number().over(group_by="person_id", order_by=order)
    mk = mk.mutate(_nth=nth)
    mk = mk.mutate(_n=mk._seen.fill_null(0) + mk._nth + 1)
    capped = mk.filter(mk._n > cfg["cap_messages"]).select("_i", _cap=ibis.literal(True))
    j = _mark(j, capped, "_cap", "frequency_cap")
    return con.execute(j.select("_i", "planned_at", "reason").order_by("_i"))
