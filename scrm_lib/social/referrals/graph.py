"""The referral graph at person level: edges after OneID and their closure.

Every ``referrals`` row (an invite link, a group-buy leader's member, a
distributor's customer) becomes an edge between the two accounts' persons.
When OneID finds both accounts are one person the edge is a self-referral: it
is kept in ``referral_edges`` with ``self_referral`` set (the abuse report shows
it) and left out of everything that counts.

The closure (who reaches whom, at any depth, with the shortest depth) is built in
the engine one generation at a time (:func:`closure`); it ends on rings, which
merges can create (A invites B, B's other account invites A).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir

from scrm_lib.engine import Scratch

#: Links without a campaign are grouped under this name.
NO_CAMPAIGN = "(无活动)"
#: The group of the whole graph in a closure that is not per campaign.
WHOLE = ""


def edges_expr(con: Any) -> ir.Table | None:
    """Every ``referrals`` row with both persons (None when the table is missing).

    An account OneID does not know is its own person, as everywhere else.
    """
    from scrm_lib.warehouse.steps import person_map

    if "referrals" not in con.list_tables():
        return None
    r = con.table("referrals")
    pm = person_map(con)
    src = pm.select(s_acc="account_id", s_person="person_id")
    dst = pm.select(d_acc="account_id", d_person="person_id")
    j = r.left_join(src, r.inviter_account_id == src.s_acc)
    j = j.left_join(dst, j.invitee_account_id == dst.d_acc)
    inviter = ibis.coalesce(j.s_person, j.inviter_account_id)
    invitee = ibis.coalesce(j.d_person, j.invitee_account_id)
    campaign = ibis.cases((j.campaign.strip().length() > 0, j.campaign.strip()), else_=NO_CAMPAIGN)
    out = j.select(
        inviter_person_id=inviter,
        invitee_person_id=invitee,
        inviter_account_id=j.inviter_account_id,
        invitee_account_id=j.invitee_account_id,
        ts=j.ts,
        kind=j.kind,
        campaign=campaign,
        self_referral=inviter == invitee,
    )
    return out.filter(out.inviter_account_id.notnull() & out.invitee_account_id.notnull())


def input_checks(con: Any, edges: ir.Table) -> dict[str, int]:
    """What in the ``referrals`` rows looks wrong; every such row is kept, and counted here.

    - ``unknown_accounts``: links with an account OneID does not know (no ``accounts``
      row): kept, the account its own person;
    - ``self_referrals``: links whose two accounts are one person (one account, or two
      that OneID joined): kept in ``referral_edges``, flagged, never counted;
    - ``duplicate_links``: links repeating a pair of persons already linked (another
      account, kind or time): kept, each person still counted once;
    - ``before_inviter_seen``: links made before the inviter's first appearance (the
      earliest ``first_seen`` of their accounts). Ingest counts an invite as a sighting
      of both accounts, so this is 0 on an ingested warehouse; it catches an
      ``accounts`` table written by other means whose dates disagree.
    """
    from scrm_lib.warehouse.steps import person_map

    pm = person_map(con)
    known = pm.select(acc="account_id").distinct()
    e = edges.mutate(
        _known_src=edges.inviter_account_id.isin(known.acc),
        _known_dst=edges.invitee_account_id.isin(known.acc),
    )
    counted = e.filter(~e.self_referral)
    pairs = counted.select("inviter_person_id", "invitee_person_id").distinct().count()
    out = e.aggregate(
        links=e.count(),
        unknown_accounts=(~(e._known_src & e._known_dst)).cast("int64").sum(),
        self_referrals=e.self_referral.cast("int64").sum(),
    ).execute()
    row = {k: int(v or 0) for k, v in out.iloc[0].items()}
    counted_n = row["links"] - row["self_referrals"]
    res = {
        "unknown_accounts": row["unknown_accounts"],
        "self_referrals": row["self_referrals"],
        "duplicate_links": counted_n - int(pairs.execute()),
        "before_inviter_seen": 0,
    }
    if "accounts" in con.list_tables():
        a = con.table("accounts")
        seen = a.inner_join(pm, "account_id")
        seen = seen.group_by("person_id").aggregate(first_seen=seen.first_seen.min())
        j = edges.inner_join(seen, edges.inviter_person_id == seen.person_id)
        res["before_inviter_seen"] = int(j.filter(j.ts < j.first_seen).count().execute())
    return res


def links_of(edges: ir.Table) -> ir.Table:
    """The edges that count (no self-referrals), as ``src, dst, ts_s, kind, campaign`` and
    ``dst_account`` (the invitee's account: two accounts of one person are two invites)."""
    e = edges.filter(~edges.self_referral)
    return e.select(
        src=e.inviter_person_id,
        dst=e.invitee_person_id,
        dst_account=e.invitee_account_id,
        ts_s=e.ts.epoch_seconds().cast("int64"),
        kind=e.kind,
        campaign=e.campaign,
    )


def closure(scratch: Scratch, links: ir.Table, *, by_campaign: bool = False) -> ir.Table:
    """``grp, ancestor_id, descendant_id, depth``: who reaches whom, at the shortest depth.

    The generations' union, each held in ``scratch`` (:class:`scrm_lib.engine.Scratch`,
    on either engine) until the scratch is closed. ``grp`` is the campaign with
    ``by_campaign`` (a campaign's own chains), else :data:`WHOLE`. A person on a ring
    reaches themselves (``ancestor_id == descendant_id``); callers that count
    downstream persons leave those rows out.

    Breadth first, one engine statement per generation, so the depth kept is the
    shortest. A recursive statement that checks every new pair against all pairs
    found so far slows with the square of the closure (19 s at 300k links, against
    2.6 s here); this checks only pairs ending at a person with two or more
    inviters. A person with one inviter is reached from an ancestor along one chain
    only, so their pair is new whenever the inviter's pair was. A pair of a person
    with themselves (a ring) is kept and never extended, which ends every ring.

    Each generation is held apart and the closure is their union, not one table
    appended to: Spark cannot append to a held table, and a copy of the whole
    closure into one would double its peak.
    """
    grp = links.campaign if by_campaign else ibis.literal(WHOLE)
    keys = ["grp", "ancestor_id", "descendant_id"]
    hold = scratch.hold
    e = hold(links.select(grp=grp, src="src", dst="dst").distinct())
    multi = e.group_by(["grp", "dst"]).aggregate(n=e.count())
    multi = hold(multi.filter(multi.n > 1).drop("n"))
    one = ibis.literal(1, "int64")
    frontier = hold(e.select("grp", ancestor_id=e.src, descendant_id=e.dst, depth=one))
    generations = [frontier]
    seen = hold(_ending_at(frontier, multi))
    depth = 1
    while True:
        depth += 1
        f = frontier.filter(frontier.ancestor_id != frontier.descendant_id)
        j = f.join(e, (f.grp == e.grp) & (f.descendant_id == e.src))
        step = j.select(
            grp=f.grp, ancestor_id=f.ancestor_id, descendant_id=e.dst,
            depth=ibis.literal(depth, "int64"),
        ).distinct()  # fmt: skip
        fresh = _ending_at(step, multi).anti_join(seen, keys)
        single = step.anti_join(multi, [step.grp == multi.grp, step.descendant_id == multi.dst])
        new = hold(single.union(fresh))
        if not new.count().execute():
            scratch.drop(new)
            break
        generations.append(new)
        # the pairs seen so far, copied with the new ones: a union of every round's
        # would make each round's statement longer than the last
        grown = hold(seen.union(_ending_at(new, multi)))
        scratch.drop(seen)
        seen, frontier = grown, new
    for t in (e, multi, seen):
        scratch.drop(t)
    return ibis.union(*generations) if len(generations) > 1 else generations[0]


def _ending_at(pairs: ir.Table, persons: ir.Table) -> ir.Table:
    """The pairs whose descendant is one of ``persons`` (``grp, dst``)."""
    return pairs.semi_join(persons, [pairs.grp == persons.grp, pairs.descendant_id == persons.dst])


@dataclass
class Graph:
    """The person edges, the counted links and the closure of one computation, cached.

    Use it as a context: every cached table and the closure are dropped on exit while
    the connection is still open.
    """

    con: Any
    edges: ir.Table
    links: ir.Table
    reach: ir.Table  # the closure without a person reaching themselves
    rings: ir.Table  # person_id of persons on a ring
    scratch: Scratch  # holds the closure
    held: list[ir.Table] = field(default_factory=list)

    @classmethod
    def of(cls, con: Any) -> Graph | None:
        """The graph of ``con``'s referrals; None when there are no referrals."""
        edges = edges_expr(con)
        if edges is None:
            return None
        edges = edges.cache()
        links = links_of(edges).cache()
        scratch = Scratch(con, "referral_closure")
        try:
            raw = closure(scratch, links)
        except BaseException:
            scratch.close()
            links.release()
            edges.release()
            raise
        reach = raw.filter(raw.ancestor_id != raw.descendant_id).drop("grp")
        rings = raw.filter(raw.ancestor_id == raw.descendant_id).select(person_id="ancestor_id")
        return cls(con, edges, links, reach, rings.distinct(), scratch, [edges, links])

    def __enter__(self) -> Graph:
        return self

    def __exit__(self, *_: Any) -> None:
        while self.held:
            self.held.pop().release()
        self.scratch.close()
