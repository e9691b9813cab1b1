"""The referrals questions, answered: the public functions of the capability.

Each takes a ``warehouse`` (a path, an open connection, or None for the
configured one) and reads the marts the build wrote; on a warehouse built
before the referrals step existed it computes them on the spot with the same
code the build runs (:func:`compute`).

Example
-------
>>> from scrm_lib.social.referrals.analysis import koc_scores, referral_chain
>>> koc_scores(tier="核心KOC").head()  # doctest: +SKIP
>>> referral_chain("P0A1B2C3D4E5", depth=2)["nodes"][:3]  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from scrm_lib.config import Settings, load_settings
from scrm_lib.engine import Warehouse, using
from scrm_lib.errors import ConfigError
from scrm_lib.schema import MARTS as DECLARED
from scrm_lib.social.referrals.abuse import FLAGS, abuse_frame
from scrm_lib.social.referrals.campaigns import campaign_frame
from scrm_lib.social.referrals.config import referrals_config
from scrm_lib.social.referrals.graph import Graph, input_checks
from scrm_lib.social.referrals.koc import CORE, POTENTIAL, koc_frame, score
from scrm_lib.social.referrals.persons import (
    converted_links,
    epoch_to_ts,
    person_frame,
    reward_rows,
)
from scrm_lib.social.referrals.step import MARTS


def _orders(con: Any, g: Graph) -> ir.Table:
    """Counted orders per person (``person_id, ts, net``); none when the warehouse has none."""
    from scrm_lib.social.channels.attribution import person_orders_of

    if "orders" in con.list_tables():
        return person_orders_of(con)
    # an empty table on the same connection (a memtable would be cached on another one)
    none = g.links.filter(ibis.literal(False))
    return none.select(person_id=none.src, ts=none.ts_s, net=ibis.literal(0.0))


def _as_of(con: Any, settings: Settings) -> int | None:
    """The as-of epoch (end of the day of the latest order); None without orders."""
    from scrm_lib.value._base import ValueDataError, resolve_as_of

    try:
        return resolve_as_of(con, None, settings.timezone).cutoff_epoch
    except ValueDataError:
        return None


def compute(
    con: Any, *, settings: Settings, closure_table: str | None = None, **overrides: Any
) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """The referrals marts for ``con`` with the ``[referrals]`` settings and ``overrides``.

    With ``closure_table`` the closure is written as that table in ``con`` without
    leaving the engine (a person and everyone down their chains is the largest mart:
    tens of millions of rows at 10M links) and its frame is left out.
    """
    cfg = referrals_config(settings, **overrides)
    meta: dict[str, Any] = {
        "conversion_days": cfg["conversion_days"],
        "reward_rules": cfg["reward_rules"],
        "koc_weights": cfg["koc_weights"],
        "koc_core": cfg["koc_core"],
        "koc_potential": cfg["koc_potential"],
        "koc_conversion_prior": cfg["koc_conversion_prior"],
    }
    frames = {name: pd.DataFrame() for name in MARTS}
    tables = con.list_tables()
    if "referrals" not in tables or not con.table("referrals").count().execute():
        # most warehouses of a brand without fission campaigns: nothing to walk
        missing = "no referrals table" if "referrals" not in tables else "no referral rows"
        meta.update(links=0, self_referrals=0, persons=0, rewards=0, abuse={}, koc={},
                    note=f"{missing}: nothing to build")  # fmt: skip
        return frames, meta
    graph = Graph.of(con)
    meta["input"] = input_checks(con, graph.edges)
    orders = _orders(con, graph).cache()
    as_of = _as_of(con, settings)
    with graph as g:
        conv = converted_links(g.links, orders, cfg["conversion_days"]).cache()
        try:
            rewards = reward_rows(conv, cfg["reward_rules"], settings.timezone)
            persons = person_frame(g, orders, conv, rewards)
            self_ref = g.edges.filter(g.edges.self_referral)
            if closure_table is None:
                frames["referral_closure"] = g.reach.execute()
            else:
                reach = g.reach.cast(DECLARED["referral_closure"].schema)
                g.scratch.materialize(closure_table, reach)
                del frames["referral_closure"]
            frames.update({
                "referral_edges": g.edges.execute(),
                "referral_persons": persons,
                "referral_rewards": rewards.assign(earned_at=epoch_to_ts(rewards["earned_ts"])),
                "referral_campaigns": campaign_frame(con, g.links, conv, self_ref, rewards,
                                                     orders, as_of),
                "referral_abuse": abuse_frame(con, g, orders, cfg, as_of),
                "koc_scores": koc_frame(con, persons, cfg),
            })  # fmt: skip
        finally:
            conv.release()
            orders.release()
    edges = frames["referral_edges"]
    meta.update({
        "as_of": None if as_of is None else dt.datetime.fromtimestamp(as_of, dt.UTC).isoformat(),
        "links": int((~edges["self_referral"].astype(bool)).sum()) if len(edges) else 0,
        "self_referrals": int(edges["self_referral"].astype(bool).sum()) if len(edges) else 0,
        "persons": len(frames["referral_persons"]),
        "rewards": len(frames["referral_rewards"]),
        "abuse": _counts(frames["referral_abuse"], "flag"),
        "koc": _counts(frames["koc_scores"], "koc_tier"),
    })  # fmt: skip
    return frames, meta


def _counts(df: pd.DataFrame, col: str) -> dict[str, int]:
    if df.empty or col not in df:
        return {}
    return {str(k): int(v) for k, v in df[col].dropna().value_counts().sort_index().items()}


def _tables(con: Any, settings: Settings | None) -> dict[str, ir.Table]:
    """The referrals marts of ``con``: as built, or computed now when the build had none."""
    names = (*MARTS, "referrals_meta")
    if all(n in con.list_tables() for n in names):
        return {n: con.table(n) for n in names}
    from scrm_lib.value._base import meta_frame

    frames, meta = compute(con, settings=settings or load_settings())
    frames["referrals_meta"] = meta_frame(meta)
    return {n: ibis.memtable(DECLARED[n].typed(frames[n])) for n in names}


def _plain(v: Any) -> Any:
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v):
        return None
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    return v.item() if hasattr(v, "item") else v


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in r.items()} for r in df.to_dict("records")]


def referral_summary(
    warehouse: Warehouse = None, *, settings: Settings | None = None
) -> dict[str, Any]:
    """The referral graph in numbers: links, persons, conversion, abuse flags, the KOC pool.

    Examples
    --------
    >>> referral_summary()["koc"]  # doctest: +SKIP
    {'核心KOC': 12, '潜力KOC': 40}
    """
    import json

    with using(warehouse) as con:
        t = _tables(con, settings)
        meta = t["referrals_meta"].execute()
        p = t["referral_persons"]
        totals = p.aggregate(
            persons=p.count(),
            inviters=(p.direct_invitees > 0).cast("int64").sum(),
            invited=p.invited_by.notnull().cast("int64").sum(),
            converted=p.converted_invitees.sum(),
            # each invited person once, however many chains reach them
            invited_gmv=p.gmv_since_invited.sum(where=p.invited_by.notnull()),
            max_generation=p.generation.max(),
            in_ring=p.in_ring.cast("int64").sum(),
        ).execute()
        c = t["referral_campaigns"]
        camps = c.filter(c.level == "campaign").count().execute()
    out: dict[str, Any] = {k: _plain(v) for k, v in totals.to_dict("records")[0].items()}
    for k in ("inviters", "invited", "converted", "invited_gmv", "in_ring"):
        out[k] = out[k] or 0  # a sum over no persons is NULL in SQL, nothing here
    notes = {k: json.loads(v) for k, v in zip(meta["key"], meta["value"], strict=True)}
    out["campaigns"] = int(camps)
    for key in ("as_of", "links", "self_referrals", "input", "rewards", "abuse", "koc",
                "koc_weights", "reward_rules", "conversion_days", "note"):  # fmt: skip
        if key in notes:
            out[key] = notes[key]
    return out


def referral_person(
    person_id: str, warehouse: Warehouse = None, *, settings: Settings | None = None
) -> dict[str, Any]:
    """One person in the referral graph: their numbers, rewards, KOC score and abuse flags.

    Examples
    --------
    >>> referral_person("P0A1B2C3D4E5")["person"]["downstream_persons"]  # doctest: +SKIP
    17
    """
    with using(warehouse) as con:
        t = _tables(con, settings)
        get = {n: t[n].filter(t[n].person_id == person_id).execute()
               for n in ("referral_persons", "referral_rewards", "koc_scores")}  # fmt: skip
        a = t["referral_abuse"]
        listed = (", " + a.related.fill_null("") + ", ").contains(f", {person_id}, ")
        flags = a.filter((a.person_id == person_id) | listed).execute()
    if get["referral_persons"].empty:
        raise ConfigError(f"no person {person_id!r} in the referral graph; see `scrm referrals`")
    return {
        "person_id": person_id,
        "person": _records(get["referral_persons"])[0],
        "rewards": _records(get["referral_rewards"]),
        "koc": (_records(get["koc_scores"]) or [None])[0],
        "abuse": _records(flags),
    }


def referral_campaigns(
    warehouse: Warehouse = None,
    *,
    level: str | None = "campaign",
    settings: Settings | None = None,
) -> pd.DataFrame:
    """Per fission campaign: seeds, participants, K-factor, generations, reward cost, retention.

    Parameters
    ----------
    level
        ``campaign`` (default), ``channel_type`` (retention and GMV of every acquisition
        channel type, ``referral`` being all fission) or None for both.

    Examples
    --------
    >>> referral_campaigns()[["key", "k_factor", "cost_per_acquired"]]  # doctest: +SKIP
    """
    if level not in (None, "campaign", "channel_type"):
        raise ConfigError(f"level {level!r}: campaign or channel_type")
    with using(warehouse) as con:
        c = _tables(con, settings)["referral_campaigns"]
        df = (c if level is None else c.filter(c.level == level)).execute()
    order = df["level"].map({"campaign": 0, "channel_type": 1})
    df = df.assign(_o=order).sort_values(["_o", "invitees", "acquired", "key"],
                                         ascending=[True, False, False, True])  # fmt: skip
    return df.drop(columns="_o").reset_index(drop=True)


def referral_abuse(
    warehouse: Warehouse = None, *, flag: str | None = None, settings: Settings | None = None
) -> pd.DataFrame:
    """Abuse flags with their evidence (self-referrals, rings, never-buy invitees, shared
    devices / addresses / phones, bursts).

    Examples
    --------
    >>> referral_abuse(flag="ring")[["person_id", "persons", "related"]]  # doctest: +SKIP
    """
    if flag is not None and flag not in FLAGS:
        raise ConfigError(f"flag {flag!r}: one of {', '.join(FLAGS)}")
    with using(warehouse) as con:
        a = _tables(con, settings)["referral_abuse"]
        df = (a if flag is None else a.filter(a.flag == flag)).execute()
    order = df["flag"].map({f: i for i, f in enumerate(FLAGS)})
    df = df.assign(_o=order).sort_values(["_o", "persons", "person_id"],
                                         ascending=[True, False, True])  # fmt: skip
    return df.drop(columns="_o").reset_index(drop=True)


def koc_scores(
    warehouse: Warehouse = None,
    *,
    tier: str | None = None,
    weights: dict[str, float] | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """The KOC score of every scored person, its parts, tier and what added the most.

    Parameters
    ----------
    tier
        ``核心KOC`` or ``潜力KOC``: only that pool.
    weights
        Other weights for the parts (``downstream_gmv``, ``conversion``, ``engagement``,
        ``sentiment``): scores, tiers and ranks are recomputed from the stored parts.

    Examples
    --------
    >>> koc_scores(weights={"downstream_gmv": 1, "sentiment": 1}).head()  # doctest: +SKIP
    """
    if tier not in (None, CORE, POTENTIAL):
        raise ConfigError(f"tier {tier!r}: {CORE} or {POTENTIAL}")
    with using(warehouse) as con:
        df = _tables(con, settings)["koc_scores"].execute()
    if weights is not None:
        cfg = referrals_config(settings, koc_weights=weights)
        df = score(df, cfg["koc_weights"], cfg["koc_core"], cfg["koc_potential"])
    if tier is not None:
        df = df[df["koc_tier"] == tier]
    return df.sort_values(["koc_score", "person_id"], ascending=[False, True]).reset_index(
        drop=True
    )


def referral_chain(
    person_id: str,
    depth: int = 2,
    warehouse: Warehouse = None,
    *,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """The persons up to ``depth`` links above and below a person, and the links among them.

    For drawing: ``nodes`` (``person_id``, ``level``: negative above, 0 the person,
    positive below; ``direct_invitees``, ``downstream_gmv``, ``koc_tier``) and
    ``edges`` (``source``, ``target``, ``kind``, ``campaign``, ``ts``, ``self_referral``).

    Examples
    --------
    >>> chain = referral_chain("P0A1B2C3D4E5", depth=1)  # doctest: +SKIP
    >>> [e["target"] for e in chain["edges"] if e["source"] == "P0A1B2C3D4E5"]  # doctest: +SKIP
    """
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise ConfigError(f"depth must be a whole number ≥ 1, not {depth!r}")
    with using(warehouse) as con:
        t = _tables(con, settings)
        c = t["referral_closure"].filter(lambda r: r.depth <= depth)
        down = c.filter(c.ancestor_id == person_id).select(person_id="descendant_id", level=c.depth)
        up = c.filter(c.descendant_id == person_id).select(person_id="ancestor_id", level=-c.depth)
        me = ibis.memtable({"person_id": [person_id], "level": [0]})
        # one type for all three: the built closure's depth is declared non-null
        near = ibis.union(*(part.cast({"level": "int64"}) for part in (me, down, up)))
        # a person both above and below (a ring) is drawn once, nearest the person
        near = near.group_by("person_id").aggregate(level=near.level.argmin(near.level.abs()))
        p = t["referral_persons"].select("person_id", "direct_invitees", "downstream_gmv")
        k = t["koc_scores"].select("person_id", "koc_tier")
        nodes = near.left_join(p, "person_id").drop("person_id_right")
        nodes = nodes.left_join(k, "person_id").drop("person_id_right").execute()
        e = t["referral_edges"]
        ids = list(nodes["person_id"])
        edges = e.filter(e.inviter_person_id.isin(ids) & e.invitee_person_id.isin(ids))
        edges = edges.group_by(source="inviter_person_id", target="invitee_person_id",
                               kind="kind").aggregate(campaign=edges.campaign.min(),
                                                      ts=edges.ts.min(),
                                                      self_referral=edges.self_referral.max()
                                                      ).execute()  # fmt: skip
        known = t["referral_persons"].filter(lambda r: r.person_id == person_id).count().execute()
    if not known:
        raise ConfigError(f"no person {person_id!r} in the referral graph; see `scrm referrals`")
    nodes = nodes.sort_values(["level", "person_id"])
    edges = edges.sort_values(["ts", "source", "target"])
    return {"person_id": person_id, "depth": depth, "nodes": _records(nodes),
            "edges": _records(edges)}  # fmt: skip
