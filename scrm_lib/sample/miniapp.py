"""WeChat mini-program backend files: users, orders, behaviour events, referrals.

Orders and events are split into half-year files; each file (and the users
file) is written in a dialect of its own (:mod:`.dialects`): key spellings,
key order, extra keys, and times as unix ms, unix seconds or local text.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from scrm_lib.sample import dialects as D
from scrm_lib.sample import orders as O
from scrm_lib.sample import vocab
from scrm_lib.sample.files import (
    add_duplicates,
    garbage_count,
    js,
    js_or_null,
    money,
    write_lines,
)
from scrm_lib.sample.timeline import DAY, Window

#: Months a mini-program backend export file covers.
FILE_MONTHS = 6

#: Mini-program users who authorised their phone number (getPhoneNumber).
PHONE_AUTH_SHARE = 0.7

NEVER = O.NEVER

#: Acquisition scans whose scene string the backend did not keep (and whose scan
#: event the tracking missed): the person's code is in no export.
LOST_SCENE = 0.08


def subscribe_times(rng, accounts: pd.DataFrame, orders: pd.DataFrame, persons) -> np.ndarray:
    """When each WeChat account subscribed: at creation, or just before its first order.

    Never before the person's ``t0`` (their acquisition), and at ``t0`` for the
    account their acquisition opened (a code's scan or a friend's invitation).
    """
    first = np.full(len(accounts), NEVER, dtype="int64")
    w = orders["platform"].to_numpy() == "wechat"
    np.minimum.at(first, orders["account_row"].to_numpy()[w], orders["created"].to_numpy()[w])
    before = first - rng.integers(600, 3 * DAY, len(accounts))
    sub = np.where(
        first < NEVER,
        np.minimum(accounts["created"].to_numpy(), before),
        accounts["created"].to_numpy(),
    )
    t0 = persons["t0"].to_numpy()[accounts["person_idx"].to_numpy()]
    return np.where(accounts["acq"].to_numpy(dtype=bool), t0, np.maximum(sub, t0))


def users(
    rng, accounts, persons, sub_t, window, dialect_rng=None
) -> tuple[pd.DataFrame, pd.Series, dict]:
    """The users file's lines, in a dialect drawn from ``dialect_rng`` (documented when None)."""
    w = np.flatnonzero(accounts["platform"].to_numpy() == "wechat")
    a = accounts.iloc[w]
    n = len(w)
    pidx = a["person_idx"].to_numpy()
    scene = np.array(vocab.SUBSCRIBE_SCENES)[
        rng.choice(7, size=n, p=[0.2, 0.15, 0.15, 0.1, 0.2, 0.1, 0.1])
    ]
    has_phone = rng.random(n) < PHONE_AUTH_SHARE
    phone = np.where(
        a["test_phone"].to_numpy(),
        vocab.TEST_PHONE,
        np.where(has_phone, a["phone"].to_numpy(), None),
    )
    bday = persons["birthday"].to_numpy(dtype=object)[pidx]
    bday = np.where(pd.notna(bday) & (rng.random(n) < 0.5), bday, None)
    gender = np.where(rng.random(n) < 0.15, 0, persons["gender"].to_numpy()[pidx])
    # (drawn last: the draws above stay where they were)
    # The acquisition scan of a code: a QR scene carrying the code, unless it was lost.
    code = a["channel_code"].to_numpy(dtype=object)
    by_code = a["acq"].to_numpy(dtype=bool) & (code != "")
    qr_scenes = np.array(vocab.QR_SCENES)
    scene = np.where(by_code, qr_scenes[rng.integers(0, len(qr_scenes), n)], scene)
    lost = by_code & (rng.random(n) < LOST_SCENE)
    # Invited friends arrive from the shared card (1007 private chat, 1008 group chat).
    invited = a["acq"].to_numpy(dtype=bool) & (
        persons["acquisition"].to_numpy(dtype=object)[pidx] == "referral"
    )
    scene = np.where(invited, np.array([1007, 1008])[rng.integers(0, 2, n)], scene)
    qr_code = np.where(by_code & ~lost, code, "")
    union = a["unionid"].to_numpy(dtype=object)

    def opt(v):  # the key is absent where there is no value
        return js(v).where(pd.notna(pd.Series(v, dtype=object)).to_numpy())

    fields = {
        "openid": js(a["native_id"]),
        "unionid": opt(union),
        "nickname": js(a["nickname"]),
        "phone": opt(phone),
        "gender": pd.Series(gender).astype(str),
        "birthday": opt(bday),
        "city": js(persons["city"].to_numpy()[pidx]),
        "subscribe_time": None,
        "subscribe_scene": pd.Series(scene).astype(str),
        "qr_scene_str": js(qr_code),
    }
    d = _json_dialect(dialect_rng, D.MINIAPP_USERS, list(fields))
    sub_ms = window.unix_s(sub_t[w]) * 1000
    fields["subscribe_time"] = D.json_time(window, sub_ms, d["time_unit"])
    lines = D.render_json(fields, d, D.MINIAPP_USERS)
    info = pd.DataFrame(
        {
            "account_row": w,
            "sub_t": sub_t[w],
            "qr_code": qr_code,
            "scene_lost": lost,
            "invited": invited,
        }
    )
    return info, lines, d


