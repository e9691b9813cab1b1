"""The channel value mart: what the persons each channel brought are worth, with intervals.

Per channel type, campaign, channel code (活码) and staff member, for all
acquired persons and per monthly acquisition cohort:

- persons acquired; conversion to a first order within ``conversion_days``
  (Wilson interval) and the median days to the first order;
- net GMV per person over each horizon after acquisition (t interval), counted
  only for persons acquired at least that long before the as-of date (a
  cohort from last week has no 90-day GMV yet; its ``n`` says so) and not
  before the first order the warehouse holds (the exports' start: a person
  acquired earlier has orders from before it that no export shows);
- repeat rate of buyers (Wilson), mean CLV (t) and P(alive) from the value
  mart, churn risk from the churn scores;
- cost (only when every code of the group has one: a missing cost leaves
  cost, CAC and ROI empty, never 0), CAC per buyer, ROI on GMV to date and
  on GMV plus expected CLV (``(value - cost) / cost``);
- a rank by 90-day GMV per person among groups of at least ``min_cohort``
  persons, so that a channel of 12 persons does not top the table by luck.

The engine computes per-group sufficient statistics (counts, sums, sums of
squares); the intervals are computed from them in :mod:`.intervals`.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from scrm_lib.social.channels.attribution import DAY, Inputs, person_orders_of
from scrm_lib.social.channels.config import HORIZONS
from scrm_lib.social.channels.intervals import t_interval, wilson
from scrm_lib.social.channels.touches import channel_table

#: Group levels, widest first, and the column that keys each.
LEVELS = {"channel_type": "channel_type", "campaign": "campaign",
          "channel_code": "channel_code", "staff": "staff_id"}  # fmt: skip
ALL = "all"


def person_outcomes(
    con: Any, acq: ir.Table, cfg: dict[str, Any], as_of_ts: int, inputs: Inputs | None = None
) -> ir.Table:
    """Per person: acquisition, orders after it, GMV per horizon, CLV, P(alive), churn risk."""
    orders = inputs.orders if inputs else person_orders_of(con)
    # one scalar, fetched once: the engine would otherwise rescan orders per comparison
    start = orders.ts.min().execute()
    observed = acq.acquired_ts >= (as_of_ts if start is None or pd.isna(start) else int(start))
    acq = acq.mutate(observed=observed)
    o = acq.select("person_id", "acquired_ts").inner_join(orders, "person_id")
    o = o.filter((o.ts >= o.acquired_ts) & (o.ts < as_of_ts))
    since = o.ts - o.acquired_ts
    aggs: dict[str, Any] = {
        "first_ts": o.ts.min(),
        "n_orders": o.count(),
        "gmv": o.net.sum(),
    }
    for h in HORIZONS:
        aggs[f"gmv_{h}"] = o.net.sum(where=since < h * DAY)
    per = o.group_by("person_id").aggregate(**aggs)
    j = acq.left_join(per, "person_id").drop("person_id_right")
    conv = cfg["conversion_days"] * DAY
    cols: dict[str, Any] = {
        "n_orders": j.n_orders.fill_null(0),
        "gmv": j.gmv.fill_null(0.0),
        "days_to_first": (j.first_ts - j.acquired_ts) / DAY,
        "conv_matured": j.observed & (j.acquired_ts + conv <= as_of_ts),
        "converted": (j.first_ts - j.acquired_ts) <= conv,
    }
    for h in HORIZONS:
        cols[f"matured_{h}"] = j.observed & (j.acquired_ts + h * DAY <= as_of_ts)
        cols[f"gmv_{h}"] = j[f"gmv_{h}"].fill_null(0.0)
    j = j.mutate(**cols)
    tables = set(con.list_tables())
    if "value_persons" in tables:
        v = con.table("value_persons").select("person_id", "clv", "p_alive")
        j = j.left_join(v, "person_id").drop("person_id_right")
    else:
        j = j.mutate(clv=ibis.null("float64"), p_alive=ibis.null("float64"))
    if "churn_scores" in tables:
        c = con.table("churn_scores").select("person_id", "churn_probability", "risk_band")
        j = j.left_join(c, "person_id").drop("person_id_right")
    else:
        j = j.mutate(churn_probability=ibis.null("float64"), risk_band=ibis.null("string"))
    return j


def _n(cond: ir.BooleanValue) -> ir.IntegerScalar:
    # an integer count on every engine (a sum of booleans is a decimal on some)
    return cond.cast("int64").sum().cast("int64")


def _sums(t: ir.Table, cfg: dict[str, Any]) -> dict[str, Any]:
    """The sufficient statistics of one group."""
    buyer = t.n_orders >= 1
    aggs: dict[str, Any] = {
        "persons": t.count(),
        "conv_n": _n(t.conv_matured),
        "conv_k": _n(t.conv_matured & t.converted.fill_null(False)),
        # not median(where=): ibis filters the fraction too on Spark, which needs a constant
        "median_days_to_first_order": ibis.ifelse(buyer, t.days_to_first, None).median(),
        "buyers": _n(buyer),
        "repeat_k": _n(t.n_orders >= 2),
        "gmv_total": t.gmv.sum(),
        "clv_n": _n(t.clv.notnull()),
        "clv_sum": t.clv.sum(),
        "clv_sumsq": (t.clv * t.clv).sum(),
        "p_alive": t.p_alive.mean(),
        "churn_scored": _n(t.churn_probability.notnull()),
        "churn_risk": t.churn_probability.mean(),
        "high_risk": _n(t.risk_band == "high"),
    }
    for h in HORIZONS:
        m, g = t[f"matured_{h}"], t[f"gmv_{h}"]
        aggs[f"gmv{h}_n"] = _n(m)
        aggs[f"gmv{h}_sum"] = g.sum(where=m)
        aggs[f"gmv{h}_sumsq"] = (g * g).sum(where=m)
    return aggs


def group_stats(people: ir.Table, cfg: dict[str, Any], levels: tuple[str, ...]) -> pd.DataFrame:
    """Sufficient statistics per level, key and cohort (``all`` and each month), one query."""
    sums = _sums(people, cfg)
    total = people.aggregate(**sums).mutate(
        key=ibis.literal(ALL), cohort=ibis.literal(ALL), level=ibis.literal("total")
    )
    total = total.select("key", "cohort", *sums, "level")
    if not levels:
        return total.execute()
    # each person once per level and grouping (whole period, or their cohort), so that the
    # statistics are one aggregate to compile and run, not one per level and grouping;
    # ``_cohort`` keeps a key whose own cohort is named "all" apart from the whole period
    grid = ibis.memtable(
        {"level": [lv for lv in levels for _ in (0, 1)], "_cohort": [False, True] * len(levels)}
    )
    p = people.cross_join(grid)
    key = ibis.cases(*[(p.level == lv, p[LEVELS[lv]].cast("string")) for lv in levels])
    p = p.mutate(key=key, cohort=ibis.ifelse(p._cohort, p.cohort, ibis.literal(ALL)))
    p = p.filter(p.key.notnull())
    g = p.group_by(["level", "_cohort", "key", "cohort"]).aggregate(**_sums(p, cfg))
    return ibis.union(g.select(*total.columns), total).execute()


def _parents(people: ir.Table) -> pd.DataFrame:
    """Channel type, campaign and name of each code (for display beside a code or campaign)."""
    p = people.filter(people.channel_code.notnull())
    return (
        p.group_by(key="channel_code")
        .aggregate(
            channel_type=p.channel_type.min(),
            campaign=p.campaign.min(),
            channel_name=p.channel_name.min(),
        )
        .execute()
    )


def _costs(con: Any) -> pd.DataFrame:
    """Cost per level and key: the sum over the group's codes, null when any code lacks one."""
    ch = channel_table(con)
    if ch is None:
        return pd.DataFrame(columns=["level", "key", "cost", "codes_without_cost"])
    df = ch.execute()
    rows = []
    for level, col in (("channel_type", "ch_type"), ("campaign", "ch_campaign"),
                       ("channel_code", "code"), ("staff", "ch_staff")):  # fmt: skip
        g = df[df[col].notna()].groupby(col)["cost"]
        per = pd.DataFrame({"cost": g.sum(min_count=1), "codes_without_cost": g.apply(
            lambda s: int(s.isna().sum()))})  # fmt: skip
        per.loc[per["codes_without_cost"] > 0, "cost"] = np.nan
        rows.append(per.rename_axis("key").reset_index().assign(level=level))
    return pd.concat(rows, ignore_index=True)


