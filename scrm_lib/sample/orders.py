"""Orders from purchase moments: platform, items, money and status history.

An order carries its whole life as timestamps (created, paid, shipped,
completed, refund requested, refunded, closed), so that any export can show
the status as of its own export time: a Tmall file exported in May shows
卖家已发货 where the October re-export shows 交易成功 or a refund.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scrm_lib.sample import vocab
from scrm_lib.sample.accounts import ORDER_PLATFORMS
from scrm_lib.sample.timeline import DAY, Window

CATS = list(vocab.CATALOG)
SKU = pd.DataFrame(
    [
        (sku, title, cat, price)
        for cat, (_, items) in vocab.CATALOG.items()
        for sku, title, price in items
    ],
    columns=["sku", "title", "category", "price"],
)
SKU_CAT = SKU["category"].map({c: i for i, c in enumerate(CATS)}).to_numpy()
NEVER = np.iinfo("int64").max  # "has not happened" for a status timestamp

# Status codes as of an export moment.
PENDING, PAID, SHIPPED, DONE, CLOSED, REFUNDED, REFUNDING = range(7)


def orderable_accounts(accounts: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR layout of each person's order-taking accounts: (account rows, start, count)."""
    ok = accounts["platform"].isin(ORDER_PLATFORMS).to_numpy()
    rows = np.flatnonzero(ok)
    rows = rows[np.argsort(accounts["person_idx"].to_numpy()[rows], kind="stable")]
    n_persons = int(accounts["person_idx"].max()) + 1
    count = np.bincount(accounts["person_idx"].to_numpy()[rows], minlength=n_persons)
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    return rows, start, count


def _pick_account(rng, person_idx, rows, start, count, home):
    """Most orders go to the person's home shop, the rest anywhere they buy."""
    c = count[person_idx]
    anywhere = start[person_idx] + (rng.random(len(person_idx)) * c).astype("int64")
    at_home = start[person_idx] + home[person_idx]
    use_home = rng.random(len(person_idx)) < 0.72
    return rows[np.where(use_home, at_home, anywhere)]


def _items(rng, person_cat: np.ndarray, promo: np.ndarray):
    n = len(person_cat)
    n_lines = rng.choice(3, size=n, p=[0.72, 0.2, 0.08]) + 1
    sku = np.full((n, 3), -1, dtype="int64")
    qty = np.zeros((n, 3), dtype="int64")
    by_cat = [np.flatnonzero(c == SKU_CAT) for c in range(len(CATS))]
    n_in_cat = np.array([len(b) for b in by_cat])
    first_in_cat = np.array([b[0] for b in by_cat])
    for j in range(3):
        has = n_lines > j
        main = rng.random(n) < (0.75 if j == 0 else 0.25)
        cat = np.where(main, person_cat, rng.integers(0, len(CATS), n))
        pick = first_in_cat[cat] + (rng.random(n) * n_in_cat[cat]).astype("int64")
        sku[:, j] = np.where(has, pick, -1)
        qty[:, j] = np.where(has, rng.choice(3, size=n, p=[0.78, 0.17, 0.05]) + 1, 0)
    # A sub-order line never repeats the sku of an earlier line of the same order.
    for j in (1, 2):
        clash = (sku[:, j] >= 0) & ((sku[:, j] == sku[:, 0]) | (sku[:, j] == sku[:, j - 1]))
        sku[clash, j] = (sku[clash, j] + 1 + j) % len(SKU)
        clash = (sku[:, j] >= 0) & np.any(sku[:, :j] == sku[:, j : j + 1], axis=1)
        sku[clash, j], qty[clash, j] = -1, 0
    price = np.where(sku >= 0, SKU["price"].to_numpy()[np.maximum(sku, 0)], 0)
    factor = np.where(promo, 0.85, np.where(rng.random(n) < 0.1, 0.95, 1.0))
    line_amount = np.round(price * qty * factor[:, None]).astype("int64")
    return sku, qty, price, line_amount


