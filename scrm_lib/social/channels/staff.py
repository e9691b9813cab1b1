"""The staff (导购) view: contacts won and lost, what their contacts bought, how fast they answer.

Per WeCom staff member (``userid``):

- contacts added (persons with a ``wecom_add`` / ``wecom_follow`` by them) and
  persons acquired through them (attribution's ``staff_id``: the adder, else
  the owner of the 活码);
- contacts who deleted them, contacts they deleted;
- handovers: contacts handed to someone else, received, failed transfers, and
  what leaving cost them: the net GMV those contacts bought after the handover;
- first orders (contacts whose first order came after the add) and the net
  GMV of their contacts after the add;
- median response time in private chats: from the first customer message of
  a burst to the staff member's next reply (the WeCom archive, when loaded).

With a period, each count is of what happened in it: first adds, deletions,
handovers and answered customer messages in the period, persons acquired in
it, first orders placed in it, and the GMV of orders placed in it by
contacts added before them (in the period or earlier).
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from scrm_lib.engine.exprs import json_text
from scrm_lib.social.channels.attribution import Inputs, person_orders_of
from scrm_lib.warehouse.steps import person_map

ADDS = ("wecom_add", "wecom_follow")


def _person_events(con: Any, types: tuple[str, ...]) -> ir.Table:
    """``person_id, ts, type, staff, from_staff`` of WeCom contact events of ``types``."""
    e = con.table("events")
    e = e.filter(e.type.isin(types))
    pm = person_map(con)
    j = e.mutate(
        staff=json_text(con, e.attributes, "staff"),
        from_staff=json_text(con, e.attributes, "from_staff"),
    )
    j = j.left_join(pm, j.account_id == pm.account_id)
    return j.select(
        person_id=ibis.coalesce(j.person_id, j.account_id),
        ts=j.ts.epoch_seconds().cast("int64"),
        type=j.type,
        staff=j.staff,
        from_staff=j.from_staff,
    )


def _count(t: ir.Table, by: str, name: str) -> ir.Table:
    t = t.filter(t[by].notnull())
    return t.group_by(staff_id=t[by]).aggregate(**{name: t.person_id.nunique()})


def _in(t: ir.Table, ts: ir.IntegerValue, period: tuple[int | None, int | None]) -> ir.Table:
    start, end = period
    if start is not None:
        t = t.filter(ts >= start)
    return t if end is None else t.filter(ts < end)


def response_times(con: Any, period: tuple[int | None, int | None] = (None, None)) -> ir.Table:
    """``staff_id, responses, median_response_minutes`` from private chats."""
    m = con.table("messages")
    m = m.filter((m.channel == "wecom_private") & m.staff_id.notnull())
    conv = [m.account_id, m.staff_id]
    before = ibis.window(group_by=conv, order_by=[m.ts])
    after = ibis.window(group_by=conv, order_by=[m.ts], rows=(1, None))
    ts = m.ts.epoch_seconds()
    m = m.mutate(
        prev=m.direction.lag().over(before),
        reply=ibis.ifelse(m.direction == "out", ts, ibis.null("int64")).min().over(after),
        t=ts,
    )
    start = m.filter((m.direction == "in") & (m.prev.isnull() | (m.prev == "out")))
    start = _in(start.filter(start.reply.notnull()), start.t, period)
    wait = (start.reply - start.t) / 60
    return start.group_by("staff_id").aggregate(
        responses=start.count(), median_response_minutes=wait.median()
    )


def _parts(con: Any, every: ir.Table, acq: ir.Table, as_of_ts: int, inputs: Inputs | None,
           period: tuple[int | None, int | None]) -> list[ir.Table]:  # fmt: skip
    """Each count of the staff table as its own ``staff_id``-keyed expression."""
    ev = _in(every, every.ts, period)
    # a contact is theirs from the first add on, whenever that was; the counts below
    # take what happened in the period
    adds = every.filter(every.type.isin(ADDS) & every.staff.notnull())
    first_add = adds.group_by(["staff", "person_id"]).aggregate(added=adds.ts.min())
    orders = inputs.orders if inputs else person_orders_of(con)
    orders = orders.filter(orders.ts < as_of_ts)
    first_order = orders.group_by("person_id").aggregate(first_order=orders.ts.min())
    first_order = _in(first_order, first_order.first_order, period)
    orders = _in(orders, orders.ts, period)
    j = first_add.inner_join(orders, "person_id")
    j = j.filter(j.ts >= j.added)
    bought = j.group_by(staff_id=j.staff).aggregate(
        buyers=j.person_id.nunique(), contacts_gmv=j.net.sum()
    )
    fo = first_add.inner_join(first_order, "person_id")
    fo = fo.filter(fo.first_order >= fo.added)
    first = fo.group_by(staff_id=fo.staff).aggregate(first_orders=fo.person_id.nunique())
    out_ = every.filter(every.type.isin(("wecom_handover", "wecom_transfer_fail")))
    leaver = ibis.coalesce(out_.from_staff, out_.staff)
    lost = out_.select("person_id", "ts", "type", staff_id=leaver)
    after = lost.inner_join(orders, "person_id")
    after = after.filter(after.ts_right >= after.ts)
    lost_gmv = after.group_by("staff_id").aggregate(lost_gmv=after.net.sum())
    ho = ev.filter(ev.type == "wecom_handover")
    fail = ev.filter(ev.type == "wecom_transfer_fail")
    fail = fail.mutate(staff=ibis.coalesce(fail.from_staff, fail.staff))
    parts = [
        _count(_in(first_add, first_add.added, period), "staff", "contacts_added"),
        _count(acq.select("person_id", "staff_id"), "staff_id", "acquired"),
        _count(ev.filter(ev.type == "wecom_customer_deleted_staff"), "staff", "deleted_by_contact"),
        _count(ev.filter(ev.type == "wecom_staff_deleted_customer"), "staff", "deleted_by_staff"),
        _count(ho, "from_staff", "handed_over"),
        _count(ho, "staff", "received"),
        _count(fail, "staff", "transfer_failed"),
        first,
        bought,
        lost_gmv,
    ]
    if "messages" in con.list_tables():
        parts.append(response_times(con, period))
    return parts


def staff_frame(
    con: Any,
    acq: ir.Table,
    as_of_ts: int,
    inputs: Inputs | None = None,
    period: tuple[int | None, int | None] = (None, None),
) -> pd.DataFrame:
    """One row per staff member (see the module docstring); ``acq`` already in the period."""
    tables = set(con.list_tables())
    if "events" not in tables:
        return pd.DataFrame(columns=["staff_id"])
    types = (*ADDS, "wecom_customer_deleted_staff", "wecom_staff_deleted_customer",
             "wecom_handover", "wecom_transfer_fail")  # fmt: skip
    # read by most counts: built once, released on the way out while the connection is open
    with _person_events(con, types).cache() as every:
        parts = _parts(con, every, acq, as_of_ts, inputs, period)
        # every count as (staff, name, value) rows of one query: a query's fixed cost
        # (planning, a round trip, a frame) was most of each count's on a small warehouse
        names = [c for p in parts for c in p.columns if c != "staff_id"]
        rows = ibis.union(*[
            p.select("staff_id", count=ibis.literal(c), value=p[c].cast("float64"))
            for p in parts for c in p.columns if c != "staff_id"
        ]).execute()  # fmt: skip
    # floats hold these counts and sums exactly as the numbers each count gave
    wide = rows.groupby(["staff_id", "count"], dropna=False)["value"].first().unstack("count")
    df = wide.reindex(columns=names).rename_axis("staff_id").reset_index()
    df.columns.name = None
    if "staff" in tables:
        s = con.table("staff").select("staff_id", "name", "department").execute()
        df = df.merge(s.drop_duplicates("staff_id"), on="staff_id", how="left")
    counts = ("contacts_added", "acquired", "deleted_by_contact", "deleted_by_staff",
              "handed_over", "received", "transfer_failed", "first_orders", "buyers",
              "responses")  # fmt: skip
    for c in counts:
        df[c] = pd.to_numeric(df.get(c, 0), errors="coerce").fillna(0).astype("int64")
    for c in ("contacts_gmv", "lost_gmv", "median_response_minutes"):
        df[c] = pd.to_numeric(df.get(c, float("nan")), errors="coerce").astype("float64")
    df[["contacts_gmv", "lost_gmv"]] = df[["contacts_gmv", "lost_gmv"]].fillna(0.0)
    return df.sort_values(["contacts_gmv", "staff_id"], ascending=[False, True]).reset_index(
        drop=True
    )
