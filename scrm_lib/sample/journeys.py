"""How each person was acquired, what each code was truly worth, and when each
person reached each step of the journey: the ground truth of channel analytics.

Everything here is computed from the generator's own frames (before any
export mangling); :mod:`.truth` writes it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scrm_lib.sample import orders as O
from scrm_lib.sample.timeline import DAY, Window

#: Days after acquisition (or after the first order) the value and repeat windows cover.
HORIZON_DAYS = 90
#: The default journey, in order.
FUNNEL_STEPS = (
    "scan_or_add",
    "group_or_follow",
    "view",
    "cart",
    "first_order",
    "second_order_90d",
)


def first_exported_sighting(
    n: int,
    accounts: pd.DataFrame,
    follows: pd.DataFrame,
    info: pd.DataFrame,
    orders: pd.DataFrame,
) -> np.ndarray:
    """Per person, the earliest time an export shows any of their accounts (``NEVER`` if none).

    The contacts file carries each WeCom add, the users file each subscription,
    and the shop exports each order inside the window; a person's appearance
    before all of these (an order before the window) is in no export.
    """
    first = np.full(n, O.NEVER, dtype="int64")
    person_of = accounts["person_idx"].to_numpy()
    np.minimum.at(
        first, person_of[follows["account_row"].to_numpy()], follows["created"].to_numpy()
    )
    np.minimum.at(first, person_of[info["account_row"].to_numpy()], info["sub_t"].to_numpy())
    inside = orders["created"].to_numpy() >= 0
    np.minimum.at(
        first, orders["person_idx"].to_numpy()[inside], orders["created"].to_numpy()[inside]
    )
    return first


def acquisition(
    persons: pd.DataFrame,
    accounts: pd.DataFrame,
    follows: pd.DataFrame,
    info: pd.DataFrame,
    ref: pd.DataFrame,
    channels: pd.DataFrame,
    orders: pd.DataFrame,
) -> pd.DataFrame:
    """One row per person: how and when they were acquired, and whether an export shows it.

    Returns ``person_idx``, ``channel_type`` (the code's type, ``referral`` or
    ``organic``), ``channel_code``, ``campaign``, ``staff_id`` (the 活码's
    staff member), ``t`` (seconds into the window: the person's ``t0``),
    ``visible`` and ``inviter_idx`` (-1 unless referral). A person meant to be
    invited whose account subscribed first of all has nobody to invite them
    and counts as organic. An organic person is visible when an export shows
    their first appearance (:func:`first_exported_sighting` at ``t0``): one
    first seen before the window on a shop, say, and then through a 活码 inside
    it looks like the 活码's to anyone reading the exports.
    """
    n = len(persons)
    code = persons["channel_code"].to_numpy(dtype=object)
    by_code = code != ""
    ch = channels.set_index("渠道码")
    ctype = ch["渠道类型"].reindex(code).fillna("").to_numpy(dtype=object)
    campaign = ch["活动"].reindex(code).fillna("").to_numpy(dtype=object)
    staff = ch["导购"].reindex(code).fillna("").to_numpy(dtype=object)

    person_of = accounts["person_idx"].to_numpy()
    inviter = np.full(n, -1, dtype="int64")
    inviter[person_of[ref["invitee_row"].to_numpy()]] = person_of[ref["inviter_row"].to_numpy()]
    referral = (inviter >= 0) & ~by_code

    # A 活码 shows when its add kept the state; another code when the scan kept the scene.
    hidden = np.zeros(n, dtype=bool)
    lost_add = follows["state_lost"].to_numpy(dtype=bool)
    hidden[person_of[follows["account_row"].to_numpy()[lost_add]]] = True
    lost_scan = info["scene_lost"].to_numpy(dtype=bool)
    hidden[person_of[info["account_row"].to_numpy()[lost_scan]]] = True
    t0 = persons["t0"].to_numpy()
    unseen = first_exported_sighting(n, accounts, follows, info, orders) > t0
    hidden |= unseen & ~by_code & ~referral

    return pd.DataFrame(
        {
            "person_idx": np.arange(n),
            "channel_type": np.where(
                by_code, ctype, np.where(referral, "referral", "organic")
            ).astype(object),
            "channel_code": code,
            "campaign": np.where(by_code, campaign, ""),
            "staff_id": np.where(by_code, staff, ""),
            "t": persons["t0"].to_numpy(),
            "visible": ~hidden,
            "inviter_idx": np.where(referral, inviter, -1),
        }
    )


def with_influencer_acquisition(
    acq: pd.DataFrame, orders: pd.DataFrame, influencers: pd.DataFrame
) -> pd.DataFrame:
    """Organic persons whose first order is a Douyin order through a 达人 within a day of
    their acquisition came through that 达人: ``douyin_influencer``, code = the 达人ID.

    ``influencers`` holds each Douyin order's 达人ID (``main`` = order number) as
    the export shows it; an order without one (商品卡, 搜索) acquires nobody.
    """
    first = orders.sort_values("created", kind="stable").drop_duplicates("person_idx")
    first = first[first["platform"] == "douyin"]
    inf = influencers.assign(main=influencers["main"].astype(str)).set_index("main")["达人ID"]
    code = first["order_no"].astype(str).map(inf).fillna("").to_numpy(dtype=object)
    person = first["person_idx"].to_numpy()
    t0 = acq["t"].to_numpy()[person]
    hit = (code != "") & (first["created"].to_numpy() - t0 <= DAY)
    hit &= acq["channel_type"].to_numpy()[person] == "organic"
    out = acq.copy()
    rows = person[hit]
    out.loc[rows, "channel_type"] = "douyin_influencer"
    out.loc[rows, "channel_code"] = code[hit]
    # the 达人's order shows the acquisition when it is in the exports (inside the window)
    out.loc[rows, "visible"] = first["created"].to_numpy()[hit] >= 0
    return out


def net_value(orders: pd.DataFrame, window: Window) -> pd.DataFrame:
    """Paid orders with their net amount in fen (refunds as of the window end taken off).

    Cancelled orders and orders still unpaid at the window end count nothing,
    as in ``truth/orders.csv`` (net = amount − refund_amount for paid and
    refunded orders).
    """
    code = O.status_at(orders, window.seconds)
    status = O.truth_status(code)
    paid = np.isin(status, ["paid", "refunded"])
    total = orders["goods"].to_numpy() + orders["shipping"].to_numpy()
    refund = np.where(status == "refunded", orders["refund_fee"].to_numpy(), 0)
    return pd.DataFrame(
        {
            "person_idx": orders["person_idx"].to_numpy()[paid],
            "created": orders["created"].to_numpy()[paid],
            "net": (total - refund)[paid],
        }
    )


def channel_value(
    acq: pd.DataFrame, orders: pd.DataFrame, channels: pd.DataFrame, window: Window
) -> pd.DataFrame:
    """Per code: its true multiplier, persons acquired, and net GMV per person in 90 days.

    ``net_gmv_90d_per_person`` (yuan) averages, over the code's persons
    acquired inside the window at least 90 days before its end
    (``persons_90d``), the net value of their orders created in the 90 days
    from acquisition; empty when no person qualifies.
    """
    horizon = HORIZON_DAYS * DAY
    t = acq["t"].to_numpy()
    eligible = (t >= 0) & (t <= window.seconds - horizon)
    paid = net_value(orders, window)
    t0 = t[paid["person_idx"].to_numpy()]
    inside = (paid["created"].to_numpy() >= t0) & (paid["created"].to_numpy() < t0 + horizon)
    gmv = np.bincount(
        paid["person_idx"].to_numpy()[inside],
        weights=paid["net"].to_numpy()[inside].astype(float),
        minlength=len(acq),
    )
    per = pd.DataFrame(
        {"code": acq["channel_code"], "eligible": eligible, "gmv": np.where(eligible, gmv, 0.0)}
    )
    per = per[per["code"] != ""]
    g = per.groupby("code")
    stats = pd.DataFrame(
        {"persons": g.size(), "persons_90d": g["eligible"].sum(), "gmv": g["gmv"].sum()}
    ).reindex(channels["渠道码"].to_numpy(), fill_value=0)
    n90 = stats["persons_90d"].to_numpy()
    mean = pd.Series(stats["gmv"].to_numpy() / np.maximum(n90, 1) / 100)
    per_person = mean.map("{:.2f}".format).where(n90 > 0, "")
    return pd.DataFrame(
        {
            "channel_code": channels["渠道码"].to_numpy(),
            "channel_type": channels["渠道类型"].to_numpy(),
            "campaign": channels["活动"].to_numpy(),
            "staff_id": channels["导购"].to_numpy(),
            "multiplier": channels["multiplier"].to_numpy(),
            "persons": stats["persons"].to_numpy(),
            "persons_90d": n90,
            "net_gmv_90d_per_person": per_person.to_numpy(),
            "cost": channels["成本"].to_numpy(),
        }
    )


def funnel(
    persons: pd.DataFrame,
    accounts: pd.DataFrame,
    follows: pd.DataFrame,
    members: pd.DataFrame,
    info: pd.DataFrame,
    happened: pd.DataFrame,
    orders: pd.DataFrame,
    window: Window,
) -> pd.DataFrame:
    """The first time each person reached each step of :data:`FUNNEL_STEPS`.

    ``scan_or_add``: a mini-program QR scan (the acquisition scan included,
    also where no export kept it) or a WeCom add; ``group_or_follow``: a
    WeCom group join, a WeCom add or a mini-program subscription; ``view``:
    a page view or a group-buy join; ``cart``: a cart add; ``first_order``:
    the first order paid by the window end; ``second_order_90d``: the next
    paid order, when created within 90 days of the first. Returns
    ``person_idx``, ``step``, ``t``; steps a person never reached have no row.
    """
    person_of = accounts["person_idx"].to_numpy()
    ev = happened[happened["t"].to_numpy() < window.seconds]
    kind = ev["event"].to_numpy()
    ev_person = person_of[ev["account_row"].to_numpy()]
    add_p = person_of[follows["account_row"].to_numpy()]
    add_t = follows["created"].to_numpy()
    acq_scan = info["qr_code"].to_numpy(dtype=object) != ""
    acq_scan |= info["scene_lost"].to_numpy(dtype=bool)
    acq_scan &= info["sub_t"].to_numpy() < 0  # in-window acquisition scans are events already
    sub_p = person_of[info["account_row"].to_numpy()]
    sub_t = info["sub_t"].to_numpy()
    join_p = person_of[members["account_row"].to_numpy()]
    scans = kind == "qr_scan"
    lost_in_window = info["scene_lost"].to_numpy(dtype=bool) & (sub_t >= 0)
    views = np.isin(kind, ["page_view", "groupbuy_join"])
    cart = kind == "cart_add"

    paid = net_value(orders, window).sort_values(["person_idx", "created"], kind="stable")
    nth = paid.groupby("person_idx").cumcount().to_numpy()
    first = paid[nth == 0].set_index("person_idx")["created"]
    second = paid[nth == 1].set_index("person_idx")["created"]
    second = second[second <= first.reindex(second.index) + HORIZON_DAYS * DAY]

    steps = {
        "scan_or_add": (
            np.concatenate([ev_person[scans], add_p, sub_p[acq_scan], sub_p[lost_in_window]]),
            np.concatenate(
                [ev["t"].to_numpy()[scans], add_t, sub_t[acq_scan], sub_t[lost_in_window]]
            ),
        ),
        "group_or_follow": (
            np.concatenate([join_p, add_p, sub_p]),
            np.concatenate([members["join_t"].to_numpy(), add_t, sub_t]),
        ),
        "view": (ev_person[views], ev["t"].to_numpy()[views]),
        "cart": (ev_person[cart], ev["t"].to_numpy()[cart]),
        "first_order": (first.index.to_numpy(), first.to_numpy()),
        "second_order_90d": (second.index.to_numpy(), second.to_numpy()),
    }
    parts = []
    for step, (who, when) in steps.items():
        earliest = pd.Series(np.asarray(when, dtype="int64")).groupby(np.asarray(who)).min()
        parts.append(
            pd.DataFrame(
                {"person_idx": earliest.index.to_numpy(), "step": step, "t": earliest.to_numpy()}
            )
        )
    out = pd.concat(parts, ignore_index=True)
    order = {s: i for i, s in enumerate(FUNNEL_STEPS)}
    out["_k"] = out["step"].map(order)
    return out.sort_values(["person_idx", "_k"], kind="stable").drop(columns="_k")


def utc_iso(window: Window, t: np.ndarray) -> np.ndarray:
    """Seconds into the window as UTC ISO 8601, e.g. ``2025-03-05T02:00:00Z``."""
    stamps = np.asarray(window.unix_s(t), dtype="int64").astype("datetime64[s]")
    return (pd.Series(np.datetime_as_string(stamps, unit="s")) + "Z").to_numpy()
