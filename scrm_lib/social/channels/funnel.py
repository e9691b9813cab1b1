"""The journey funnel across platforms: configurable steps, strict or any order.

A step is reached through any of its event types (``events``), or by the
person's n-th counted order (``order``; ``within_days`` of the first order,
e.g. a second order within 90 days). Every account of a person counts
(after OneID), so a WeCom add, a mini-program cart and a Tmall order make
one journey.

- ``strict``: step k is reached at the first occurrence of step k at or after
  the time step k-1 was reached; a person who skipped a step stops there.
- ``any``: step k is reached when steps 1..k all occurred, in any order.

Per group (channel type, or everyone) and cohort: persons reaching each step,
conversion from the previous step (Wilson interval) and from the first, the
median hours from the previous step (strict order only), and the step that
loses the most (lowest conversion from the previous step) marked ``worst``,
among the steps that at least ``min_size`` persons reached the step before (a
step 3 persons came to says little: none of them going on is not a finding).
The per-step times are min-aggregates and joins in the engine; only the
per-group counts come back.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from scrm_lib.social.channels.attribution import DAY, Inputs, person_orders_of
from scrm_lib.social.channels.intervals import wilson
from scrm_lib.warehouse.steps import person_map

ALL = "all"


def occurrences(con: Any, steps: list[dict[str, Any]], inputs: Inputs | None = None) -> ir.Table:
    """``person_id, step_no, ts`` (epoch seconds) for every occurrence of every step."""
    parts = []
    pm = person_map(con)
    tables = set(con.list_tables())
    ranked = None
    for no, step in enumerate(steps, 1):
        if "events" in step:
            if "events" not in tables:
                continue
            e = con.table("events")
            e = e.filter(e.type.isin(step["events"]))
            j = e.left_join(pm, e.account_id == pm.account_id)
            parts.append(j.select(
                person_id=ibis.coalesce(j.person_id, j.account_id), step_no=ibis.literal(no),
                ts=j.ts.epoch_seconds().cast("int64"),
            ))  # fmt: skip
        else:
            if ranked is None:
                o = inputs.orders if inputs else person_orders_of(con)
                w = ibis.window(group_by=o.person_id, order_by=[o.ts])
                ranked = o.mutate(n=ibis.row_number().over(w) + 1, first=o.ts.min().over(w))
            r = ranked.filter(ranked.n == step["order"])
            if "within_days" in step:
                r = r.filter(r.ts - r.first <= step["within_days"] * DAY)
            parts.append(r.select("person_id", step_no=ibis.literal(no), ts=r.ts))
    if not parts:
        cols = {"person_id": "string", "step_no": "int64", "ts": "int64"}
        return ibis.memtable(pd.DataFrame({c: pd.Series(dtype=t) for c, t in cols.items()}))
    t = ibis.union(*parts)
    return t.filter(t.ts.notnull() & t.person_id.notnull())


def step_times(occ: ir.Table, n_steps: int, mode: str) -> ir.Table:
    """Per person: ``t1 … tN``, the time each step was reached (null: not reached)."""
    first = {k: occ.filter(occ.step_no == k) for k in range(1, n_steps + 1)}
    if mode == "any":
        per = occ.group_by("person_id").aggregate(
            **{f"t{k}": occ.ts.min(where=occ.step_no == k) for k in range(1, n_steps + 1)}
        )
        # reached k only when every earlier step happened too
        cols, ok = {}, ibis.literal(True)
        for k in range(1, n_steps + 1):
            ok = ok & per[f"t{k}"].notnull()
            cols[f"t{k}"] = ibis.ifelse(ok, per[f"t{k}"], ibis.null("int64"))
        return per.mutate(**cols)
    s1 = first[1]
    out = s1.group_by("person_id").aggregate(t1=s1.ts.min())
    for k in range(2, n_steps + 1):
        prev = out.select("person_id", prev=out[f"t{k - 1}"])
        s = first[k].inner_join(prev, "person_id")
        s = s.filter(s.ts >= s.prev)
        reached = s.group_by("person_id").aggregate(**{f"t{k}": s.ts.min()})
        out = out.left_join(reached, "person_id").drop("person_id_right")
    return out


def funnel_frame(
    con: Any,
    acq: ir.Table,
    steps: list[dict[str, Any]],
    *,
    mode: str,
    by: str | None = "channel_type",
    cohorts: bool = False,
    confidence: float = 0.95,
    inputs: Inputs | None = None,
    min_size: int = 1,
) -> pd.DataFrame:
    """The funnel per group of ``acq`` column ``by`` (and everyone), one row per step."""
    n = len(steps)
    occ = occurrences(con, steps, inputs)
    # every step reads it again (strict order joins step k to step k-1): scanned once
    times = step_times(inputs.hold(occ) if inputs else occ, n, mode)
    people = acq.select("person_id", "cohort", group=acq[by].cast("string") if by else ALL)
    # cached: the join and the aggregate below cost more to compile as one query than apart
    with people.inner_join(times, "person_id").cache() as j:
        # each person once per grouping (everyone or their group, the whole period or their
        # cohort): one aggregate to compile and run, not one per grouping; the flags keep a
        # group or cohort named "all" apart from everyone
        ways = [(g, c) for g in ([False, True] if by else [False])
                for c in ([False, True] if cohorts else [False])]  # fmt: skip
        grid = ibis.memtable({"_group": [g for g, _ in ways], "_cohort": [c for _, c in ways]})
        x = j.cross_join(grid)
        x = x.mutate(
            group=ibis.ifelse(x._group, x.group, ibis.literal(ALL)),
            cohort=ibis.ifelse(x._cohort, x.cohort, ibis.literal(ALL)),
        )
        aggs: dict[str, Any] = {}
        for k in range(1, n + 1):
            aggs[f"n{k}"] = x[f"t{k}"].notnull().cast("int64").sum().cast("int64")
            if k > 1 and mode == "strict":
                aggs[f"h{k}"] = ((x[f"t{k}"] - x[f"t{k - 1}"]) / 3600).median()
        g = x.group_by(["_group", "_cohort", "group", "cohort"]).aggregate(**aggs)
        wide = g.drop("_group", "_cohort").execute()
    return _long(wide, steps, by or "all", mode, confidence, min_size)


def _long(wide: pd.DataFrame, steps: list[dict[str, Any]], by: str, mode: str,
          confidence: float, min_size: int = 1) -> pd.DataFrame:  # fmt: skip
    rows = []
    for k, step in enumerate(steps, 1):
        part = wide[["group", "cohort"]].copy()
        part["step_no"], part["step"] = k, step["name"]
        part["persons"] = pd.to_numeric(wide[f"n{k}"]).fillna(0).astype("int64")
        part["previous"] = (
            pd.to_numeric(wide[f"n{k - 1}"]).fillna(0).astype("int64") if k > 1 else part["persons"]
        )
        part["first"] = pd.to_numeric(wide["n1"]).fillna(0).astype("int64")
        h = wide.get(f"h{k}")
        part["median_hours_from_previous"] = (
            pd.to_numeric(h).astype("float64") if h is not None else np.nan
        )
        rows.append(part)
    df = pd.concat(rows, ignore_index=True)
    prev = df["previous"].where(df["previous"] > 0)
    df["from_previous"] = df["persons"] / prev
    lo, hi = wilson(df["persons"], df["previous"], confidence)
    df["from_previous_lo"], df["from_previous_hi"] = np.clip(lo, 0, 1), np.clip(hi, 0, 1)
    df["from_start"] = df["persons"] / df["first"].where(df["first"] > 0)
    df.loc[df["step_no"] == 1, ["from_previous", "from_previous_lo", "from_previous_hi"]] = np.nan
    # the step that loses the most, per group and cohort
    later = df[(df["step_no"] > 1) & df["from_previous"].notna() & (df["previous"] >= min_size)]
    worst = later.loc[later.groupby(["group", "cohort"])["from_previous"].idxmin()].index
    df["worst"] = df.index.isin(worst)
    df.insert(0, "by", by)
    df["mode"] = mode
    order = df["group"].ne(ALL)
    return (
        df.assign(_o=order)
        .sort_values(["_o", "group", "cohort", "step_no"])
        .drop(columns=["_o", "first"])
        .reset_index(drop=True)
    )