def build_orders(
    rng: np.random.Generator,
    purchases: pd.DataFrame,
    persons: pd.DataFrame,
    accounts: pd.DataFrame,
    window: Window,
) -> pd.DataFrame:
    """One row per order with account, items (3 slots), money in fen and status times."""
    rows, start, count = orderable_accounts(accounts)
    home = (rng.random(len(persons)) * np.maximum(count, 1)).astype("int64")
    pidx = purchases["person_idx"].to_numpy()
    acc_row = _pick_account(rng, pidx, rows, start, count, home)
    n = len(pidx)
    created = purchases["t"].to_numpy().astype("int64")

    days = pd.date_range(window.start, window.end, freq="D")
    promo_day = ((days.month == 6) & (days.day <= 18)) | ((days.month == 11) & (days.day <= 11))
    promo = np.asarray(promo_day)[np.clip(created // DAY, 0, window.days - 1)]
    person_cat = (
        pd.Series(persons["category"].to_numpy()[pidx])
        .map({c: i for i, c in enumerate(CATS)})
        .to_numpy()
    )
    sku, qty, price, line_amount = _items(rng, person_cat, promo)
    goods = line_amount.sum(axis=1)
    shipping = np.where(rng.random(n) < 0.85, 0, rng.choice([600, 800, 1000], size=n))

    fate = rng.random(n)
    cancelled = fate < 0.045
    refunded = (fate >= 0.045) & (fate < 0.11)
    paid_at = np.where(cancelled, NEVER, created + rng.integers(10, 1800, n))
    closed_at = np.where(
        cancelled, created + np.where(rng.random(n) < 0.5, DAY, rng.integers(60, 7200, n)), NEVER
    )
    ship_at = paid_at + rng.integers(DAY // 5, 3 * DAY, n)
    done_at = ship_at + rng.integers(3 * DAY, 10 * DAY, n)
    before_ship = refunded & (rng.random(n) < 0.4)
    refund_at = np.where(
        before_ship, paid_at + rng.integers(3600, DAY, n), done_at + rng.integers(DAY, 7 * DAY, n)
    )
    refund_at = np.where(refunded, refund_at, NEVER)
    request_at = np.where(refunded, refund_at - rng.integers(3600, 3 * DAY, n), NEVER)
    request_at = np.where(refunded, np.maximum(request_at, paid_at + 60), NEVER)
    ship_at = np.where(cancelled | before_ship, NEVER, ship_at)
    done_at = np.where(cancelled | before_ship, NEVER, done_at)
    paid_total = goods + shipping
    partial = refunded & (rng.random(n) < 0.2)
    refund_fee = np.where(
        refunded,
        np.where(partial, (paid_total * rng.uniform(0.3, 0.7, n)).astype("int64"), paid_total),
        0,
    )

    out = pd.DataFrame(
        {
            "person_idx": pidx,
            "account_row": acc_row,
            "platform": accounts["platform"].to_numpy()[acc_row],
            "account_id": accounts["account_id"].to_numpy()[acc_row],
            "created": created,
            "paid_at": paid_at,
            "ship_at": ship_at,
            "done_at": done_at,
            "closed_at": closed_at,
            "request_at": request_at,
            "refund_at": refund_at,
            "goods": goods,
            "shipping": shipping,
            "refund_fee": refund_fee,
            "n_lines": (sku >= 0).sum(axis=1),
            "qty_total": qty.sum(axis=1),
            "category": SKU["category"].to_numpy()[sku[:, 0]],
            "channel_code": persons["channel_code"].to_numpy()[pidx],
        }
    )
    for j in range(3):
        out[f"sku{j}"] = sku[:, j]
        out[f"qty{j}"] = qty[:, j]
        out[f"price{j}"] = price[:, j]
        out[f"amount{j}"] = line_amount[:, j]
    return out.sort_values("created", kind="stable").reset_index(drop=True)


def order_lines(per_order: pd.DataFrame, orders: pd.DataFrame) -> pd.DataFrame:
    """One row per order line: ``per_order``'s columns repeated for each of an order's
    (up to three) SKUs, with the line number ``j``, ``sku``, ``qty``, ``price``,
    ``amount`` and ``ship`` (the order's shipping, on its first line only)."""
    parts = []
    for j in range(3):
        sku = orders[f"sku{j}"].to_numpy()
        has = sku >= 0
        p = per_order[has].copy()
        p["j"] = j
        p["sku"] = sku[has]
        p["qty"] = orders[f"qty{j}"].to_numpy()[has]
        p["price"] = orders[f"price{j}"].to_numpy()[has]
        p["amount"] = orders[f"amount{j}"].to_numpy()[has]
        p["ship"] = p["shipping"].to_numpy() if j == 0 else 0
        parts.append(p)
    return pd.concat(parts, ignore_index=True)


def status_at(orders: pd.DataFrame, when: int) -> np.ndarray:
    """Status code of every order as an export made at ``when`` would show it."""
    o = orders
    code = np.full(len(o), PENDING)
    code = np.where(o["paid_at"].to_numpy() <= when, PAID, code)
    code = np.where(o["ship_at"].to_numpy() <= when, SHIPPED, code)
    code = np.where(o["done_at"].to_numpy() <= when, DONE, code)
    code = np.where(o["request_at"].to_numpy() <= when, REFUNDING, code)
    code = np.where(o["refund_at"].to_numpy() <= when, REFUNDED, code)
    code = np.where(o["closed_at"].to_numpy() <= when, CLOSED, code)
    return code


def delivery_status_at(orders: pd.DataFrame, when: int) -> np.ndarray:
    """``status_at``, with refunds shown as the delivery state they happened in.

    Shop exports (Douyin, Youzan, Xiaohongshu) keep the order's delivery
    status and report a refund in a separate after-sale column.
    """
    code = status_at(orders, when)
    base = np.where(
        orders["done_at"].to_numpy() <= when,
        DONE,
        np.where(
            orders["ship_at"].to_numpy() <= when,
            SHIPPED,
            np.where(orders["paid_at"].to_numpy() <= when, PAID, CLOSED),
        ),
    )
    return np.where(np.isin(code, [REFUNDED, REFUNDING]), base, code)


def truth_status(code: np.ndarray) -> np.ndarray:
    """Canonical status (paid / refunded / cancelled / pending) of a status code."""
    names = np.array(
        ["pending", "paid", "paid", "paid", "cancelled", "refunded", "paid"], dtype=object
    )
    return names[code]
