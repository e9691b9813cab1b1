"""Automation rules with known answers: planted audiences, true effects, touches, consent.

From its own random stream and after every export but the send log and consent has
been drawn, this module plants, on a few run dates near the end of the window:

- audiences of the two behaviour rules the generator can make true on purpose:
  ``groupbuy_views_no_order`` (three group-buy page views in the 7 days before the
  run, no order in them) and ``cart_unpaid_24h`` (a cart add 25–40 hours before the
  run, nothing paid since), on existing persons with a mini-program and a WeCom
  account; the natural persons whose last cart is 24–48 hours old and unpaid on a
  run date are units of ``cart_unpaid_24h`` too;
- a true effect on conversion per shipped rule (:data:`EFFECTS`): each unit's arm
  is scrm's (``assign([person_id], experiment="automation:<rule>", weights={"send":
  1.0}, holdout=share)`` on OneID's stable id, ``P`` + a hash of the person's
  smallest account id), and among the ``send`` units that would not have ordered in
  the 7 days after the run anyway, ``round(q × n)`` place an extra mini-program order
  2–6 days after it, ``q = effect / (1 − natural rate)``, so the conversion of
  ``send`` units is the natural rate plus the effect. The other shipped rules get
  no plant: their effect is exactly zero (their units, if the sample has any, are
  natural persons whose orders do not depend on the arm);
- touches that come back: a sent row (some opened, some clicked) for each planted
  ``send`` unit, campaign ``auto:<rule>:<run date>``, on their WeCom contact;
- consent changes over time: some planted persons opt out of ``wecom_1v1`` before
  a run date (some of them opt in again before it, the rest only after it).

Planted events and orders go to their own files in the documented spelling
(``miniapp_events_automation.jsonl``, ``miniapp_orders_automation.jsonl``);
touches and consent rows are appended after the simulated ones of ``touches.csv``
and ``consent.csv``. Every other file keeps its bytes. The truth is
``truth/automation_effects.csv`` and ``truth/automation_units.csv`` (see the truth
README).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from scrm_lib.sample import orders as O
from scrm_lib.sample.files import write_csv, write_lines
from scrm_lib.sample.timeline import DAY, Window

HOUR = 3_600
#: The true effect on conversion (absolute, share of units) of every shipped rule.
#: ``vip_negative_service`` keeps no hold-out: no uplift can be measured for it.
EFFECTS = {
    "groupbuy_views_no_order": 0.20,
    "cart_unpaid_24h": 0.10,
    "welcome_referral": 0.0,
    "welcome_ad": 0.0,
    "prechurn_care_30d": 0.0,
    "dormant_180d": 0.0,
    "live_buyers_recall_60d": 0.0,
    "birthday": 0.0,
    "repurchase_day14": 0.0,
    "high_intent_followup": 0.0,
    "vip_negative_service": 0.0,
    "churn_early_warning": 0.0,
}
#: The rules whose audience is planted (the others' units are the sample's own).
PLANTED_RULES = ("groupbuy_views_no_order", "cart_unpaid_24h")
#: Run dates: this many days before the window end (each judged 7 days later).
RUN_DAYS_BEFORE_END = tuple(range(160, 29, -10))
#: Planted persons per rule and run date: this share of all persons (at least 20), or
#: half the persons who qualify on the date if fewer.
PLANT_SHARE = 0.08
#: The conversion window the effect is planted in (the shipped rules' default).
CONVERSION_DAYS = 7
#: Share of planted persons who opt out of wecom_1v1 before a run; of those, the
#: share who opt in again before it.
OPT_OUT_SHARE = 0.08
BACK_BEFORE_SHARE = 0.5
OPEN_RATE, CLICK_RATE = 0.45, 0.22
#: Planted order numbers: ``WX`` + date + this prefix + a counter (no clash with the
#: simulated ones, whose counter restarts each day from 0).
ORDER_NO_PREFIX = "9"


def _stable_id(smallest_account: str) -> str:
    """OneID's id of a new cluster (:func:`scrm_lib.identity.stable_ids._fresh_id`)."""
    return "P" + hashlib.sha1(smallest_account.encode("utf-8")).hexdigest()[:12].upper()


