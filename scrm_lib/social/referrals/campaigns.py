"""Per fission campaign (裂变活动): reach, K-factor, generations, reward cost, and what the
persons it acquired are worth beside the persons other channels acquired.

- seeds: participants nobody invited within the campaign; participants: persons who
  invited in it; invitees: persons invited in it (distinct);
- K-factor: invitees per participant × invite conversion (= converted invitees per
  participant); above 1 a campaign grows by itself;
- generations: the longest shortest-chain from a seed within the campaign's links;
- reward cost: the rewards earned in the campaign (rules carry a cost); per person
  acquired (``channel_acquisition``: referral-acquired persons of the campaign);
- 30/90-day retention (the share of acquired persons, acquired at least that long
  before the as-of date, who ordered within that many days) and net GMV per person,
  for each campaign and for every acquisition channel type (``level = channel_type``;
  ``referral`` is all fission), so the two compare.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from scrm_lib.engine import Scratch
from scrm_lib.social.channels.touches import REFERRAL
from scrm_lib.social.referrals.config import HORIZONS
from scrm_lib.social.referrals.graph import NO_CAMPAIGN, closure
from scrm_lib.social.referrals.persons import DAY


def campaign_expr(con: Any, links: ir.Table, conv: ir.Table, self_ref: ir.Table) -> ir.Table:
    """Reach, conversion, seeds, generations and self-referrals per campaign."""
    stats = conv.group_by("campaign").aggregate(
        links=conv.count(),
        participants=conv.src.nunique(),
        invitees=conv.dst.nunique(),
        converted=conv.dst.nunique(where=conv.converted),
        first_ts=conv.ts_s.min(),
        last_ts=conv.ts_s.max(),
    )
    inv = links.select("campaign", p="src").distinct()
    seeds = inv.anti_join(links.select("campaign", p="dst"), ["campaign", "p"])
    per_seed = seeds.group_by("campaign").aggregate(seeds=seeds.count())
    with Scratch(con, "referral_closure") as scratch:
        reach = closure(scratch, links, by_campaign=True)
        r = reach.filter(reach.ancestor_id != reach.descendant_id)
        chains = r.semi_join(seeds, (r.grp == seeds.campaign) & (r.ancestor_id == seeds.p))
        gens = chains.group_by(campaign="grp").aggregate(generations=chains.depth.max())
        gens = ibis.memtable(gens.to_pyarrow())  # one row per campaign: the closure can go
    selfs = self_ref.group_by("campaign").aggregate(self_referrals=self_ref.count())
    out = stats
    for part in (per_seed, gens):
        out = out.left_join(part, "campaign").drop("campaign_right")
    return (
        out.outer_join(selfs, "campaign")
        .mutate(campaign=lambda t: ibis.coalesce(t.campaign, t.campaign_right))
        .drop("campaign_right")
    )


def acquired_outcomes(con: Any, orders: ir.Table, as_of: int | None) -> pd.DataFrame:
    """Per acquisition group: persons acquired, retention and GMV per person at each horizon.

    Groups: ``campaign`` (referral-acquired persons by campaign) and ``channel_type``.
    Empty without the ``channel_acquisition`` mart.
    """
    cols = ["level", "key", "acquired"]
    for h in HORIZONS:
        cols += [f"matured_{h}", f"retained_{h}", f"gmv_{h}"]
    if "channel_acquisition" not in con.list_tables():
        return pd.DataFrame(columns=cols)
    a = con.table("channel_acquisition")
    a = a.select("person_id", "channel_type", campaign=ibis.coalesce(a.campaign, NO_CAMPAIGN),
                 acq_ts=a.acquired_at.epoch_seconds().cast("int64"))  # fmt: skip
    o = a.select("person_id", "acq_ts").inner_join(orders, "person_id")
    since = o.ts - o.acq_ts
    aggs = {}
    for h in HORIZONS:
        window = (since >= 0) & (since < h * DAY)
        aggs[f"bought_{h}"] = window.any()
        aggs[f"gmv_{h}"] = o.net.sum(where=window)
    per = o.group_by("person_id").aggregate(**aggs)
    p = a.left_join(per, "person_id").drop("person_id_right")
    cut = as_of if as_of is not None else -1
    parts = []
    for level, key, rows in (
        ("campaign", p.campaign, p.filter(p.channel_type == REFERRAL)),
        ("channel_type", p.channel_type, p),
    ):
        rows = rows.mutate(key=key if level == "channel_type" else rows.campaign)
        sums: dict[str, Any] = {"acquired": rows.count()}
        for h in HORIZONS:
            m = (rows.acq_ts + h * DAY) <= cut
            sums[f"matured_{h}"] = m.cast("int64").sum()
            sums[f"retained_{h}"] = (m & rows[f"bought_{h}"].fill_null(False)).cast("int64").sum()
            sums[f"gmv_{h}"] = rows[f"gmv_{h}"].fill_null(0.0).sum(where=m)
        g = rows.group_by("key").aggregate(**sums).mutate(level=ibis.literal(level))
        parts.append(g)
    return ibis.union(*parts).execute()[cols]


def campaign_frame(
    con: Any,
    links: ir.Table,
    conv: ir.Table,
    self_ref: ir.Table,
    rewards: pd.DataFrame,
    orders: ir.Table,
    as_of: int | None,
) -> pd.DataFrame:
    """The ``referral_campaigns`` rows: campaigns first, then every channel type."""
    from scrm_lib.social.referrals.persons import epoch_to_ts, keyed

    camp = campaign_expr(con, links, conv, self_ref).execute()
    camp = keyed(camp.rename(columns={"campaign": "key"}).assign(level="campaign"), "key")
    if len(rewards):
        r = rewards.groupby("campaign").agg(rewards=("rule", "size"), reward_cost=("cost", "sum"))
        camp = camp.merge(r, left_on="key", right_index=True, how="left")
    out = keyed(acquired_outcomes(con, orders, as_of), "level", "key")
    df = camp.merge(out, on=["level", "key"], how="outer")
    for c in ("links", "participants", "invitees", "converted", "seeds", "generations",
              "self_referrals", "rewards", "acquired",
              *[f"{k}_{h}" for h in HORIZONS for k in ("matured", "retained")]):  # fmt: skip
        if c not in df:
            df[c] = 0
        df[c] = pd.to_numeric(df[c]).fillna(0).astype("int64")
    df["reward_cost"] = pd.to_numeric(df.get("reward_cost")).astype("float64")
    is_camp = df["level"] == "campaign"
    df.loc[is_camp, "reward_cost"] = df.loc[is_camp, "reward_cost"].fillna(0.0)
    participants = df["participants"].where(df["participants"] > 0)
    df["invites_per_participant"] = df["invitees"] / participants
    df["invite_conversion"] = df["converted"] / df["invitees"].where(df["invitees"] > 0)
    df["k_factor"] = df["invites_per_participant"] * df["invite_conversion"]
    df["cost_per_acquired"] = df["reward_cost"] / df["acquired"].where(df["acquired"] > 0)
    for h in HORIZONS:
        n = df[f"matured_{h}"].where(df[f"matured_{h}"] > 0)
        df[f"retention_{h}"] = df[f"retained_{h}"] / n
        df[f"gmv{h}_per_person"] = pd.to_numeric(df[f"gmv_{h}"]).astype("float64") / n
    df["first_at"], df["last_at"] = epoch_to_ts(df.get("first_ts")), epoch_to_ts(df.get("last_ts"))
    order = df["level"].map({"campaign": 0, "channel_type": 1})
    return df.assign(_o=order).sort_values(["_o", "invitees", "key"], ascending=[True, False, True])
