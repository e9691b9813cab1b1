"""Peer: first-touch attribution and the strict journey funnel in plain pandas.

The same rules as :mod:`scrm_lib.social.channels` (touches, the first touch
within ``acquisition_days`` of the first appearance and at most
``grace_hours`` after the first order, ties by touch kind, code, evidence;
strict funnel over the default steps, per acquisition channel type and for
everyone), written the way an analyst would in pandas: vectorized
``groupby``/``merge``/``merge_asof``, no loop over persons. The tables are
read from the same DuckDB file first (timed apart: :func:`load`).

A second implementation of the same numbers: the benchmark's smoke test
checks that its counts equal scrm's.

Examples
--------
>>> frames = load(path)  # doctest: +SKIP
>>> acq = attribute(frames, grace_hours=24, acquisition_days=30)  # doctest: +SKIP
>>> funnel(frames, acq, DEFAULT_STEPS)  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

DAY = 86_400
TOUCHES = ("referral", "wecom_add", "qr_scan", "scene", "order_code", "influencer", "live")
LIVE_SOURCES = ("直播", "live", "直播间")

#: What is read: plain columns, times as epoch seconds, the JSON attributes' fields.
READS = {
    "pm": "SELECT account_id, person_id FROM person_accounts",
    "accounts": "SELECT account_id, platform, epoch(first_seen)::BIGINT AS first_seen, "
    "channel_code FROM accounts",
    "events": "SELECT event_id, account_id, epoch(ts)::BIGINT AS ts, type, "
    "json_extract_string(attributes, '$.state') AS state, "
    "json_extract_string(attributes, '$.staff') AS staff, "
    "json_extract_string(attributes, '$.channel_code') AS code FROM events",
    "orders": "SELECT platform, order_id, account_id, status, "
    "epoch(coalesce(paid_at, created_at))::BIGINT AS ts, amount::DOUBLE AS amount, "
    "refund_amount::DOUBLE AS refund, channel_code, influencer_id, traffic_source FROM orders",
    "referrals": "SELECT inviter_account_id, invitee_account_id, epoch(ts)::BIGINT AS ts, "
    "campaign FROM referrals",
    "channels": "SELECT channel_id, type FROM channels",
}


def load(path: Path) -> dict[str, pd.DataFrame]:
    """The tables the peer reads, from the DuckDB file at ``path``."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {name: con.execute(sql).df() for name, sql in READS.items()}
    finally:
        con.close()


def _blank_to_null(s: pd.Series) -> pd.Series:
    s = s.str.strip()
    return s.where(s != "")


def _person(df: pd.DataFrame, pm: pd.DataFrame, col: str = "account_id") -> pd.Series:
    """The person of each row's account (the account itself when unmapped)."""
    mapped = df[[col]].merge(pm, left_on=col, right_on="account_id", how="left")["person_id"]
    return pd.Series(mapped.to_numpy(), index=df.index).fillna(df[col])