def run_dates(window: Window) -> list[pd.Timestamp]:
    """The planted run dates (local days)."""
    return [window.end - pd.Timedelta(days=d) for d in RUN_DAYS_BEFORE_END]


@dataclass
class AutomationPlants:
    """What was planted: the frames to write and the truth."""

    events: pd.DataFrame  # happened-style rows: account_row, event, t, channel_code
    event_lines: pd.Series
    orders: pd.DataFrame  # rows in the simulation's order layout
    order_lines: pd.Series
    touches: pd.DataFrame  # touches.csv rows
    consent: pd.DataFrame  # consent.csv rows
    units: pd.DataFrame  # one row per unit the generator knows
    effects: pd.DataFrame
    consent_truth: pd.DataFrame = field(default_factory=pd.DataFrame)


def _arms(person_ids: pd.Series, rule: str, share: float) -> np.ndarray:
    from scrm_lib.experiments.assignment import HOLDOUT, assign

    a = assign(person_ids, experiment=f"automation:{rule}", weights={"send": 1.0}, holdout=share)
    return np.where(a["variant"].to_numpy() == HOLDOUT, "holdout", "send")


def _scrm_person_ids(
    persons: pd.DataFrame, accounts: pd.DataFrame, orders: pd.DataFrame, touches, consent
) -> np.ndarray:
    """Each person's stable id as OneID gives it on a first build (their accounts in the
    exports and phone contact points of the send log and consent, smallest first)."""
    plat = accounts["platform"].to_numpy()
    seen = (
        np.isin(plat, ["wechat", "wecom"])
        | accounts["account_id"].isin(orders["account_id"]).to_numpy()
    )
    ids = pd.Series(accounts["account_id"].to_numpy(dtype=object)[seen])
    who = accounts["person_idx"].to_numpy()[seen]
    # SMS touches and consent keyed by a youzan phone: contact points phone:<E.164>
    phones = set(touches.loc[touches["用户类型"] == "phone", "用户标识"]) | set(
        consent.loc[consent["用户类型"] == "phone", "用户标识"]
    )
    y = (plat == "youzan") & ~accounts["test_phone"].to_numpy()
    ph = accounts["phone"].to_numpy(dtype=object)
    has = y & pd.Series(ph).isin(phones).to_numpy()
    ids = pd.concat([ids, pd.Series("phone:+86" + ph[has].astype(str))], ignore_index=True)
    who = np.concatenate([who, accounts["person_idx"].to_numpy()[has]])
    smallest = ids.groupby(who).min()
    out = np.full(len(persons), "", dtype=object)
    out[smallest.index.to_numpy()] = [_stable_id(a) for a in smallest.to_numpy()]
    return out


def _latest_account(accounts: pd.DataFrame, platform: str, before: int) -> pd.Series:
    """person_idx → row of their latest account on ``platform`` created before ``before``."""
    a = accounts[(accounts["platform"] == platform) & (accounts["created"] < before)]
    a = a.assign(row=np.arange(len(accounts))[a.index.to_numpy()])
    a = a.sort_values(["person_idx", "created"], kind="stable")
    return a.drop_duplicates("person_idx", keep="last").set_index("person_idx")["row"]


def _counted(orders: pd.DataFrame, window: Window) -> np.ndarray:
    """Orders scrm counts (paid by the window end, not refunded in full)."""
    code = O.status_at(orders, window.seconds)
    paid = orders["paid_at"].to_numpy() <= window.seconds
    full_refund = (code == O.REFUNDED) & (
        orders["refund_fee"].to_numpy()
        >= orders["goods"].to_numpy() + orders["shipping"].to_numpy()
    )
    return paid & (code != O.CLOSED) & ~full_refund