def finish(stats: pd.DataFrame, costs: pd.DataFrame, parents: pd.DataFrame,
           cfg: dict[str, Any]) -> pd.DataFrame:  # fmt: skip
    """Rates, means and their intervals, cost, CAC, ROI and rank from the group statistics."""
    conf = float(cfg["confidence"])
    df = stats.copy()
    for c in df.columns.difference(["level", "key", "cohort"]):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype("float64")
    for c in [c for c in df.columns if c.endswith(("_n", "_k")) or c in ("persons", "buyers")]:
        df[c] = df[c].fillna(0).astype("int64")
    df["conversion"] = df["conv_k"] / df["conv_n"].where(df["conv_n"] > 0)
    df["conversion_lo"], df["conversion_hi"] = wilson(df["conv_k"], df["conv_n"], conf)
    df["repeat_rate"] = df["repeat_k"] / df["buyers"].where(df["buyers"] > 0)
    df["repeat_lo"], df["repeat_hi"] = wilson(df["repeat_k"], df["buyers"], conf)
    for h in HORIZONS:
        m, lo, hi = t_interval(df[f"gmv{h}_n"], df[f"gmv{h}_sum"], df[f"gmv{h}_sumsq"], conf)
        df[f"gmv{h}_per_person"], df[f"gmv{h}_lo"], df[f"gmv{h}_hi"] = m, lo, hi
    df["clv_mean"], df["clv_lo"], df["clv_hi"] = t_interval(
        df["clv_n"], df["clv_sum"].fillna(0.0), df["clv_sumsq"].fillna(0.0), conf
    )
    # the support of each quantity bounds its interval (Wilson's rounding, t's symmetry)
    for c in ("conversion", "repeat"):
        df[[f"{c}_lo", f"{c}_hi"]] = df[[f"{c}_lo", f"{c}_hi"]].clip(0.0, 1.0)
    for c in [c for c in df.columns if c.startswith(("gmv", "clv")) and c.endswith("_lo")]:
        df[c] = df[c].clip(lower=0.0)
    for c in ("churn_scored", "high_risk"):
        df[c] = df[c].fillna(0).astype("int64")
    df["high_risk_share"] = df["high_risk"] / df["churn_scored"].where(df["churn_scored"] > 0)
    df = df.merge(costs, on=["level", "key"], how="left")
    df.loc[df["cohort"] != ALL, "cost"] = np.nan  # costs are not dated: whole-period rows only
    cost = df["cost"].where(df["cost"] > 0)
    df["cost_per_person"] = cost / df["persons"]
    df["cac"] = cost / df["buyers"].where(df["buyers"] > 0)
    df["roi_gmv"] = (df["gmv_total"] - cost) / cost
    df["roi_clv"] = (df["gmv_total"] + df["clv_sum"].fillna(0.0) - cost) / cost
    df = _with_parents(df, parents)
    df["rankable"] = df["persons"] >= cfg["min_cohort"]
    rank_by = df["gmv90_per_person"].where(df["rankable"])
    df["rank"] = rank_by.groupby([df["level"], df["cohort"]]).rank(ascending=False, method="min")
    df["rank"] = df["rank"].where(df["level"] != "total").astype("Int64")
    keep = [c for c in df.columns if not c.endswith(("_sum", "_sumsq"))]
    order = {lv: i for i, lv in enumerate(["total", *LEVELS])}
    df = df.assign(_o=df["level"].map(order)).sort_values(
        ["_o", "cohort", "rank", "persons", "key"], ascending=[True, True, True, False, True],
        na_position="last",
    )  # fmt: skip
    return df[keep].reset_index(drop=True)


