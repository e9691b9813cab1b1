"""Referral abuse (刷单 / 薅羊毛): flags with the evidence for each.

- ``self_referral``: inviter and invitee accounts are one person after OneID, or
  (OneID kept them apart) the invitee holds a phone or device the inviter holds too
  (their own, or an order's recipient phone): a second account of one person, most
  likely; those links still count, the flag names the identifier;
- ``ring``: a person who reaches themselves along links (A → B → A), with the
  other persons of the ring;
- ``never_buy``: an inviter with at least ``never_buy_min_invitees`` invitees of
  whom none ever bought (invitees of the last ``conversion_days`` left out: they
  have not had the time);
- ``shared_device`` / ``shared_address`` / ``shared_phone``: at least
  ``shared_min_invitees`` invitees of one inviter hold the same device, address or
  phone (``identifiers``, or an order's recipient phone and address) that OneID did
  not take as one person;
- ``burst``: at least ``burst_min_invites`` invites by one inviter within
  ``burst_minutes``; every invite inside such a window is in the burst (``related``
  lists those invitees, ``first_at`` / ``last_at`` span them).

``related`` lists the invitees a flag on an inviter is about (a burst's, those who
never bought, those sharing the value), sorted, up to :data:`MAX_RELATED`.

Personal values (the shared phone or address) are in ``value``, masked by ``kind``
on the way out like any identifier; ``evidence`` says what was seen in words.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from scrm_lib.social.referrals.graph import Graph

#: Identifier kind → the flag a shared one raises.
SHARED = {"device": "shared_device", "address": "shared_address",
          "recipient_address": "shared_address", "phone": "shared_phone",
          "phone_masked": "shared_phone", "recipient_phone": "shared_phone"}  # fmt: skip
FLAGS = ("self_referral", "ring", "never_buy", "shared_device", "shared_address",
         "shared_phone", "burst")  # fmt: skip
COLUMNS = ["flag", "person_id", "persons", "related", "campaign", "first_ts", "last_ts",
           "kind", "value", "evidence"]  # fmt: skip
#: Related persons listed per flag row (the count says how many there are).
MAX_RELATED = 20


def _related(s: pd.Series) -> str:
    return ", ".join(sorted(set(s))[:MAX_RELATED])


def self_referrals(g: Graph) -> pd.DataFrame:
    e = g.edges.filter(g.edges.self_referral)
    ts = e.ts.epoch_seconds().cast("int64")
    rows = e.group_by(person_id="inviter_person_id").aggregate(
        links=e.count(), first_ts=ts.min(), last_ts=ts.max(), campaign=e.campaign.min()
    ).execute()  # fmt: skip
    if rows.empty:
        return pd.DataFrame(columns=COLUMNS)
    rows["evidence"] = [
        f"{n} invite(s) to themselves (one person after OneID)" for n in rows["links"]
    ]
    return rows.assign(flag="self_referral", persons=1, related=rows["person_id"])


#: Identifier kinds that make an invitee look like a second account of the inviter.
OWN_KINDS = ("phone", "device")


def own_identifier(con: Any, links: ir.Table) -> pd.DataFrame:
    """Links whose invitee holds a phone or device of the inviter that OneID did not join."""
    from scrm_lib.warehouse.steps import person_map

    ends = ibis.union(links.select(person="src"), links.select(person="dst"))
    held = _held(con, ["phone", "device", "recipient_phone"], persons=ends)
    if held is None:
        return pd.DataFrame(columns=COLUMNS)
    pm = person_map(con)
    h = held.left_join(pm, "account_id")
    # an order's recipient phone is the phone
    h = h.select(person=ibis.coalesce(h.person_id, h.account_id), id_kind=h.kind,
                 id_value=h.value, base=h.kind.re_replace("^recipient_", ""))  # fmt: skip
    h = h.filter(h.base.isin(OWN_KINDS))
    mine = h.select(p_src="person", k_src="id_kind", v_src="id_value", b_src="base")
    theirs = h.filter(h.id_kind.isin(OWN_KINDS)).select(p_dst="person", id_kind="id_kind",
                                                        v_dst="id_value")  # fmt: skip
    j = links.inner_join(mine, links.src == mine.p_src)
    j = j.inner_join(theirs, (j.dst == theirs.p_dst) & (j.b_src == theirs.id_kind)
                     & (j.v_src == theirs.v_dst))  # fmt: skip
    with j.cache() as j:  # read twice: the flags, then who is in each
        g = j.group_by(person_id=j.src, kind=j.id_kind, value=j.v_dst).aggregate(
            persons=j.dst.nunique(), first_ts=j.ts_s.min(), last_ts=j.ts_s.max(),
            campaign=j.campaign.min(),
        )  # fmt: skip
        df = g.execute()
        if df.empty:
            return pd.DataFrame(columns=COLUMNS)
        listed = j.select(person_id="src", kind="id_kind", value="v_dst", dst="dst").distinct()
        df = _with_related(df, listed.execute(), ["person_id", "kind", "value"])
    df["evidence"] = [
        f"an invitee shares the inviter's {k} (not merged by OneID)" for k in df["kind"]
    ]
    return df.assign(flag="self_referral")


def _with_related(df: pd.DataFrame, listed: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """``df`` with ``related``: the ``dst`` of ``listed`` per ``keys``, sorted, capped."""
    if listed.empty:
        return df.assign(related=None)
    rel = listed.groupby(keys)["dst"].agg(_related).rename("related").reset_index()
    return df.merge(rel, on=keys, how="left")


def rings(g: Graph) -> pd.DataFrame:
    r = g.reach
    back = r.select(a="descendant_id", d="ancestor_id")
    both = r.inner_join(back, (r.ancestor_id == back.a) & (r.descendant_id == back.d))
    on = both.semi_join(g.rings, both.ancestor_id == g.rings.person_id)
    # the links the person made inside their ring date and name it
    lk = g.links.inner_join(on, (g.links.src == on.ancestor_id) & (g.links.dst == on.descendant_id))
    when = lk.group_by(person_id="src").aggregate(
        first_ts=lk.ts_s.min(), last_ts=lk.ts_s.max(), campaign=lk.campaign.min()
    ).execute()  # fmt: skip
    on = on.execute()
    if on.empty:
        return pd.DataFrame(columns=COLUMNS)
    rows = on.groupby("ancestor_id").agg(
        persons=("descendant_id", "nunique"), related=("descendant_id", _related),
    ).reset_index(names="person_id")  # fmt: skip
    rows = rows.merge(when, on="person_id", how="left")
    rows["persons"] += 1
    rows["evidence"] = [f"a ring: {n} persons reach each other" for n in rows["persons"]]
    return rows.assign(flag="ring")


def never_buy(links: ir.Table, orders: ir.Table, minimum: int, settled: int | None
              ) -> pd.DataFrame:  # fmt: skip
    """``settled``: links before this epoch count (None: all)."""
    if settled is not None:
        links = links.filter(links.ts_s < settled)
    buyers = orders.select("person_id").distinct()
    j = links.left_join(buyers.mutate(bought=True), links.dst == buyers.person_id)
    per = j.group_by(person_id="src").aggregate(
        persons=j.dst.nunique(),
        buyers=j.dst.nunique(where=j.bought.fill_null(False)),
        first_ts=j.ts_s.min(),
        last_ts=j.ts_s.max(),
    )
    per = per.filter((per.persons >= max(minimum, 1)) & (per.buyers == 0))
    df = per.execute()
    if df.empty:
        return pd.DataFrame(columns=COLUMNS)
    listed = links.semi_join(per, links.src == per.person_id)
    listed = listed.select(person_id="src", dst="dst").distinct().execute()
    df = _with_related(df, listed, ["person_id"])
    df["evidence"] = [f"{n} invitees never ordered" for n in df["persons"]]
    return df.assign(flag="never_buy")


def _held(con: Any, kinds: list[str], persons: ir.Table) -> ir.Table | None:
    """``account_id, kind, value`` of the identifiers and order recipients of ``kinds``,
    of the accounts of ``persons`` (a column ``person``) only.

    Only the persons of the links can match, and they are few beside every account's
    identifiers (171k links against 8.3M identifiers and 2.6M orders at 1M persons):
    filtering first keeps the engine from de-duplicating and joining all of them.
    """
    tables, parts = set(con.list_tables()), []
    if "identifiers" in tables:
        i = con.table("identifiers")
        parts.append(i.filter(i.kind.isin(kinds)).select("account_id", "kind", "value"))
    if "orders" in tables:
        o = con.table("orders")
        for col, kind in (("recipient_phone", "phone"), ("recipient_address", "address")):
            if kind in kinds:
                parts.append(o.select("account_id", kind=ibis.literal(f"recipient_{kind}"),
                                      value=o[col]))  # fmt: skip
    if not parts:
        return None
    accounts = _accounts_of(con, persons)
    u = ibis.union(*[part.semi_join(accounts, "account_id") for part in parts])
    return u.filter(u.value.notnull() & (u.value.strip().length() > 0)).distinct()


def _accounts_of(con: Any, persons: ir.Table) -> ir.Table:
    """``account_id`` of every account of ``persons``, and each person's own id: the
    callers read an account OneID left out as a person of its own."""
    from scrm_lib.warehouse.steps import person_map

    pm = person_map(con)
    mapped = pm.semi_join(persons, pm.person_id == persons.person).select("account_id")
    return ibis.union(mapped, persons.select(account_id=persons.person), distinct=True)


def shared(con: Any, links: ir.Table, kinds: list[str], minimum: int) -> pd.DataFrame:
    from scrm_lib.warehouse.steps import person_map

    held = _held(con, kinds, persons=links.select(person="dst"))
    if held is None:
        return pd.DataFrame(columns=COLUMNS)
    pm = person_map(con)
    h = held.left_join(pm, "account_id")
    # named apart from the links' own kind (invite, group_leader)
    h = h.select(person=ibis.coalesce(h.person_id, h.account_id), id_kind=h.kind, id_value=h.value)
    j = links.inner_join(h, links.dst == h.person)
    keys = ["person_id", "kind", "value"]
    with j.cache() as j:  # read twice: the flags, then who is in each
        g = j.group_by(person_id=j.src, kind=j.id_kind, value=j.id_value).aggregate(
            persons=j.dst.nunique(), first_ts=j.ts_s.min(), last_ts=j.ts_s.max(),
            campaign=j.campaign.min(),
        )  # fmt: skip
        g = g.filter(g.persons >= minimum)
        df = g.execute()
        if df.empty:
            return pd.DataFrame(columns=COLUMNS)
        listed = j.select(person_id="src", kind="id_kind", value="id_value", dst="dst")
        listed = listed.semi_join(g, [listed[k] == g[k] for k in keys]).distinct().execute()
    df = _with_related(df, listed, keys)
    df["flag"] = df["kind"].map(SHARED)
    pairs = zip(df["persons"], df["kind"], strict=True)
    df["evidence"] = [f"{n} invitees share one {k}" for n, k in pairs]
    return df


def bursts(links: ir.Table, minutes: int, minimum: int) -> pd.DataFrame:
    """Invites inside a window of ``minutes`` holding at least ``minimum`` of them.

    An inviter's repeated invite of one account counts once (its first), so a
    duplicated row is no burst; invites of several accounts of one person (a burner
    phone's) count each.
    """
    inv = links.filter(links.kind == "invite")
    inv = inv.group_by("src", "dst_account").aggregate(
        dst=inv.dst.min(), ts_s=inv.ts_s.min(), campaign=inv.campaign.argmin(inv.ts_s)
    )
    span = minutes * 60 - 1
    back = ibis.window(group_by=inv.src, order_by=inv.ts_s, range=(-span, 0))
    t = inv.mutate(n=inv.dst.count().over(back))
    # an invite is in a burst when a full window ending within `span` after it holds it
    ahead = ibis.window(group_by=t.src, order_by=t.ts_s, range=(0, span))
    t = t.mutate(hit=(t.n >= minimum).cast("int64").max().over(ahead), top=t.n.max().over(
        ibis.window(group_by=t.src)))  # fmt: skip
    hit = t.filter(t.hit == 1).select(person_id="src", dst="dst", ts_s="ts_s",
                                      campaign="campaign", top="top").execute()  # fmt: skip
    if hit.empty:
        return pd.DataFrame(columns=COLUMNS)
    df = hit.groupby("person_id").agg(
        persons=("dst", "size"), first_ts=("ts_s", "min"), last_ts=("ts_s", "max"),
        campaign=("campaign", "min"), related=("dst", _related), top=("top", "max"),
    ).reset_index()  # fmt: skip
    df["evidence"] = [f"{top} invites within {minutes} minutes" for top in df["top"]]
    return df.drop(columns="top").assign(flag="burst")


def abuse_frame(
    con: Any, g: Graph, orders: ir.Table, cfg: dict[str, Any], as_of: int | None = None
) -> pd.DataFrame:
    """Every flag row (:data:`COLUMNS`), by flag then persons involved."""
    from scrm_lib.social.referrals.persons import DAY, epoch_to_ts

    settled = None if as_of is None else as_of - cfg["conversion_days"] * DAY
    parts = [
        self_referrals(g),
        own_identifier(con, g.links),
        rings(g),
        never_buy(g.links, orders, cfg["never_buy_min_invitees"], settled),
        shared(con, g.links, cfg["identifier_kinds"], cfg["shared_min_invitees"]),
        bursts(g.links, cfg["burst_minutes"], cfg["burst_min_invites"]),
    ]
    parts = [p.reindex(columns=COLUMNS) for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=COLUMNS)
    df = pd.concat(parts, ignore_index=True)
    df["first_at"], df["last_at"] = epoch_to_ts(df.pop("first_ts")), epoch_to_ts(df.pop("last_ts"))
    order = df["flag"].map({f: i for i, f in enumerate(FLAGS)})
    df = df.assign(_o=order).sort_values(["_o", "persons", "person_id"],
                                         ascending=[True, False, True])  # fmt: skip
    return df.drop(columns="_o").reset_index(drop=True)