def plant(
    rng: np.random.Generator,
    persons: pd.DataFrame,
    accounts: pd.DataFrame,
    churned: np.ndarray,
    churn_t: np.ndarray,
    orders: pd.DataFrame,
    happened: pd.DataFrame,
    touches: pd.DataFrame,
    consent: pd.DataFrame,
    window: Window,
) -> AutomationPlants:
    """Plant the automation audiences, effects, touches and consent changes (see above)."""
    n = len(persons)
    person_of = accounts["person_idx"].to_numpy()
    pid = _scrm_person_ids(persons, accounts, orders, touches, consent)
    counted = _counted(orders, window)
    o_person = orders["person_idx"].to_numpy()
    o_t = orders["created"].to_numpy()
    ev_person = person_of[happened["account_row"].to_numpy()]
    ev_t = happened["t"].to_numpy()
    carts = happened["event"].to_numpy() == "cart_add"
    ev_rows, unit_rows, consent_rows = [], [], []
    last = np.zeros(0, dtype="int64")  # picked on the previous date (their orders are recent)
    for day in run_dates(window):
        t_d = window.offset(day)
        wx = _latest_account(accounts, "wechat", t_d - 8 * DAY)
        wc = _latest_account(accounts, "wecom", t_d - DAY)
        ok = np.zeros(n, dtype=bool)
        ok[np.intersect1d(wx.index.to_numpy(), wc.index.to_numpy())] = True
        ok &= ~(churned & (churn_t < t_d + 8 * DAY)) & (pid != "")
        # no order in the week before the run (group-buy rule; the cart's is stricter)
        recent = np.unique(o_person[(o_t >= t_d - 8 * DAY) & (o_t < t_d)])
        ok[recent] = False
        # no cart of their own in the two days before the run (it would be their latest)
        ok[np.unique(ev_person[carts & (ev_t >= t_d - 3 * DAY) & (ev_t < t_d)])] = False
        ok[last] = False
        pool = rng.permutation(np.flatnonzero(ok))
        k = min(max(20, round(PLANT_SHARE * n)), len(pool) // 2)
        picked = {"groupbuy_views_no_order": pool[:k], "cart_unpaid_24h": pool[k : 2 * k]}
        last = pool[: 2 * k]
        for rule, who in picked.items():
            acc = wx.reindex(who).to_numpy()
            if rule == "groupbuy_views_no_order":
                t = t_d - rng.integers(HOUR, 6 * DAY, size=(len(who), 3))
                ev_rows.append(pd.DataFrame({
                    "account_row": np.repeat(acc, 3), "event": "page_view", "t": t.ravel(),
                    "page": "pages/groupbuy/detail"}))  # fmt: skip
            else:
                t = t_d - rng.integers(25 * HOUR, 40 * HOUR, size=len(who))
                ev_rows.append(pd.DataFrame({"account_row": acc, "event": "cart_add", "t": t,
                                             "page": "pages/goods/detail"}))  # fmt: skip
            unit_rows.append(pd.DataFrame({"rule": rule, "run_date": day.date().isoformat(),
                                           "person_idx": who, "planted": True}))  # fmt: skip
        # natural cart units: the latest cart before the run is 24–48 h old and unpaid
        c = pd.DataFrame({"p": ev_person[carts], "t": ev_t[carts]})
        c = c[c["t"] < t_d].groupby("p")["t"].max()
        c = c[(c >= t_d - 48 * HOUR) & (c <= t_d - 24 * HOUR)]
        paid_after = [
            bool(((o_person == p) & counted & (o_t >= tc) & (o_t < t_d)).any())
            for p, tc in c.items()
        ]
        nat = c.index.to_numpy()[~np.asarray(paid_after, dtype=bool)] if len(c) else c.index
        nat = np.setdiff1d(nat, picked["cart_unpaid_24h"])
        unit_rows.append(pd.DataFrame({"rule": "cart_unpaid_24h", "person_idx": nat,
                                       "run_date": day.date().isoformat(),
                                       "planted": False}))  # fmt: skip
    units = pd.concat(unit_rows, ignore_index=True)
    units["person_id"] = pid[units["person_idx"].to_numpy()]
    units["arm"] = ""
    for rule in PLANTED_RULES:
        sel = (units["rule"] == rule).to_numpy()
        units.loc[sel, "arm"] = _arms(units.loc[sel, "person_id"], rule, 0.1)

    # natural conversion within the window, then the planted ones among send units
    t_run = units["run_date"].map(lambda d: window.offset(d)).to_numpy()
    natural = np.zeros(len(units), dtype=bool)
    by_person = pd.Series(np.arange(len(orders)))[counted].groupby(o_person[counted]).agg(list)
    for i, (p, t0) in enumerate(zip(units["person_idx"].to_numpy(), t_run, strict=True)):
        rows = by_person.get(p, [])
        natural[i] = any(t0 <= o_t[r] < t0 + CONVERSION_DAYS * DAY for r in rows)
    units["natural"] = natural
    units["planted_order"] = False
    effects = []
    for rule, effect in EFFECTS.items():
        sel = (units["rule"] == rule).to_numpy()
        base = float(natural[sel].mean()) if sel.any() else float("nan")
        q = min(1.0, effect / (1 - base)) if sel.any() and effect > 0 and base < 1 else 0.0
        cand = np.flatnonzero(sel & (units["arm"].to_numpy() == "send") & ~natural)
        m = round(q * len(cand))
        if m:
            units.loc[rng.choice(cand, size=m, replace=False), "planted_order"] = True
        dates = sorted(units.loc[sel, "run_date"].unique())
        effects.append({
            "rule": rule, "true_effect": effect, "planted_audience": rule in PLANTED_RULES,
            "run_dates": ";".join(dates) if rule in PLANTED_RULES else "",
            "conversion_days": CONVERSION_DAYS,
            "units_send": int((sel & (units["arm"] == "send")).sum()),
            "units_holdout": int((sel & (units["arm"] == "holdout")).sum()),
            "natural_rate": round(base, 6) if sel.any() else None,
            "planted_orders": int(m),
        })  # fmt: skip

    ev = pd.concat(ev_rows, ignore_index=True) if ev_rows else pd.DataFrame()
    wx_any = _latest_account(accounts, "wechat", window.seconds)
    conv = units[units["planted_order"]].reset_index(drop=True)
    new_orders = _orders(rng, conv, t_run[units["planted_order"].to_numpy()], orders, accounts,
                         wx_any, window)  # fmt: skip

    # touches that come back: planted send units, on their WeCom contact
    send = units[(units["arm"] == "send") & units["planted"]].reset_index(drop=True)
    wc_all = _latest_account(accounts, "wecom", window.seconds)
    rows = wc_all.reindex(send["person_idx"]).to_numpy()
    t_send = send["run_date"].map(lambda d: window.offset(d)).to_numpy() + 10 * HOUR
    t_send = t_send + rng.integers(0, 2 * HOUR, len(send))
    opened = rng.random(len(send)) < OPEN_RATE
    clicked = opened & (rng.random(len(send)) < CLICK_RATE)
    touch = pd.DataFrame({
        "活动": "auto:" + send["rule"] + ":" + send["run_date"], "渠道": "wecom_1v1",
        "用户类型": "external_userid", "用户标识": accounts["native_id"].to_numpy()[rows],
        "发送时间": window.local_text(t_send), "是否打开": np.where(opened, "是", "否"),
        "是否点击": np.where(clicked, "是", "否")})  # fmt: skip

    # consent changes: opt-outs of wecom_1v1 before a run; some opt in again before it
    planted = units[units["planted"]].reset_index(drop=True)
    out = planted[rng.random(len(planted)) < OPT_OUT_SHARE].reset_index(drop=True)
    t_out = out["run_date"].map(lambda d: window.offset(d)).to_numpy()
    t_off = t_out - rng.integers(3 * DAY, 20 * DAY, len(out))
    back_before = rng.random(len(out)) < BACK_BEFORE_SHARE
    t_back = np.where(back_before, t_out - rng.integers(HOUR, 2 * DAY, len(out)),
                      t_out + rng.integers(10 * DAY, 30 * DAY, len(out)))  # fmt: skip
    native = accounts["native_id"].to_numpy()[wc_all.reindex(out["person_idx"]).to_numpy()]
    for t, granted in ((t_off, "否"), (t_back, "是")):
        consent_rows.append(pd.DataFrame({"用户类型": "external_userid", "用户标识": native,
                                          "渠道": "wecom_1v1", "是否同意": granted,
                                          "t": t}))  # fmt: skip
    cons = pd.concat(consent_rows, ignore_index=True).sort_values("t", kind="stable")
    cons = cons[cons["t"] < window.seconds]
    consent_truth = pd.DataFrame({
        "person_id": np.concatenate([out["person_id"], out["person_id"]]),
        "account_id": np.concatenate(["wecom:" + native.astype(str)] * 2),
        "channel": "wecom_1v1", "granted": np.concatenate([np.zeros(len(out), bool),
                                                           np.ones(len(out), bool)]),
        "ts": window.local_text(np.concatenate([t_off, t_back])),
        "run_date": np.concatenate([out["run_date"], out["run_date"]]),
        "rule": np.concatenate([out["rule"], out["rule"]]),
        "suppressed_on_run": np.concatenate([~back_before, ~back_before]),
    }).sort_values("ts", kind="stable")  # fmt: skip
    consent_truth = consent_truth[consent_truth["ts"] < window.local_text([window.seconds])[0]]
    cons["时间"] = window.local_text(cons["t"].to_numpy())

    opted = set(zip(out.loc[~back_before, "person_idx"], out.loc[~back_before, "run_date"],
                    strict=True))  # fmt: skip
    units["opted_out"] = [(p, d) in opted for p, d in zip(units["person_idx"], units["run_date"],
                                                           strict=True)]  # fmt: skip
    return AutomationPlants(
        events=ev[["account_row", "event", "t"]].assign(channel_code="") if len(ev) else ev,
        event_lines=_event_lines(rng, ev, accounts, window),
        orders=new_orders,
        order_lines=_order_lines(new_orders, accounts, window),
        touches=touch,
        consent=cons.drop(columns="t").reset_index(drop=True),
        units=units,
        effects=pd.DataFrame(effects),
        consent_truth=consent_truth.reset_index(drop=True),
    )


def _orders(rng, conv, t_run, orders, accounts, wx, window) -> pd.DataFrame:
    """One extra mini-program order per converted unit, 2–6 days after the run."""
    if not len(conv):
        return orders.iloc[:0].copy()
    tmpl = orders[orders["platform"] == "wechat"]
    new = tmpl.iloc[rng.integers(0, len(tmpl), len(conv))].copy().reset_index(drop=True)
    row = wx.reindex(conv["person_idx"]).to_numpy()
    created = t_run + rng.integers(2 * DAY, 6 * DAY, len(conv))
    new["person_idx"] = conv["person_idx"].to_numpy()
    new["account_row"] = row
    new["account_id"] = accounts["account_id"].to_numpy()[row]
    new["created"] = created
    new["paid_at"] = created + rng.integers(60, 1800, len(conv))
    new["ship_at"] = new["paid_at"] + DAY
    new["done_at"] = new["paid_at"] + 5 * DAY
    for col in ("closed_at", "request_at", "refund_at"):
        new[col] = O.NEVER
    new["refund_fee"] = 0
    new["channel_code"] = ""
    new["groupbuy_id"] = pd.NA
    day = pd.Series(window.local_text(created, "compact")).str.slice(0, 8)
    new["order_no"] = (
        "WX" + day + ORDER_NO_PREFIX + pd.Series(range(len(conv))).map("{:09d}".format)
    )
    return new.astype(orders.dtypes.to_dict())


def _order_lines(o: pd.DataFrame, accounts: pd.DataFrame, window: Window) -> pd.Series:
    """``miniapp_orders`` lines as ``docs/raw-formats.md`` spells them."""
    from scrm_lib.sample import miniapp

    if not len(o):
        return pd.Series([], dtype="str")
    code = O.status_at(o, window.seconds)
    row = o["account_row"].to_numpy()
    items = miniapp._items_json(o)
    addr = miniapp._address_fields(accounts, row)
    lines = []
    for i in range(len(o)):
        rec = {
            "order_no": o["order_no"].iloc[i],
            "openid": accounts["native_id"].iloc[row[i]],
            "create_time": int(window.unix_ms(o["created"].iloc[i])),
            "pay_time": int(window.unix_ms(o["paid_at"].iloc[i])),
            "total_fee": int(o["goods"].iloc[i] + o["shipping"].iloc[i]),
            "status": miniapp.STATUS[int(code[i])],
            "refund_fee": 0,
            "items": json.loads(items.iloc[i]),
            "address": {k: json.loads(v.iloc[i]) for k, v in addr.items()},
            "groupbuy_id": None,
            "channel_code": None,
        }
        lines.append(json.dumps(rec, ensure_ascii=False, separators=(",", ":")))
    return pd.Series(lines, dtype="str")


def _event_lines(rng, ev: pd.DataFrame, accounts: pd.DataFrame, window: Window) -> pd.Series:
    """``miniapp_events`` lines as ``docs/raw-formats.md`` spells them."""
    if not len(ev):
        return pd.Series([], dtype="str")
    openid = accounts["native_id"].to_numpy()[ev["account_row"].to_numpy()]
    ms = window.unix_ms(ev["t"].to_numpy(), rng)
    lines = []
    for i in range(len(ev)):
        gb = ev["event"].iloc[i] == "page_view"
        props = {"groupbuy_id": f"GB9{i:07d}"} if gb else {"sku": "NF01", "qty": 1}
        rec = {"openid": openid[i], "event": ev["event"].iloc[i], "page": ev["page"].iloc[i],
               "ts": int(ms[i]), "props": props}  # fmt: skip
        lines.append(json.dumps(rec, ensure_ascii=False, separators=(",", ":")))
    return pd.Series(lines, dtype="str")


EVENTS_FILE = "miniapp_events_automation.jsonl"
ORDERS_FILE = "miniapp_orders_automation.jsonl"


def write_exports(out: Path, p: AutomationPlants) -> dict[str, int]:
    """The planted events and orders, each in a file of its own."""
    return {
        EVENTS_FILE: write_lines(p.event_lines, out / EVENTS_FILE),
        ORDERS_FILE: write_lines(p.order_lines, out / ORDERS_FILE),
    }


def write_truth(out: Path, p: AutomationPlants, persons: pd.DataFrame) -> dict[str, int]:
    """``automation_effects.csv``, ``automation_units.csv``, ``automation_consent.csv``."""
    u = p.units
    units = pd.DataFrame({
        "rule": u["rule"], "run_date": u["run_date"],
        "true_person_id": persons["person_id"].to_numpy()[u["person_idx"].to_numpy()],
        "person_id": u["person_id"], "arm": u["arm"], "planted": u["planted"],
        "natural_conversion": u["natural"], "planted_order": u["planted_order"],
        "opted_out": u["opted_out"]})  # fmt: skip
    frames = {
        "automation_effects.csv": p.effects,
        "automation_units.csv": units,
        "automation_consent.csv": p.consent_truth,
    }
    for name, df in frames.items():
        write_csv(df, out / name, "utf-8")
    return {name: len(df) for name, df in frames.items()}
