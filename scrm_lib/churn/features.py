"""Point-in-time churn features per person, as of a cutoff, from data before it only.

Everything is one ibis expression per cutoff (runs on DuckDB or Spark),
executed through :class:`scrm_lib.engine.Runner`. The only rows a
feature may read are rows whose time is strictly before the cutoff, so
changing, shuffling or deleting anything after it changes no feature
(``tests/churn/test_features.py`` checks exactly that).

Two facts of the canonical tables are *not* stamped with their own time: an
order's refund (the export shows the status as of its download) and a
touch's ``opened``. Refunds are therefore read only on orders at least
``refund_settle_days`` old at the cutoff, and opens only on touches at
least ``open_settle_days`` old, which is when they have (almost always)
settled on the platforms; purchases count by their gross amount, so a
later refund never hides a purchase that happened.

Who is scored: persons (after OneID) with a purchase in the
``population_days`` (365) before the cutoff; a person who never bought, or
stopped over a year ago, has no relationship left to lose.

Example
-------
>>> from scrm_lib.churn.features import feature_frame
>>> feature_frame("data/warehouse/scrm.duckdb", cutoff="2026-08-01").head()  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from scrm_lib.churn.calendar import cutoff_calendar, promo_days
from scrm_lib.churn.config import ChurnError, churn_config
from scrm_lib.config import Settings, load_settings
from scrm_lib.engine import Warehouse, using
from scrm_lib.schema import TABLES, empty_frame
from scrm_lib.value._base import (
    SECONDS_PER_DAY as DAY,
)
from scrm_lib.value._base import (
    AsOf,
    as_of_cut,
    default_as_of,
    person_orders,
    value_config,
)

logger = logging.getLogger(__name__)

#: Feature → what it means (the model card and the reasons use these words).
FEATURES: dict[str, str] = {
    "recency_days": "days since the last purchase",
    "tenure_days": "days since the first purchase",
    "orders": "purchases before the cutoff",
    "orders_30": "purchases in the last 30 days",
    "orders_90": "purchases in the last 90 days",
    "orders_180": "purchases in the last 180 days",
    "order_trend_90": "purchases in the last 90 days minus the 90 before",
    "spend_total": "gross spend, CNY",
    "spend_90": "gross spend in the last 90 days, CNY",
    "aov": "average order value, CNY",
    "cycle_days": "the person's usual days between purchases (median)",
    "recency_over_cycle": "days since the last purchase / usual cycle",
    "refunds": "refunded orders (settled)",
    "refund_share": "share of spend refunded (settled orders)",
    "platforms": "platforms the person bought on",
    "promo_share": "share of purchase days in 618 / 双11 / 双12",
    "from_channel": "acquired through a channel (QR code, poster, live room)",
    "days_since_interaction": "days since the last interaction of any kind",
    "page_views_30": "mini-program page views in the last 30 days",
    "page_views_90": "mini-program page views in the last 90 days",
    "cart_adds_30": "cart adds in the last 30 days",
    "abandoned_carts_30": "carts left without an order within a day, last 30 days",
    "groupbuy_views_90": "group-buy joins and views in the last 90 days",
    "shares_90": "shares in the last 90 days",
    "msgs_in_30": "messages from the customer in the last 30 days",
    "msgs_in_90": "messages from the customer in the last 90 days",
    "msgs_out_90": "messages from staff in the last 90 days",
    "negative_msgs_90": "negative messages from the customer in the last 90 days",
    "leaving_msgs_90": "complaints and churn-risk messages (太贵, 退群, 投诉) in the last 90 days",
    "buying_msgs_30": "purchase-intent messages (链接, 多少钱) in the last 30 days",
    "touches_90": "marketing messages sent in the last 90 days",
    "opens_90": "marketing messages opened or clicked in the last 90 days",
    "open_rate_90": "open rate of marketing messages in the last 90 days",
    "referrals_180": "friends invited in the last 180 days",
    "wecom_contact": "has (had) a WeCom salesperson",
    "deleted_staff": "deleted their WeCom salesperson",
    "deleted_staff_90": "deleted their WeCom salesperson in the last 90 days",
    "staff_deleted": "a salesperson deleted the customer",
    "handovers": "handed over to another salesperson",
    "group_leaves_90": "left a WeCom group in the last 90 days",
    "groups_now": "WeCom groups the customer is still in",
    "days_to_next_sale": "days from the cutoff to the next 618 / 双11 / 双12",
    "days_since_sale": "days from the last sale day to the cutoff",
    "days_to_spring_festival": "days from the cutoff to Spring Festival (signed)",
}

FEATURE_NAMES: tuple[str, ...] = tuple(FEATURES)

# event types the WeCom / mini-program adapters write (see `scrm_lib.ingest`)
_EV = {
    "page_view": "page_view",
    "cart_add": "cart_add",
    "groupbuy_join": "groupbuy_join",
    "share": "share",
    "deleted_staff": "wecom_customer_deleted_staff",
    "staff_deleted": "wecom_staff_deleted_customer",
    "handover": "wecom_handover",
    "group_join": "group_join",
    "group_leave": "group_leave",
    "wecom": ("wecom_follow", "wecom_add"),
}


def _table(con: Any, name: str) -> ir.Table:
    """A canonical table, or an empty one with its schema when the warehouse lacks it."""
    if name in con.list_tables():
        return con.table(name)
    return ibis.memtable(empty_frame(name)).cast(TABLES[name])


def _persons(con: Any, t: ir.Table, account_col: str = "account_id") -> ir.Table:
    from scrm_lib.warehouse.steps import person_map

    pm = person_map(con)
    j = t.left_join(pm, t[account_col] == pm.account_id)
    return j.mutate(person_id=ibis.coalesce(j.person_id, j[account_col]))


def activity_expr(con: Any, cutoff_epoch: int, cfg: dict[str, Any]) -> ir.Table:
    """Every interaction before the cutoff: ``person_id, ts, kind`` (events, messages, touches,
    referrals made). Opens count only on touches old enough for the open to have happened."""
    ev = _table(con, "events")
    ev = ev.select("account_id", ts=ev.ts.epoch_seconds().cast("int64"), kind=ev.type)
    ms = _table(con, "messages")
    ms = ms.select(
        "account_id",
        ts=ms.ts.epoch_seconds().cast("int64"),
        kind=ibis.literal("msg_") + ms.direction.fill_null("in"),
    )
    tc = _table(con, "touches")
    tts = tc.ts.epoch_seconds().cast("int64")
    settled = tts < cutoff_epoch - cfg["open_settle_days"] * DAY
    opened = (tc.opened.fill_null(False) | tc.clicked.fill_null(False)) & settled
    tc = tc.select(
        "account_id", ts=tts, kind=ibis.ifelse(opened, "touch_open", "touch").cast("string")
    )
    rf = _table(con, "referrals")
    rf = rf.select(
        account_id=rf.inviter_account_id,
        ts=rf.ts.epoch_seconds().cast("int64"),
        kind=ibis.literal("referral"),
    )
    parts = [ev, ms, tc, rf]
    if "message_tags" in con.list_tables():
        # what the customer said (the conversations step's tags), as kinds of activity
        mt = con.table("message_tags")
        mt = mt.filter(mt.direction != "out")
        said = ibis.cases(
            (mt.intent.isin(("complaint", "churn_risk")), "said_leaving"),
            (mt.intent == "purchase_intent", "said_buying"),
            else_="said",
        )
        parts.append(mt.select("account_id", ts=mt.ts.epoch_seconds().cast("int64"), kind=said))
        neg = mt.filter(mt.sentiment == "negative")
        parts.append(neg.select("account_id", ts=neg.ts.epoch_seconds().cast("int64"),
                                kind=ibis.literal("said_negative")))  # fmt: skip
    acts = ibis.union(*parts, distinct=False)
    acts = acts.filter(acts.ts.notnull() & (acts.ts < cutoff_epoch))
    p = _persons(con, acts)
    return p.select("person_id", "ts", "kind")


def features_expr(
    con: Any, cut: AsOf, utc_offset_s: int, cfg: dict[str, Any], settings: Settings
) -> ir.Table:
    """The feature table at ``cut`` as an ibis expression (``person_id`` + :data:`FEATURES`)."""
    c = cut.cutoff_epoch
    today = (c + utc_offset_s) // DAY - 1  # the local day before the cutoff
    o = person_orders(con, cfg=value_config(settings))
    o = o.filter((o.ts < c) & (o.gross > 0))
    o = o.mutate(day=((o.ts + utc_offset_s) // DAY).cast("int64"))

    pop = o.filter(o.ts >= c - cfg["population_days"] * DAY).select("person_id").distinct()

    def since(days: int) -> ir.BooleanValue:
        return o.ts >= c - days * DAY

    settle = o.ts < c - cfg["refund_settle_days"] * DAY
    per = o.group_by("person_id").aggregate(
        first_ts=o.ts.min(),
        last_ts=o.ts.max(),
        orders=o.count(),
        orders_30=since(30).cast("int64").sum(),
        orders_90=since(90).cast("int64").sum(),
        orders_180=since(180).cast("int64").sum(),
        spend_total=o.gross.sum(),
        spend_90=o.gross.sum(where=since(90)),
        refunds=((o.net < o.gross) & settle).cast("int64").sum(),
        refunded=(o.gross - o.net).sum(where=settle),
        settled_spend=o.gross.sum(where=settle),
        platforms=o.platform.nunique(),
    )
    # the person's own cycle: median days between consecutive purchase days
    days = o.select("person_id", "day").distinct()
    w = ibis.window(group_by=days.person_id, order_by=days.day)
    gaps = days.mutate(gap=days.day - days.day.lag().over(w))
    gaps = gaps.filter(gaps.gap.notnull())
    cyc = gaps.group_by("person_id").aggregate(cycle_days=gaps.gap.median().cast("float64"))
    promo = ibis.memtable(promo_days())
    dp = days.left_join(promo, days.day == promo.promo_day)
    prom = dp.group_by("person_id").aggregate(
        promo_share=dp.promo_day.notnull().cast("float64").mean()
    )

    a = activity_expr(con, c, cfg)

    def n(kind: str | tuple[str, ...], days_back: int | None = None) -> ir.IntegerValue:
        cond = a.kind.isin(kind) if isinstance(kind, tuple) else a.kind == kind
        if days_back is not None:
            cond = cond & (a.ts >= c - days_back * DAY)
        return cond.cast("int64").sum()

    act = a.group_by("person_id").aggregate(
        last_act=a.ts.max(),
        page_views_30=n(_EV["page_view"], 30),
        page_views_90=n(_EV["page_view"], 90),
        cart_adds_30=n(_EV["cart_add"], 30),
        groupbuy_views_90=n(_EV["groupbuy_join"], 90),
        shares_90=n(_EV["share"], 90),
        msgs_in_30=n("msg_in", 30),
        msgs_in_90=n("msg_in", 90),
        msgs_out_90=n("msg_out", 90),
        negative_msgs_90=n("said_negative", 90),
        leaving_msgs_90=n("said_leaving", 90),
        buying_msgs_30=n("said_buying", 30),
        touches_90=n(("touch", "touch_open"), 90),
        opens_90=n("touch_open", 90),
        referrals_180=n("referral", 180),
        wecom_contact=n(_EV["wecom"]),
        deleted_staff=n(_EV["deleted_staff"]),
        deleted_staff_90=n(_EV["deleted_staff"], 90),
        staff_deleted=n(_EV["staff_deleted"]),
        handovers=n(_EV["handover"]),
        group_leaves_90=n(_EV["group_leave"], 90),
        group_joins=n(_EV["group_join"]),
        group_leaves=n(_EV["group_leave"]),
    )
    # carts with no order by the same person within a day (and before the cutoff)
    carts = a.filter((a.kind == _EV["cart_add"]) & (a.ts >= c - 30 * DAY))
    ob = o.select(o_person="person_id", o_ts="ts")
    left = carts.anti_join(
        ob,
        [carts.person_id == ob.o_person, ob.o_ts >= carts.ts, ob.o_ts < carts.ts + DAY],
    )
    aband = left.group_by("person_id").aggregate(abandoned_carts_30=left.count())

    acc = _persons(con, _table(con, "accounts"))
    has_ch = acc.channel_code.notnull() & (acc.channel_code != "")
    chan = acc.group_by("person_id").aggregate(from_channel=has_ch.cast("int64").max())

    j = pop
    for t in (per, cyc, prom, act, aband, chan):
        j = j.left_join(t, "person_id").drop("person_id_right")
    zero = 0
    recency = ((c - j.last_ts) // DAY).cast("float64")
    last_any = ibis.greatest(j.last_ts, j.last_act.fill_null(j.last_ts))
    cal = cutoff_calendar(dt.date(1970, 1, 1) + dt.timedelta(days=int(today)))
    cnt = {
        k: j[k].fill_null(zero).cast("float64")
        for k in (
            "page_views_30", "page_views_90", "cart_adds_30", "groupbuy_views_90", "shares_90",
            "msgs_in_30", "msgs_in_90", "msgs_out_90", "negative_msgs_90", "leaving_msgs_90",
            "buying_msgs_30", "touches_90", "opens_90",
            "referrals_180", "deleted_staff_90", "handovers", "group_leaves_90",
            "abandoned_carts_30",
        )
    }  # fmt: skip
    out = j.select(
        "person_id",
        recency_days=recency,
        tenure_days=((c - j.first_ts) // DAY).cast("float64"),
        orders=j.orders.cast("float64"),
        orders_30=j.orders_30.cast("float64"),
        orders_90=j.orders_90.cast("float64"),
        orders_180=j.orders_180.cast("float64"),
        order_trend_90=(2 * j.orders_90 - j.orders_180).cast("float64"),
        spend_total=j.spend_total.cast("float64"),
        spend_90=j.spend_90.fill_null(0).cast("float64"),
        aov=(j.spend_total / j.orders).cast("float64"),
        cycle_days=j.cycle_days,
        recency_over_cycle=ibis.ifelse(j.cycle_days > 0, recency / j.cycle_days, ibis.null()),
        refunds=j.refunds.cast("float64"),
        refund_share=ibis.ifelse(
            j.settled_spend > 0, (j.refunded.fill_null(0) / j.settled_spend).round(4), ibis.null()
        ).cast("float64"),
        platforms=j.platforms.cast("float64"),
        promo_share=j.promo_share,
        from_channel=j.from_channel.fill_null(0).cast("float64"),
        days_since_interaction=((c - last_any) // DAY).cast("float64"),
        page_views_30=cnt["page_views_30"],
        page_views_90=cnt["page_views_90"],
        cart_adds_30=cnt["cart_adds_30"],
        abandoned_carts_30=cnt["abandoned_carts_30"],
        groupbuy_views_90=cnt["groupbuy_views_90"],
        shares_90=cnt["shares_90"],
        msgs_in_30=cnt["msgs_in_30"],
        msgs_in_90=cnt["msgs_in_90"],
        msgs_out_90=cnt["msgs_out_90"],
        negative_msgs_90=cnt["negative_msgs_90"],
        leaving_msgs_90=cnt["leaving_msgs_90"],
        buying_msgs_30=cnt["buying_msgs_30"],
        touches_90=cnt["touches_90"],
        opens_90=cnt["opens_90"],
        open_rate_90=ibis.ifelse(
            cnt["touches_90"] > 0, cnt["opens_90"] / cnt["touches_90"], ibis.null()
        ).cast("float64"),
        referrals_180=cnt["referrals_180"],
        wecom_contact=(j.wecom_contact.fill_null(0) > 0).cast("float64"),
        deleted_staff=(j.deleted_staff.fill_null(0) > 0).cast("float64"),
        deleted_staff_90=cnt["deleted_staff_90"],
        staff_deleted=(j.staff_deleted.fill_null(0) > 0).cast("float64"),
        handovers=cnt["handovers"],
        group_leaves_90=cnt["group_leaves_90"],
        groups_now=ibis.greatest(j.group_joins.fill_null(0) - j.group_leaves.fill_null(0), 0).cast(
            "float64"
        ),
        days_to_next_sale=ibis.literal(float(cal["days_to_next_sale"])),
        days_since_sale=ibis.literal(float(cal["days_since_sale"])),
        days_to_spring_festival=ibis.literal(cal["days_to_spring_festival"], type="float64"),
    )
    return out


def utc_offset(settings: Settings, day: dt.date) -> int:
    """Seconds the configured zone is ahead of UTC at noon on ``day``."""
    from scrm_lib.value.clv import _utc_offset

    return _utc_offset(settings, day)


def compute_features(
    con: Any, cut: AsOf, *, settings: Settings, cfg: dict[str, Any]
) -> pd.DataFrame:
    """Execute :func:`features_expr` on an open backend; one row per person in the population."""
    from scrm_lib.engine import Runner

    expr = features_table(con, cut, settings=settings, cfg=cfg).order_by("person_id")
    df = as_features(Runner(con, label="churn").execute(expr, step=f"features at {cut.date}"))
    df.attrs["cutoff"] = cut.date.isoformat()
    return df


def features_table(con: Any, cut: AsOf, *, settings: Settings, cfg: dict[str, Any]) -> ir.Table:
    """:func:`features_expr` at ``cut`` in the configured time zone (rows in no order)."""
    return features_expr(con, cut, utc_offset(settings, cut.date), cfg, settings)


def as_features(df: pd.DataFrame) -> pd.DataFrame:
    """Feature rows as the model reads them: ``person_id`` text, every feature float64.

    Row-wise, so it gives the same on a whole table as on each of its batches.
    """
    typed = {c: pd.to_numeric(df[c], errors="coerce").astype("float64") for c in FEATURE_NAMES}
    return df.assign(person_id=df["person_id"].astype(str), **typed)


def feature_frame(
    warehouse: Warehouse = None,
    *,
    cutoff: str | dt.date | None = None,
    settings: Settings | None = None,
    **overrides: Any,
) -> pd.DataFrame:
    """Churn features per person as of the end of ``cutoff`` (a local day; default: last order).

    Parameters
    ----------
    warehouse
        Warehouse path, None (the configured warehouse) or an open ibis backend.
    cutoff
        Only data strictly before the end of this day is read.
    overrides
        ``[churn]`` settings for this call (e.g. ``population_days=180``).

    Returns
    -------
    pandas.DataFrame
        ``person_id`` and one float column per entry of :data:`FEATURES`.

    Raises
    ------
    ChurnError
        Nobody bought in the ``population_days`` before the cutoff.

    Examples
    --------
    >>> feature_frame("data/warehouse/scrm.duckdb", cutoff="2026-08-01")  # doctest: +SKIP
    """
    settings = settings or load_settings()
    cfg = churn_config(settings, **overrides)
    with using(warehouse) as con:
        day = default_as_of(con, settings.timezone) if cutoff is None else cutoff
        cut = as_of_cut(day, settings.timezone)
        df = compute_features(con, cut, settings=settings, cfg=cfg)
    if df.empty:
        raise ChurnError(
            f"no person bought in the {cfg['population_days']} days before {cut.date}: "
            "a cutoff with no history has nobody to score"
        )
    return df
