"""Acquisition attribution: one channel per person, with the touch that earned it.

Rules (``[channels] attribution``):

- ``first_touch``: the earliest touch at or before the person's first order;
- ``last_touch``: the last touch at or before the first order.

A person who never ordered is judged on all their touches. A touch after the
first order acquires nobody under either rule: the person was a customer
already (a Tmall buyer who later scans a 活码 was not brought by the 活码).
Three tolerances make the rules fit how exports record things
(``[channels]``):

- ``grace_hours`` (24): a touch logged up to this long after the first order
  still counts (the cashier's code is scanned while paying), and an explicit
  touch (invite, WeCom add, scan, subscription) this close to an order-borne
  one (a Douyin 达人's order, an order with a code) wins over it;
- ``acquisition_days`` (7; 0 = off): under first touch, only touches within
  this many days of the person's first appearance acquire: a person seen for
  months who then adds a 导购 was not acquired by that 活码.

Ties in time go to the touch kind listed first in
:data:`scrm_lib.social.channels.touches.TOUCHES`, then the smaller code. A
person without an eligible touch is ``organic``.

``acquired_at`` is the person's first appearance (the first sighting of any of
their accounts; or the first touch or order when earlier), the
same under both rules; it starts the conversion and GMV windows and names the
monthly cohort (in ``settings.timezone``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir

from scrm_lib.config import Settings
from scrm_lib.social.channels.touches import (
    ORDER_BORNE,
    ORGANIC,
    REFERRAL,
    channel_table,
    touches,
)
from scrm_lib.value._base import person_orders, value_config

DAY = 86_400


def person_orders_of(con: Any) -> ir.Table:
    """Counted orders per person (value's counting rules): ``person_id, ts, net``."""
    cfg = {**value_config(), "bad_orders": "exclude"}
    o = person_orders(con, cfg=cfg)
    return o.filter(o.person_id.notnull() & (o.net > 0)).select("person_id", "ts", "net")


@dataclass(frozen=True)
class Inputs:
    """What several channels marts read, built once per computation; use it as a context.

    Each is a table cached in the engine: attribution, the value mart, the staff
    view, the funnel and the unknown-code report would otherwise plan and scan
    the orders (with value's counting rules) and the touches again each. On exit
    every table it holds is dropped while the connection is still open (left to
    the garbage collector, the drop can come after the connection closed).
    """

    orders: ir.Table
    touches: ir.Table
    held: list[ir.Table] = field(default_factory=list)

    @classmethod
    def of(cls, con: Any) -> Inputs:
        orders, touched = person_orders_of(con).cache(), touches(con).cache()
        return cls(orders=orders, touches=touched, held=[orders, touched])

    def hold(self, table: ir.Table) -> ir.Table:
        """``table`` cached in the engine until this context ends."""
        cached = table.cache()
        self.held.append(cached)
        return cached

    def __enter__(self) -> Inputs:
        return self

    def __exit__(self, *_: Any) -> None:
        while self.held:
            self.held.pop().release()


def _population(con: Any) -> ir.Table:
    """Every person with the epoch of their first sighting on any account (hub persons left out)."""
    from scrm_lib.identity.account_hubs import unattributed_accounts
    from scrm_lib.warehouse.steps import person_map

    pm = person_map(con)
    acc = con.table("accounts")
    j = pm.inner_join(acc, "account_id")
    people = j.group_by("person_id").aggregate(first_seen=j.first_seen.epoch_seconds().min())
    hubs = unattributed_accounts(con)
    if hubs is not None:
        people = people.anti_join(pm.semi_join(hubs, "account_id"), "person_id")
    return people.mutate(first_seen=people.first_seen.cast("int64"))


def acquisition_expr(
    con: Any, cfg: dict[str, Any], utc_offset_s: int = 8 * 3600, inputs: Inputs | None = None
) -> ir.Table:
    """One row per person: the attributed touch and its evidence (see the module docstring)."""
    orders = inputs.orders if inputs else person_orders_of(con)
    first = orders.group_by("person_id").aggregate(first_order=orders.ts.min())
    t = inputs.touches if inputs else touches(con)
    seen = t.group_by("person_id").aggregate(first_touch=t.ts.min())
    people = inputs.hold(_population(con)) if inputs else _population(con)
    base = people.left_join(first, "person_id").drop("person_id_right")
    base = base.left_join(seen, "person_id").drop("person_id_right")
    acquired = ibis.least(
        base.first_seen,
        ibis.coalesce(base.first_touch, base.first_seen),
        ibis.coalesce(base.first_order, base.first_seen),
    )
    base = base.mutate(acquired=acquired).drop("first_touch")
    t = t.inner_join(base.select("person_id", "acquired", "first_order"), "person_id")
    grace = int(cfg["grace_hours"]) * 3600
    ok = t.first_order.isnull() | (t.ts <= t.first_order + grace)
    if cfg["acquisition_days"] and cfg["attribution"] == "first_touch":
        ok = ok & (t.ts <= t.acquired + int(cfg["acquisition_days"]) * DAY)
    eligible = t.filter(ok)
    # an explicit touch (invite, add, scan, subscription) within the grace of an order-borne
    # one (a 达人's order, an order with a code) wins: the order shows where a sale was made,
    # the explicit touch where the relationship began
    borne = eligible.touch.isin(ORDER_BORNE)
    if cfg["attribution"] == "first_touch":
        when = eligible.ts + ibis.ifelse(borne, grace, 0)
    else:
        when = ibis.desc(eligible.ts - ibis.ifelse(borne, grace, 0))
    order = [when, eligible.prio, eligible.channel_code, eligible.evidence]
    ranked = eligible.mutate(
        k=ibis.row_number().over(group_by=eligible.person_id, order_by=order),
        n_touches=eligible.count().over(group_by=eligible.person_id),
    )
    chosen = ranked.filter(ranked.k == 0).drop("k", "first_order", "acquired")
    j = base.left_join(chosen, "person_id").drop("person_id_right")
    acquired = j.acquired
    ch = channel_table(con)
    if ch is not None:
        j = j.left_join(ch.select("code", "channel_name"), j.channel_code == ch.code).drop("code")
    else:
        j = j.mutate(channel_name=ibis.null("string"))
    local = (acquired + utc_offset_s).cast("int64").as_timestamp("s")
    out = j.select(
        person_id=j.person_id,
        rule=ibis.literal(cfg["attribution"]),
        channel_type=ibis.coalesce(j.channel_type, ORGANIC),
        campaign=j.campaign,
        channel_code=j.channel_code,
        channel_name=j.channel_name,
        staff_id=j.staff_id,
        touch=j.touch,
        touch_ts=j.ts,
        touch_platform=j.platform,
        evidence=j.evidence,
        inviter_person_id=j.inviter_person_id,
        touches=j.n_touches.fill_null(0).cast("int64"),
        acquired_ts=acquired,
        cohort=local.strftime("%Y-%m"),
        first_order_ts=j.first_order,
    )
    return _with_high_value_referral(inputs.hold(out) if inputs else out, orders, cfg)


def _with_high_value_referral(acq: ir.Table, orders: ir.Table, cfg: dict[str, Any]) -> ir.Table:
    """Flag referrals by an existing customer: the inviter had enough orders before the invite."""
    ref = acq.filter(acq.channel_type == REFERRAL).select(
        "person_id", "inviter_person_id", "touch_ts"
    )
    j = ref.inner_join(orders, ref.inviter_person_id == orders.person_id)
    j = j.filter(j.ts < j.touch_ts)
    n = j.group_by(j.person_id).aggregate(inviter_orders=j.count())
    acq = acq.left_join(n, "person_id").drop("person_id_right")
    need = cfg["referral_inviter_min_orders"]
    hv = (acq.channel_type == REFERRAL) & (acq.inviter_orders.fill_null(0) >= need)
    return acq.mutate(high_value_referral=hv).drop("inviter_orders")


def utc_offset(settings: Settings, day: dt.date | None = None) -> int:
    """The UTC offset of ``settings.timezone`` (seconds) on ``day`` (today by default)."""
    from scrm_lib.value.clv import _utc_offset

    return _utc_offset(settings, day or dt.date.today())


def to_frame(df: Any) -> Any:
    """Epoch columns (``*_ts``) as UTC timestamps (``*_at``) for people to read."""
    import pandas as pd

    for col in [c for c in df.columns if c.endswith("_ts")]:
        df[col[:-3] + "_at"] = pd.to_datetime(df.pop(col), unit="s", utc=True)
    return df
