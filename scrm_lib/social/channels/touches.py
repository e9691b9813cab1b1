"""Acquisition touches: every sighting of a person through a channel, from any platform.

One ibis table, one row per touch, built once and read by attribution, the
channel value mart and the staff view:

===============  ==========================================================
touch            where it comes from
===============  ==========================================================
referral         a ``referrals`` row: the person was invited (老客转介绍)
wecom_add        a WeCom add (``wecom_add`` / ``wecom_follow`` event) with a
                 ``state``: the 活码 scanned
qr_scan          a ``qr_scan`` event with a channel code
scene            an account first seen with a channel code (WeCom ``state``,
                 mini-program ``qr_scene_str``)
order_code       an order placed through a channel code (mini-program)
influencer       a Douyin order carried by a 达人 (its 达人ID is the code)
live             a Douyin order from a live room (流量来源 = 直播) without a 达人
===============  ==========================================================

A touch without a channel code (a WeCom add by search, a scan of the plain
mini-program code) acquires nobody: the person stays organic unless another
touch says more. ``prio`` breaks ties in time, in the order of the table.
Channel codes are looked up in ``channels``: a code the table does not know
is kept with channel type ``unknown_code`` and reported, never dropped.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir

from scrm_lib.engine.exprs import json_text
from scrm_lib.warehouse.steps import person_map

#: Touch kinds in tie-break order (earlier wins when two touches share a second).
TOUCHES = ("referral", "wecom_add", "qr_scan", "scene", "order_code", "influencer", "live")

#: Touches an order carries (the others are explicit: an invite, an add, a scan).
ORDER_BORNE = ("order_code", "influencer", "live")

#: Channel types that are not rows of the ``channels`` table.
REFERRAL, INFLUENCER, LIVE, UNKNOWN, ORGANIC = (
    "referral", "douyin_influencer", "douyin_live", "unknown_code", "organic"
)  # fmt: skip

COLUMNS = ("person_id", "ts", "platform", "touch", "prio", "channel_code", "channel_type",
           "campaign", "staff_id", "inviter_person_id", "evidence")  # fmt: skip

_LIVE_SOURCES = ("直播", "live", "直播间")


def _blank_to_null(col: ir.StringValue) -> ir.StringValue:
    s = col.strip()
    return ibis.ifelse(s == "", ibis.null("string"), s)


def _account_touches(con: Any, tables: set[str]) -> list[ir.Table]:
    """Touches keyed by account: events, accounts and orders."""
    null = ibis.null("string")
    out: list[ir.Table] = []
    if "events" in tables:
        e = con.table("events")
        adds = e.filter(e.type.isin(("wecom_add", "wecom_follow")))
        out.append(adds.select(
            account_id=adds.account_id, ts=adds.ts, platform=ibis.literal("wecom"),
            touch=ibis.literal("wecom_add"),
            channel_code=_blank_to_null(json_text(con, adds.attributes, "state")),
            staff_id=_blank_to_null(json_text(con, adds.attributes, "staff")),
            inviter_account_id=null,
            campaign=null, evidence="events:" + adds.event_id,
        ))  # fmt: skip
        scans = e.filter(e.type == "qr_scan")
        out.append(scans.select(
            account_id=scans.account_id, ts=scans.ts, platform=ibis.literal("wechat"),
            touch=ibis.literal("qr_scan"), channel_code=_blank_to_null(
                json_text(con, scans.attributes, "channel_code")),
            staff_id=null, inviter_account_id=null, campaign=null,
            evidence="events:" + scans.event_id,
        ))  # fmt: skip
    if "accounts" in tables:
        a = con.table("accounts")
        # a WeCom contact's ``state`` is the add's, and its add event says when and by whom
        a = a.filter(a.platform != "wecom")
        out.append(a.select(
            account_id=a.account_id, ts=a.first_seen, platform=a.platform,
            touch=ibis.literal("scene"), channel_code=_blank_to_null(a.channel_code),
            staff_id=null, inviter_account_id=null, campaign=null,
            evidence="accounts:" + a.account_id,
        ))  # fmt: skip
    if "orders" in tables:
        o = con.table("orders")
        o = o.filter(o.status.isin(("paid", "refunded")))
        per = o.group_by(["platform", "order_id"]).aggregate(
            account_id=o.account_id.min(),
            ts=ibis.coalesce(o.paid_at, o.created_at).min(),
            code=_blank_to_null(o.channel_code).min(),
            influencer=_blank_to_null(o.influencer_id).min(),
            live=o.traffic_source.strip().isin(_LIVE_SOURCES).any(),
        )
        coded = per.filter(per.code.notnull())
        out.append(coded.select(
            account_id=coded.account_id, ts=coded.ts, platform=coded.platform,
            touch=ibis.literal("order_code"), channel_code=coded.code, staff_id=null,
            inviter_account_id=null, campaign=null,
            evidence="orders:" + coded.platform + ":" + coded.order_id,
        ))  # fmt: skip
        dy = per.filter((per.platform == "douyin") & (per.influencer.notnull() | per.live))
        out.append(dy.select(
            account_id=dy.account_id, ts=dy.ts, platform=dy.platform,
            touch=ibis.ifelse(dy.influencer.notnull(), "influencer", "live"),
            channel_code=dy.influencer, staff_id=null, inviter_account_id=null, campaign=null,
            evidence="orders:" + dy.platform + ":" + dy.order_id,
        ))  # fmt: skip
    if "referrals" in tables:
        r = con.table("referrals")
        out.append(r.select(
            account_id=r.invitee_account_id, ts=r.ts, platform=ibis.literal("wechat"),
            touch=ibis.literal("referral"), channel_code=null, staff_id=null,
            inviter_account_id=r.inviter_account_id, campaign=_blank_to_null(r.campaign),
            evidence="referrals:" + r.invitee_account_id,
        ))  # fmt: skip
    return out


def channel_table(con: Any) -> ir.Table | None:
    """``channels`` with the columns attribution reads (campaign and staff null when absent)."""
    if "channels" not in con.list_tables():
        return None
    c = con.table("channels")
    null = ibis.null("string")
    return c.select(
        code=c.channel_id,
        channel_name=c["name"],
        ch_type=c.type,
        ch_campaign=_blank_to_null(c.campaign) if "campaign" in c.columns else null,
        ch_staff=_blank_to_null(c.staff_id) if "staff_id" in c.columns else null,
        cost=c.cost.cast("float64"),
    )


def touches(con: Any) -> ir.Table:
    """Every acquisition touch of every person (columns :data:`COLUMNS`; ``ts`` epoch seconds).

    Examples
    --------
    >>> touches(con).filter(_.person_id == "P0000001").execute()  # doctest: +SKIP
    """
    tables = set(con.list_tables())
    parts = [p.filter(p.ts.notnull()) for p in _account_touches(con, tables)]
    if not parts:
        return _empty()
    t = ibis.union(*parts)
    # a touch needs a code, except referrals and Douyin live rooms
    t = t.filter(t.channel_code.notnull() | t.touch.isin(("referral", "live")))
    pm = person_map(con)
    j = t.left_join(pm, t.account_id == pm.account_id)
    inv = pm.select(inv_account=pm.account_id, inviter_person_id=pm.person_id)
    j = j.left_join(inv, j.inviter_account_id == inv.inv_account)
    j = j.select(
        person_id=ibis.coalesce(j.person_id, j.account_id),
        ts=j.ts.epoch_seconds().cast("int64"),
        platform=j.platform,
        touch=j.touch,
        prio=ibis.cases(*[(j.touch == k, i) for i, k in enumerate(TOUCHES)], else_=len(TOUCHES)),
        channel_code=j.channel_code,
        staff_id=j.staff_id,
        campaign=j.campaign,
        inviter_person_id=ibis.coalesce(j.inviter_person_id, j.inviter_account_id),
        evidence=j.evidence,
    )
    # a self-referral (inviter and invitee one person after OneID) acquires nobody
    j = j.filter(~((j.touch == "referral") & (j.inviter_person_id == j.person_id)))
    ch = channel_table(con)
    if ch is None:
        known = j.mutate(ch_type=ibis.null("string"), ch_campaign=ibis.null("string"),
                         ch_staff=ibis.null("string"))  # fmt: skip
    else:
        known = j.left_join(ch, j.channel_code == ch.code)
    coded = known.touch.isin(("wecom_add", "qr_scan", "scene", "order_code"))
    ctype = ibis.cases(
        (known.touch == "referral", REFERRAL),
        (known.touch == "influencer", INFLUENCER),
        (known.touch == "live", LIVE),
        (coded & known.ch_type.isnull(), UNKNOWN),
        else_=known.ch_type,
    )
    return known.select(
        "person_id", "ts", "platform", "touch", "prio", "channel_code",
        channel_type=ctype,
        campaign=ibis.coalesce(known.campaign, known.ch_campaign),
        # the staff member who added the contact, else the 活码's owner
        staff_id=ibis.coalesce(known.staff_id, known.ch_staff),
        inviter_person_id="inviter_person_id", evidence="evidence",
    )  # fmt: skip


def _empty() -> ir.Table:
    import pandas as pd

    cols = {c: pd.Series(dtype="int64" if c in ("ts", "prio") else "string") for c in COLUMNS}
    return ibis.memtable(pd.DataFrame(cols))