def person_orders(f: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Counted orders per person: ``person_id, ts, net`` (paid or refunded, net > 0)."""
    o = f["orders"]
    o = o[o["status"].isin(("paid", "refunded"))]
    per = o.groupby(["platform", "order_id"], sort=False, as_index=False).agg(
        account_id=("account_id", "min"), ts=("ts", "min"), gross=("amount", "sum"),
        refund=("refund", "sum"),
    )  # fmt: skip
    per["net"] = (per["gross"] - per["refund"]).round(2)
    per["person_id"] = _person(per, f["pm"])
    return per.loc[per["net"] > 0, ["person_id", "ts", "net"]]


def touches(f: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Every acquisition touch: ``person_id, ts, prio, channel_code, channel_type, evidence``."""
    e = f["events"]
    adds = e[e["type"].isin(("wecom_add", "wecom_follow"))]
    scans = e[e["type"] == "qr_scan"]
    a = f["accounts"]
    a = a[a["platform"] != "wecom"]
    o = f["orders"]
    o = o[o["status"].isin(("paid", "refunded"))].assign(
        code=lambda d: _blank_to_null(d["channel_code"]),
        infl=lambda d: _blank_to_null(d["influencer_id"]),
        live=lambda d: d["traffic_source"].str.strip().isin(LIVE_SOURCES),
    )
    per = o.groupby(["platform", "order_id"], sort=False, as_index=False).agg(
        account_id=("account_id", "min"), ts=("ts", "min"), code=("code", "min"),
        infl=("infl", "min"), live=("live", "any"),
    )  # fmt: skip
    coded = per[per["code"].notna()]
    dy = per[(per["platform"] == "douyin") & (per["infl"].notna() | per["live"])]
    r = f["referrals"]
    parts = [
        pd.DataFrame({"account_id": adds["account_id"], "ts": adds["ts"], "touch": "wecom_add",
                      "channel_code": _blank_to_null(adds["state"]),
                      "evidence": "events:" + adds["event_id"]}),
        pd.DataFrame({"account_id": scans["account_id"], "ts": scans["ts"], "touch": "qr_scan",
                      "channel_code": _blank_to_null(scans["code"]),
                      "evidence": "events:" + scans["event_id"]}),
        pd.DataFrame({"account_id": a["account_id"], "ts": a["first_seen"], "touch": "scene",
                      "channel_code": _blank_to_null(a["channel_code"]),
                      "evidence": "accounts:" + a["account_id"]}),
        pd.DataFrame({"account_id": coded["account_id"], "ts": coded["ts"],
                      "touch": "order_code", "channel_code": coded["code"],
                      "evidence": "orders:" + coded["platform"] + ":" + coded["order_id"]}),
        pd.DataFrame({"account_id": dy["account_id"], "ts": dy["ts"],
                      "touch": np.where(dy["infl"].notna(), "influencer", "live"),
                      "channel_code": dy["infl"],
                      "evidence": "orders:" + dy["platform"] + ":" + dy["order_id"]}),
        pd.DataFrame({"account_id": r["invitee_account_id"], "ts": r["ts"], "touch": "referral",
                      "channel_code": None, "inviter": r["inviter_account_id"],
                      "evidence": "referrals:" + r["inviter_account_id"] + ">"
                      + r["invitee_account_id"]}),
    ]  # fmt: skip
    t = pd.concat(parts, ignore_index=True)
    t = t[t["ts"].notna() & (t["channel_code"].notna() | t["touch"].isin(("referral", "live")))]
    t = t.assign(person_id=_person(t, f["pm"]))
    ref = t["touch"] == "referral"
    inviter = _person(t.loc[ref], f["pm"], "inviter")
    t = t.drop(index=inviter.index[inviter.to_numpy() == t.loc[ref, "person_id"].to_numpy()])
    t["prio"] = t["touch"].map({k: i for i, k in enumerate(TOUCHES)})
    types = f["channels"].set_index("channel_id")["type"]
    kinds = {"referral": "referral", "influencer": "douyin_influencer", "live": "douyin_live"}
    known = t["channel_code"].map(types)
    t["channel_type"] = t["touch"].map(kinds).fillna(known).fillna("unknown_code")
    return t[["person_id", "ts", "prio", "channel_code", "channel_type", "evidence"]]


def attribute(f: dict[str, pd.DataFrame], *, grace_hours: int, acquisition_days: int
              ) -> pd.DataFrame:  # fmt: skip
    """First-touch acquisition per person: ``person_id, channel_type, acquired_ts``."""
    pm, a, e = f["pm"], f["accounts"], f["events"]
    sighted = pm.merge(a[["account_id", "first_seen"]], on="account_id")
    people = sighted.groupby("person_id")["first_seen"].min().rename("sighted").to_frame()
    acted = e[["account_id", "ts"]].merge(pm, on="account_id").groupby("person_id")["ts"].min()
    people["first_seen"] = acted.reindex(people.index).fillna(people["sighted"])
    orders = person_orders(f)
    people["first_order"] = orders.groupby("person_id")["ts"].min()
    t = touches(f)
    people["acquired"] = pd.concat(
        [people["first_seen"], t.groupby("person_id")["ts"].min(), people["first_order"]],
        axis=1, join="outer",
    ).reindex(people.index).min(axis=1)  # fmt: skip
    t = t.merge(people[["acquired", "first_order"]], left_on="person_id", right_index=True)
    ok = t["first_order"].isna() | (t["ts"] <= t["first_order"] + grace_hours * 3600)
    if acquisition_days:
        ok &= t["ts"] <= t["acquired"] + acquisition_days * DAY
    chosen = (
        t[ok]
        .sort_values(["person_id", "ts", "prio", "channel_code", "evidence"])
        .drop_duplicates("person_id")
        .set_index("person_id")["channel_type"]
    )
    out = people[["acquired"]].rename(columns={"acquired": "acquired_ts"})
    out["channel_type"] = chosen.reindex(out.index).fillna("organic")
    return out.reset_index()


def occurrences(f: dict[str, pd.DataFrame], steps: list[dict[str, Any]]) -> list[pd.DataFrame]:
    """Per step: ``person_id, ts`` of each occurrence, sorted by time."""
    e = f["events"]
    e = e.assign(person_id=_person(e, f["pm"]))
    ranked = None
    out = []
    for step in steps:
        if "events" in step:
            occ = e.loc[e["type"].isin(step["events"]), ["person_id", "ts"]]
        else:
            if ranked is None:
                ranked = person_orders(f).sort_values(["person_id", "ts"])
                ranked["n"] = ranked.groupby("person_id").cumcount() + 1
                ranked["first"] = ranked.groupby("person_id")["ts"].transform("min")
            occ = ranked[ranked["n"] == step["order"]]
            if "within_days" in step:
                occ = occ[occ["ts"] - occ["first"] <= step["within_days"] * DAY]
            occ = occ[["person_id", "ts"]]
        out.append(occ.sort_values("ts", kind="stable"))
    return out


def funnel(f: dict[str, pd.DataFrame], acq: pd.DataFrame, steps: list[dict[str, Any]]
           ) -> pd.DataFrame:  # fmt: skip
    """Strict-order funnel per channel type and for everyone: ``group, step_no, persons``.

    Step k is reached at the first occurrence of step k at or after step k-1
    (``merge_asof`` forward, by person).
    """
    occ = occurrences(f, steps)
    times = occ[0].groupby("person_id")["ts"].min().rename("t1").to_frame()
    for k in range(2, len(steps) + 1):
        prev = times[f"t{k - 1}"].dropna().astype("int64").sort_values().rename("prev")
        hit = pd.merge_asof(prev.reset_index(), occ[k - 1], left_on="prev", right_on="ts",
                            by="person_id", direction="forward")  # fmt: skip
        times[f"t{k}"] = hit.set_index("person_id")["ts"]
    j = acq[["person_id", "channel_type"]].merge(times, left_on="person_id", right_index=True)
    rows = []
    for group, g in [("all", j), *j.groupby("channel_type")]:
        for k in range(1, len(steps) + 1):
            hours = ((g[f"t{k}"] - g[f"t{k - 1}"]) / 3600).median() if k > 1 else np.nan
            rows.append({"group": group, "step_no": k, "step": steps[k - 1]["name"],
                         "persons": int(g[f"t{k}"].notna().sum()),
                         "median_hours_from_previous": hours})  # fmt: skip
    return pd.DataFrame(rows)