def _json_dialect(rng, spec: D.JsonSpec, keys: list[str]) -> dict:
    if rng is not None:
        return D.choose_json(rng, spec, keys)
    return {
        "rename": {},
        "values": {},
        "extra": [],
        "order": [],
        "time_unit": spec.time_units[0][0],
        "money": "fen",
    }


def _yuan(fen_text: pd.Series) -> pd.Series:
    """Fen written as JSON integers to yuan with two decimals; other cells (garbage) kept."""
    whole = fen_text.str.fullmatch(r"-?\d+")
    fen = pd.to_numeric(fen_text.where(whole, "0")).astype("int64")
    return money(fen.to_numpy()).where(whole.to_numpy(), fen_text.to_numpy())


def _periods(window: Window, t: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Half-year files: (``<from>_<to>`` name part, row positions), in time order."""
    out = []
    lo = window.start
    while lo <= window.end:
        hi = min(lo + pd.DateOffset(months=FILE_MONTHS), window.end + pd.Timedelta(days=1))
        a, b = window.offset(lo), window.offset(hi)
        rows = np.flatnonzero((t >= a) & (t < b))
        days = window.local_text(np.array([a, b - DAY]), "date")
        out.append((days[0].replace("-", "") + "_" + days[1].replace("-", ""), rows))
        lo = hi
    return out


def _items_json(o: pd.DataFrame) -> pd.Series:
    sku = O.SKU
    parts = None
    for j in range(3):
        s = o[f"sku{j}"].to_numpy()
        ok = s >= 0
        s0 = np.maximum(s, 0)
        item = (
            '{"sku":'
            + js(sku["sku"].to_numpy()[s0])
            + ',"name":'
            + js(sku["title"].to_numpy()[s0])
            + ',"category":'
            + js(sku["category"].to_numpy()[s0])
            + ',"qty":'
            + o[f"qty{j}"].astype(str).reset_index(drop=True)
            + ',"price":'
            + o[f"price{j}"].astype(str).reset_index(drop=True)
            + "}"
        )
        if parts is None:
            parts = item
        else:
            parts = parts + pd.Series(np.where(ok, "," + item.to_numpy(dtype=object), ""))
    return "[" + parts + "]"


def groupbuys(rng, orders: pd.DataFrame) -> np.ndarray:
    """Group-buy ids: a quarter of mini-program orders, in teams of 2–5 neighbours in time."""
    gb = np.full(len(orders), None, dtype=object)
    w = np.flatnonzero(
        (orders["platform"].to_numpy() == "wechat") & (rng.random(len(orders)) < 0.25)
    )
    if len(w) == 0:
        return gb
    size = rng.integers(2, 6, len(w))
    team = np.repeat(np.arange(len(w)), size)[: len(w)]
    gb[w] = pd.Series(team).map("GB{:08d}".format).to_numpy()
    return gb


STATUS = {
    O.PENDING: "NOTPAY",
    O.PAID: "PAID",
    O.SHIPPED: "PAID",
    O.DONE: "PAID",
    O.REFUNDING: "PAID",
    O.REFUNDED: "REFUNDED",
    O.CLOSED: "CLOSED",
}


def _address_fields(accounts: pd.DataFrame, row: np.ndarray) -> dict[str, pd.Series]:
    """The shipping address a buyer picked (``wx.chooseAddress``): their own, phone in full.

    The brand's own backend keeps what the user typed, unmasked, unlike the
    marketplaces' exports; gifts to someone else are not simulated (nor on Tmall).
    """
    cols = {
        "userName": "display_name",
        "telNumber": "phone",
        "provinceName": "province",
        "cityName": "city",
        "countyName": "district",
        "detailInfo": "address",
    }
    return {k: js(accounts[c].to_numpy()[row]) for k, c in cols.items()}


def orders_file(
    rng, orders, accounts, window, out: Path, noise: dict, dialect_rng=None
) -> dict[str, int]:
    """``miniapp_orders_<from>_<to>.jsonl``: one file a half-year, each in its own dialect."""
    o = orders[orders["platform"] == "wechat"].reset_index(drop=True)
    code = O.status_at(o, window.seconds)
    paid = o["paid_at"].to_numpy() <= window.seconds
    refunded = code == O.REFUNDED
    chan = o["channel_code"].to_numpy(dtype=object)
    chan = np.where(chan == "", None, chan)
    row = o["account_row"].to_numpy()
    create_ms = window.unix_ms(o["created"].to_numpy(), rng)
    pay_ms = np.where(paid, window.unix_ms(np.where(paid, o["paid_at"], 0), rng), -1)
    # JSON value text per key; times stay numbers until a file's dialect spells them
    frame = pd.DataFrame(
        {
            "order_no": js(o["order_no"]),
            "openid": js(accounts["native_id"].to_numpy()[row]),
            "create_time": create_ms,
            "pay_time": pay_ms,
            "total_fee": (o["goods"] + o["shipping"]).astype(str),
            "status": js(pd.Series(code).map(STATUS)),
            "refund_fee": pd.Series(np.where(refunded, o["refund_fee"], 0)).astype(str),
            "items": _items_json(o),
            **{f"address.{k}": v for k, v in _address_fields(accounts, row).items()},
            "groupbuy_id": js_or_null(o["groupbuy_id"]),
            "channel_code": js_or_null(chan),
            "bad_time": False,
        }
    )
    keys = [c for c in frame.columns if not c.startswith("address.") and c != "bad_time"]
    keys.insert(keys.index("groupbuy_id"), "address")
    written = {}
    for part, pos in _periods(window, o["created"].to_numpy()):
        f = frame.iloc[pos].reset_index(drop=True)
        k = min(garbage_count(len(f)), len(f))
        if k:
            bad = f.iloc[rng.choice(len(f), size=k, replace=False)].reset_index(drop=True)
            bad["order_no"] = bad["order_no"].str.replace('"WX', '"WXBAD', regex=False)
            half = np.arange(k) % 2 == 0
            bad.loc[half, "total_fee"] = '"N/A"'
            bad.loc[~half, "bad_time"] = True
            f = pd.concat([f, bad], ignore_index=True)
        f, n_dup = add_duplicates(rng, f, 0.002)
        d = _json_dialect(dialect_rng, D.MINIAPP_ORDERS, keys)
        ad = _json_dialect(dialect_rng, D.MINIAPP_ADDRESS, list(D.MINIAPP_ADDRESS.keys))
        unit = d["time_unit"]
        fields = {c: f[c] for c in keys if c != "address"}
        if d["money"] == "yuan":
            fields["total_fee"] = _yuan(f["total_fee"])
            fields["refund_fee"] = _yuan(f["refund_fee"])
        fields["create_time"] = D.json_time(window, f["create_time"], unit).where(
            ~f["bad_time"], '"yesterday"'
        )
        pay = f["pay_time"].to_numpy()
        fields["pay_time"] = D.json_time(window, np.maximum(pay, 0), unit).where(pay >= 0, "null")
        addr = {k2: f[f"address.{k2}"] for k2 in D.MINIAPP_ADDRESS.keys}
        fields["address"] = D.render_json(addr, ad)
        fields = {c: fields[c] for c in keys}
        name = f"miniapp_orders_{part}.jsonl"
        written[name] = write_lines(D.render_json(fields, d, D.MINIAPP_ORDERS), out / name)
        noise[name] = {
            "duplicate_rows": n_dup,
            "garbage_rows": k,
            "dialect": d,
            "address_dialect": ad,
        }
    return written


def referrals(rng, info: pd.DataFrame, window: Window) -> tuple[pd.DataFrame, np.ndarray]:
    """Invite links among mini-program users, heavy-tailed by inviter.

    The invitees are the accounts of the persons acquired by referral (see
    ``info["invited"]``), invited when they subscribed. Accounts are taken in
    subscribe order; an invitee's inviter is drawn from everyone who
    subscribed before, with Pareto weights, so a few people
    bring in hundreds and chains run several hops deep.
    """
    order = np.argsort(info["sub_t"].to_numpy(), kind="stable")
    n = len(order)
    role = rng.choice(3, size=n, p=[0.96, 0.03, 0.01])  # 0 member, 1 group leader, 2 distributor
    weight = (rng.pareto(1.15, n) + 1) * np.array([1.0, 6.0, 12.0])[role]
    cum = np.cumsum(weight)
    # The invitees are the persons acquired by referral: their subscription is the invite.
    rng.random(n)  # the draw that picked invitees before; later draws stay where they were
    invited = info["invited"].to_numpy(dtype=bool)[order] & (np.arange(n) > 0)
    pos = np.flatnonzero(invited)
    u = rng.random(len(pos)) * cum[pos - 1]
    inviter_pos = np.minimum(np.searchsorted(cum, u, side="right"), pos - 1)
    kinds = np.array(["invite", "group_leader", "distributor"], dtype=object)
    campaigns = np.array(["老带新有礼", "团长招募", "分销推广"], dtype=object)
    k = role[inviter_pos]
    t = info["sub_t"].to_numpy()[order[pos]]
    year = window.local_text(t, "date")
    ref = pd.DataFrame(
        {
            "inviter_row": info["account_row"].to_numpy()[order[inviter_pos]],
            "invitee_row": info["account_row"].to_numpy()[order[pos]],
            "t": t,
            "kind": kinds[k],
            "campaign": pd.Series(year).str.slice(0, 4).to_numpy() + campaigns[k],
        }
    )
    roles = np.empty(n, dtype=object)
    roles[order] = np.array(["member", "group_leader", "distributor"], dtype=object)[role]
    return ref, roles


def referrals_file(rng, ref: pd.DataFrame, accounts, window, out: Path) -> int:
    nid = accounts["native_id"].to_numpy(dtype=object)
    lines = (
        '{"inviter_openid":'
        + js(nid[ref["inviter_row"].to_numpy()])
        + ',"invitee_openid":'
        + js(nid[ref["invitee_row"].to_numpy()])
        + ',"ts":'
        + pd.Series(window.unix_ms(ref["t"].to_numpy(), rng)).astype(str)
        + ',"kind":'
        + js(ref["kind"])
        + ',"campaign":'
        + js(ref["campaign"])
        + "}"
    )
    return write_lines(lines, out / "miniapp_referrals.jsonl")


def _ev(openid, event, page, t_ms, props) -> pd.DataFrame:
    """Events as JSON value text per key (``ts`` as unix ms until a file spells it)."""
    n = len(openid)
    page = np.broadcast_to(np.asarray(page, dtype=object), (n,))
    props = np.broadcast_to(np.asarray(props, dtype=object), (n,))
    return pd.DataFrame(
        {
            "openid": js(openid),
            "event": '"' + event + '"',
            "page": js(page),
            "ts": np.asarray(t_ms, dtype="int64"),
            "props": pd.Series(props, dtype="str"),
        }
    )


def _seen(rows, event: str, t, code=None) -> pd.DataFrame:
    """What an account did when, for the ground truth (``channel_code`` of a scan)."""
    n = len(rows)
    code = np.full(n, "", dtype=object) if code is None else np.asarray(code, dtype=object)
    return pd.DataFrame(
        {
            "account_row": rows,
            "event": event,
            "t": np.asarray(t, dtype="int64"),
            "channel_code": code,
        }
    )


def events_file(
    rng,
    accounts,
    orders,
    info,
    ref,
    channels,
    churned,
    churn_t,
    window,
    out: Path,
    noise: dict,
    dialect_rng=None,
    extra_shares: np.ndarray | None = None,
) -> tuple[dict[str, int], pd.DataFrame]:
    """``miniapp_events_<from>_<to>.jsonl``: one file a half-year, each in its own dialect.

    ``extra_shares`` (per ``info`` row) adds to the mean number of shares an
    account makes besides those before its invites. Returns the files
    written (name → lines) and, for the ground truth, when each account did
    what: ``account_row``, ``event`` (page_view, cart_add, groupbuy_join,
    qr_scan) and ``t``, before any duplication.
    """
    nid = accounts["native_id"].to_numpy(dtype=object)
    span = window.seconds
    rows = info["account_row"].to_numpy()
    pidx = accounts["person_idx"].to_numpy()[rows]
    sub_t = np.maximum(info["sub_t"].to_numpy(), 0)
    stop = np.where(churned[pidx], np.minimum(np.maximum(churn_t[pidx], 0) + 30 * DAY, span), span)
    stop = np.maximum(stop, sub_t + 1)
    w_orders = orders[orders["platform"] == "wechat"]
    n_orders = np.bincount(w_orders["account_row"].to_numpy(), minlength=len(accounts))[rows]
    parts = []
    ms = lambda t: window.unix_ms(t, rng)  # noqa: E731

    # Page views, spread over the active life of the account.
    k = rng.poisson(3 + 1.5 * n_orders)
    r = np.repeat(np.arange(len(rows)), k)
    t = sub_t[r] + (rng.random(len(r)) * (stop[r] - sub_t[r])).astype("int64")
    page_i = rng.choice(len(vocab.MINIAPP_PAGES), size=len(r), p=[0.3, 0.3, 0.15, 0.1, 0.1, 0.05])
    page = np.array(vocab.MINIAPP_PAGES, dtype=object)[page_i]
    sku = O.SKU["sku"].to_numpy(dtype=object)[rng.integers(0, len(O.SKU), len(r))]
    gb_ids = w_orders["groupbuy_id"].dropna().unique()
    gb = (
        gb_ids[rng.integers(0, max(len(gb_ids), 1), len(r))]
        if len(gb_ids)
        else np.full(len(r), "GB00000000")
    )
    props = np.where(
        page_i == 1,
        '{"sku":' + js(sku).to_numpy(dtype=object) + "}",
        np.where(page_i == 2, '{"groupbuy_id":' + js(gb).to_numpy(dtype=object) + "}", "{}"),
    )
    parts.append(_ev(nid[rows[r]], "page_view", page, ms(t), props))
    seen = [_seen(rows[r], "page_view", t)]

    # Cart adds before most orders; group-buy joins (and the page before) for group orders.
    o = w_orders
    cart = rng.random(len(o)) < 0.6
    oc = o[cart]
    t = np.maximum(oc["created"].to_numpy() - rng.integers(60, 2 * DAY, len(oc)), 0)
    props = (
        '{"sku":'
        + js(O.SKU["sku"].to_numpy(dtype=object)[oc["sku0"].to_numpy()])
        + ',"qty":'
        + oc["qty0"].astype(str).reset_index(drop=True)
        + "}"
    )
    parts.append(
        _ev(nid[oc["account_row"].to_numpy()], "cart_add", "pages/goods/detail", ms(t), props)
    )
    seen.append(_seen(oc["account_row"].to_numpy(), "cart_add", t))
    g = o[o["groupbuy_id"].notna()]
    tj = np.maximum(g["created"].to_numpy() - rng.integers(10, 600, len(g)), 0)
    seen.append(_seen(g["account_row"].to_numpy(), "groupbuy_join", tj))
    gprops = '{"groupbuy_id":' + js(g["groupbuy_id"]) + "}"
    parts.append(
        _ev(
            nid[g["account_row"].to_numpy()],
            "groupbuy_join",
            "pages/groupbuy/detail",
            ms(tj),
            gprops,
        )
    )
    tv = np.maximum(tj - rng.integers(5, 300, len(g)), 0)
    seen.append(_seen(g["account_row"].to_numpy(), "page_view", tv))
    parts.append(
        _ev(nid[g["account_row"].to_numpy()], "page_view", "pages/groupbuy/detail", ms(tv), gprops)
    )

    # QR scans: the subscribing scan (inside the window), plus later scans of other codes.
    qr = (info["qr_code"].to_numpy(dtype=object) != "") & (info["sub_t"].to_numpy() >= 0)
    codes = channels["渠道码"].to_numpy(dtype=object)
    extra = rng.random(len(rows)) < 0.08
    scan_rows = np.concatenate([rows[qr], rows[extra]])
    scan_code = np.concatenate(
        [
            info["qr_code"].to_numpy(dtype=object)[qr],
            codes[rng.integers(0, len(codes), int(extra.sum()))],
        ]
    )
    scan_t = np.concatenate(
        [
            sub_t[qr],
            # strictly after the subscription: never a rival of the acquisition scan
            sub_t[extra]
            + 60
            + (rng.random(int(extra.sum())) * (stop[extra] - sub_t[extra])).astype("int64"),
        ]
    )
    seen.append(_seen(scan_rows, "qr_scan", scan_t, scan_code))
    parts.append(
        _ev(
            nid[scan_rows],
            "qr_scan",
            "pages/index/index",
            ms(scan_t),
            '{"channel_code":' + js(scan_code) + "}",
        )
    )

    # Shares: the inviter shares shortly before each invitee arrives, plus idle sharing.
    ts = np.maximum(ref["t"].to_numpy() - rng.integers(600, 2 * DAY, len(ref)), 0)
    parts.append(
        _ev(
            nid[ref["inviter_row"].to_numpy()],
            "share",
            "pages/groupbuy/detail",
            ms(ts),
            '{"campaign":' + js(ref["campaign"]) + "}",
        )
    )
    k = rng.poisson(0.3 if extra_shares is None else 0.3 + extra_shares, len(rows))
    r = np.repeat(np.arange(len(rows)), k)
    t = sub_t[r] + (rng.random(len(r)) * (stop[r] - sub_t[r])).astype("int64")
    parts.append(_ev(nid[rows[r]], "share", "pages/goods/detail", ms(t), "{}"))

    events = pd.concat(parts, ignore_index=True)
    t = events["ts"].to_numpy() // 1000 - window.unix_start
    written = {}
    # The backend flushes per worker, so lines arrive grouped, not in time order.
    for part, pos in _periods(window, t):
        f, n_dup = add_duplicates(rng, events.iloc[pos].reset_index(drop=True), 0.004)
        d = _json_dialect(dialect_rng, D.MINIAPP_EVENTS, list(f.columns))
        fields = {c: f[c] for c in f.columns}
        fields["ts"] = D.json_time(window, f["ts"], d["time_unit"])
        name = f"miniapp_events_{part}.jsonl"
        written[name] = write_lines(D.render_json(fields, d, D.MINIAPP_EVENTS), out / name)
        noise[name] = {
            "duplicate_rows": n_dup,
            "garbage_rows": 0,
            "time_order": "not sorted",
            "dialect": d,
        }
    happened = pd.concat(seen, ignore_index=True)
    return written, happened