def _with_parents(df: pd.DataFrame, parents: pd.DataFrame) -> pd.DataFrame:
    """The channel type (and campaign, name) a code or campaign belongs to, beside its row."""
    codes = parents.astype(object).set_index("key")
    camp_type = codes.dropna(subset=["campaign"]).groupby("campaign")["channel_type"].min()
    level, key = df["level"].to_numpy(), df["key"].astype(object)
    none = pd.Series(None, index=df.index, dtype=object)
    code = level == "channel_code"
    df["channel_type"] = np.select(
        [level == "channel_type", code, level == "campaign"],
        [key, key.map(codes["channel_type"]), key.map(camp_type)],
        default=None,
    )
    df["campaign"] = np.select(
        [level == "campaign", code], [key, key.map(codes["campaign"])], default=None
    )
    df["channel_name"] = np.where(code, key.map(codes["channel_name"]), none)
    return df


def channel_value_frame(con: Any, acq: ir.Table, cfg: dict[str, Any], as_of_ts: int,
                        levels: tuple[str, ...] = tuple(LEVELS),
                        inputs: Inputs | None = None) -> pd.DataFrame:  # fmt: skip
    """The channel value table for the acquisition expression ``acq``."""
    # released on the way out, while the connection is open
    with person_outcomes(con, acq, cfg, as_of_ts, inputs).cache() as people:
        stats = group_stats(people, cfg, levels)
        return finish(stats, _costs(con), _parents(people), cfg)
