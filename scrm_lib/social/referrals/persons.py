"""Per person: what they brought, directly and down their chains, and the rewards earned.

- direct invitees (distinct persons linked from them, any kind) and converted
  invitees: a first order (the person's first ever) within ``conversion_days``
  after the link;
- downstream persons at any depth and their net GMV since each was first
  invited, each person once however many paths reach them (the closure holds
  one row per pair);
- generation: the shortest depth from a root (a person nobody invited); a person
  reached only through a ring has none;
- leader and distributor sales: net GMV of the persons a group-buy leader or a
  distributor brought, from the link on;
- rewards: each ``reward_rules`` rule earned per inviter and campaign, at the
  time of the n-th converted invitee's first order.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from scrm_lib.social.referrals.graph import Graph

DAY = 86_400
REWARD_COLUMNS = ["person_id", "rule", "campaign", "converted", "earned_ts", "cost"]


def converted_links(links: ir.Table, orders: ir.Table, conversion_days: int) -> ir.Table:
    """``links`` with the invitee's ``first_ts`` and ``converted`` (a first order in time)."""
    first = orders.group_by("person_id").aggregate(first_ts=orders.ts.min())
    j = links.left_join(first, links.dst == first.person_id).drop("person_id")
    ok = (j.first_ts >= j.ts_s) & (j.first_ts <= j.ts_s + conversion_days * DAY)
    return j.mutate(converted=ok.fill_null(False))


def _local_epoch(day: str, tz: str, *, end: bool) -> int:
    from zoneinfo import ZoneInfo

    d = dt.date.fromisoformat(day) + dt.timedelta(days=1 if end else 0)
    return int(dt.datetime.combine(d, dt.time(), ZoneInfo(tz)).timestamp())


def reward_rows(conv: ir.Table, rules: list[dict[str, Any]], tz: str) -> pd.DataFrame:
    """One row per reward earned: ``person_id, rule, campaign, converted, earned_ts, cost``."""
    parts = []
    for rule in rules:
        c = conv.filter(conv.converted & conv.kind.isin(rule["kinds"]))
        if rule["campaign"] is not None:
            c = c.filter(c.campaign == rule["campaign"])
        if rule["since"] is not None:
            c = c.filter(c.ts_s >= _local_epoch(rule["since"], tz, end=False))
        if rule["until"] is not None:
            c = c.filter(c.ts_s < _local_epoch(rule["until"], tz, end=True))
        per = c.group_by("src", "campaign", "dst").aggregate(conv_ts=c.first_ts.min())
        nth = ibis.row_number().over(group_by=["src", "campaign"], order_by=["conv_ts", "dst"])
        counts = per.group_by("src", "campaign").aggregate(converted=per.count())
        won = per.mutate(n=nth)
        won = won.filter(won.n == rule["converted"] - 1)
        won = won.inner_join(counts, ["src", "campaign"])
        parts.append(won.select(
            person_id=won.src, rule=ibis.literal(rule["name"]), campaign=won.campaign,
            converted=won.converted.cast("int64"), earned_ts=won.conv_ts,
            cost=ibis.literal(rule["cost"]),
        ))  # fmt: skip
    if not parts:
        return pd.DataFrame(columns=REWARD_COLUMNS)
    return ibis.union(*parts).execute()[REWARD_COLUMNS]


def _brought_by_kind(links: ir.Table, orders: ir.Table, kind: str) -> ir.Table:
    """Per leader (or distributor): the persons they brought and those persons' GMV since."""
    lk = links.filter(links.kind == kind)
    lk = lk.group_by("src", "dst").aggregate(since=lk.ts_s.min())
    o = lk.inner_join(orders, lk.dst == orders.person_id)
    sales = o.filter(o.ts >= o.since).group_by("src").aggregate(gmv=o.net.sum())
    persons = lk.group_by("src").aggregate(persons=lk.count())
    j = persons.left_join(sales, "src").drop("src_right")
    return j.select(person_id="src", **{f"{kind}_persons": j.persons,
                                        f"{kind}_gmv": j.gmv.fill_null(0.0)})  # fmt: skip


def person_expr(g: Graph, orders: ir.Table, conv: ir.Table) -> ir.Table:
    """One row per person in the graph (a self-referrer too), before rewards."""
    links, reach = g.links, g.reach
    self_ref = g.edges.filter(g.edges.self_referral)
    nodes = ibis.union(
        links.select(person_id="src"), links.select(person_id="dst"),
        self_ref.select(person_id="inviter_person_id"),
    ).distinct()  # fmt: skip
    first_in = links.group_by(person_id="dst").aggregate(
        invited_ts=links.ts_s.min(),
        invited_by=links.src.argmin(links.ts_s),
        invited_kind=links.kind.argmin(links.ts_s),
        invited_campaign=links.campaign.argmin(links.ts_s),
    )
    own = orders.left_join(first_in, "person_id").drop("person_id_right")
    gmv = own.group_by("person_id").aggregate(
        net_gmv=own.net.sum(),
        first_order_ts=own.ts.min(),
        gmv_since_invited=own.net.sum(where=own.ts >= own.invited_ts),
    )
    down = reach.left_join(gmv, reach.descendant_id == gmv.person_id)
    down = down.group_by(person_id="ancestor_id").aggregate(
        downstream_persons=down.count(),
        downstream_gmv=down.gmv_since_invited.sum().fill_null(0.0),
        downstream_depth=down.depth.max(),
    )
    direct = conv.group_by(person_id="src").aggregate(
        direct_invitees=conv.dst.nunique(),
        converted_invitees=conv.dst.nunique(where=conv.converted),
        first_invite_ts=conv.ts_s.min(),
    )
    roots = nodes.anti_join(links, nodes.person_id == links.dst)
    gen = reach.semi_join(roots, reach.ancestor_id == roots.person_id)
    gen = gen.group_by(person_id="descendant_id").aggregate(generation=gen.depth.min())
    gen = ibis.union(gen, roots.mutate(generation=ibis.literal(0, "int64")))
    selfs = self_ref.group_by(person_id="inviter_person_id").aggregate(
        self_referrals=self_ref.count()
    )
    out = nodes
    for part in (first_in, gmv, down, direct, gen, selfs,
                 _brought_by_kind(links, orders, "group_leader"),
                 _brought_by_kind(links, orders, "distributor"),
                 g.rings.mutate(in_ring=ibis.literal(True))):  # fmt: skip
        out = out.left_join(part, "person_id").drop("person_id_right")
    return out


def person_frame(g: Graph, orders: ir.Table, conv: ir.Table, rewards: pd.DataFrame) -> pd.DataFrame:
    """The ``referral_persons`` rows: :func:`person_expr` with rewards, times and rates."""
    df = person_expr(g, orders, conv).execute()
    counts = ["direct_invitees", "converted_invitees", "downstream_persons", "self_referrals",
              "group_leader_persons", "distributor_persons", "downstream_depth"]  # fmt: skip
    for c in counts:
        df[c] = pd.to_numeric(df[c]).fillna(0).astype("int64")
    for c in ("net_gmv", "downstream_gmv", "group_leader_gmv", "distributor_gmv"):
        df[c] = pd.to_numeric(df[c]).astype("float64").fillna(0.0)
    df["in_ring"] = df["in_ring"].fillna(False).astype(bool)
    df["invite_conversion"] = df["converted_invitees"] / df["direct_invitees"].where(
        df["direct_invitees"] > 0
    )
    if len(rewards):
        per = rewards.groupby("person_id").agg(
            rewards=("rule", lambda s: ", ".join(sorted(set(s)))), reward_cost=("cost", "sum")
        )
        df = keyed(df, "person_id").merge(per, left_on="person_id", right_index=True, how="left")
    else:
        df = df.assign(rewards=None, reward_cost=None)
    df["reward_cost"] = pd.to_numeric(df["reward_cost"]).astype("float64").fillna(0.0)
    for c in ("invited", "first_order", "first_invite"):
        df[f"{c}_at"] = epoch_to_ts(df.pop(f"{c}_ts"))
    return df.sort_values(["downstream_gmv", "person_id"], ascending=[False, True])


def keyed(df: pd.DataFrame, *cols: str) -> pd.DataFrame:
    """``df`` with its join keys as plain objects: pandas cannot join two empty Arrow columns."""
    return df.astype({c: object for c in cols if c in df})


def epoch_to_ts(s: pd.Series) -> pd.Series:
    """Epoch seconds as UTC timestamps (nulls kept)."""
    return pd.to_datetime(pd.to_numeric(s), unit="s", utc=True).astype("datetime64[us, UTC]")
