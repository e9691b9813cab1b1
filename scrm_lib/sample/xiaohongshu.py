"""小红书 shop: who buys there, and the shop's order export (xlsx, one row per SKU line).

Xiaohongshu is a shop the brand sells on beside Tmall, Douyin and Youzan.
Rather than drawing a new platform into every person's account set (which
would re-draw every other file of a seed), :func:`move_orders` gives a
share of the shop buyers a Xiaohongshu account and moves part of their
shop orders there, about :data:`ORDER_SHARE` of all orders; the person, the
purchase moment and the basket stay what the simulation drew, so the truth
(churn, CLV, experiments) is unchanged. Mini-program orders stay where they
are: they carry group buys and events of the brand's own app.

The export (:func:`write`) follows ``docs/raw-formats.md`` §7: no buyer id,
so the account is keyed like ingest keys it
(:func:`scrm_lib.ingest.xiaohongshu.buyer_key` over 收件人, the masked
收件人手机号 and 详细地址).
"""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from scrm_lib.ingest.xiaohongshu import buyer_key
from scrm_lib.sample import orders as O
from scrm_lib.sample import vocab
from scrm_lib.sample.accounts import mask_phone, name_variants
from scrm_lib.sample.files import EXCEL_MAX_DATA_ROWS, add_duplicates, garbage_count
from scrm_lib.sample.ids import as_str, increasing_ids
from scrm_lib.sample.timeline import DAY, Window
from scrm_lib.sample.xlsx import write as write_xlsx

log = logging.getLogger(__name__)

PLATFORM = "xiaohongshu"
ORDER_SHARE = 0.10  # of all orders
BUYER_SHARE = 0.30  # of the persons who buy in a shop (Tmall, Douyin, Youzan)
SHOPS = ("tmall", "douyin", "youzan")
SOURCES = np.array(["笔记", "直播", "商品卡", "店铺", "搜索"], dtype=object)
SOURCE_WEIGHTS = [0.45, 0.2, 0.2, 0.1, 0.05]
STATUS = {
    O.PENDING: "待付款",
    O.PAID: "待发货",
    O.SHIPPED: "已发货",
    O.DONE: "已完成",
    O.CLOSED: "已取消",
}
HEADER = [
    "订单号",
    "订单状态",
    "售后状态",
    "下单时间",
    "支付时间",
    "发货时间",
    "完成时间",
    "商品ID",
    "SKU ID",
    "商品名称",
    "规格",
    "商品数量",
    "商品单价",
    "商品总价",
    "用户实付金额",
    "运费",
    "收件人",
    "收件人手机号",
    "省",
    "市",
    "区",
    "详细地址",
    "买家昵称",
    "用户备注",
    "渠道",
]
NUMERIC = frozenset({"商品数量", "商品单价", "商品总价", "用户实付金额", "运费"})
_SKU_IDS = pd.Series(np.arange(len(O.SKU)) * 7_919 + 0x65A0_0000).map("{:08x}".format)
PRODUCT_IDS = ("64f0" + _SKU_IDS.str.repeat(2) + "a1b2").to_numpy(dtype=object)
SKU_IDS = ("65" + _SKU_IDS).to_numpy(dtype=object)


def move_orders(
    rng: np.random.Generator, orders: pd.DataFrame, accounts: pd.DataFrame, people: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Open Xiaohongshu accounts for some shop buyers and move part of their orders there.

    Returns the orders (moved ones re-pointed, with ``P…`` order numbers) and
    the accounts with the new ones appended (earlier rows keep their index).
    """
    pidx = orders["person_idx"].to_numpy()
    shop = orders["platform"].isin(SHOPS).to_numpy()
    n_people = len(people)
    # a person has at most four accounts (the truth's contract): only those with room shop here
    n_acc = np.bincount(accounts["person_idx"].to_numpy(), minlength=n_people)
    buyer = (rng.random(n_people) < BUYER_SHARE) & (n_acc < 4)
    cand = shop & buyer[pidx]
    q = min(1.0, ORDER_SHARE * len(orders) / max(int(cand.sum()), 1))
    move = cand & (rng.random(len(orders)) < q)
    if not move.any():
        return orders, accounts

    who = np.unique(pidx[move])
    m = len(who)
    # the first moved order's account gives the person's shipping address and phone
    first = pd.Series(np.flatnonzero(move)).groupby(pidx[move]).first().reindex(who).to_numpy()
    tmpl = accounts.iloc[orders["account_row"].to_numpy()[first]].reset_index(drop=True)
    P = people.iloc[who].reset_index(drop=True)
    new = pd.DataFrame({c: tmpl[c].to_numpy() for c in accounts.columns})
    new["person_idx"] = who
    new["platform"] = PLATFORM
    new["display_name"] = name_variants(
        rng, P["surname"].to_numpy(dtype=object), P["given"].to_numpy(dtype=object)
    )
    test = rng.random(m) < 0.01
    new["test_phone"] = test
    new["shown_masked"] = np.where(
        test, mask_phone(np.full(m, vocab.TEST_PHONE)), mask_phone(new["phone"].to_numpy())
    )
    first_t = orders["created"].to_numpy()[first]
    new["created"] = np.maximum(first_t - rng.integers(600, 30 * DAY, m), 0)
    new["alipay_masked"] = None
    new["unionid"] = None
    new["contact_type"] = 0
    words = np.array(vocab.NICKNAME_WORDS, dtype=object)
    extras = np.array(vocab.NICKNAME_EXTRAS, dtype=object)
    new["nickname"] = (
        words[rng.integers(0, len(words), m)] + extras[rng.integers(0, len(extras), m)]
    )
    key = buyer_key(new["display_name"], new["shown_masked"], new["address"])
    dup = key.duplicated(keep="first").to_numpy()
    if dup.any():  # two people, one name, masked phone and address: move one
        new.loc[dup, "address"] = (
            new.loc[dup, "address"] + "（" + np.arange(dup.sum()).astype(str) + "）"
        )
        key = buyer_key(new["display_name"], new["shown_masked"], new["address"])
    new["native_id"] = key.to_numpy(dtype=object)
    new["account_id"] = PLATFORM + ":" + new["native_id"]

    rows = len(accounts) + np.arange(m)
    row_of = pd.Series(rows, index=who)
    out_acc = pd.concat([accounts, new[accounts.columns]], ignore_index=True)
    orders = orders.copy()
    sel = np.flatnonzero(move)
    acc_row = row_of.reindex(pidx[sel]).to_numpy()
    orders.loc[sel, "account_row"] = acc_row
    orders.loc[sel, "platform"] = PLATFORM
    orders.loc[sel, "account_id"] = out_acc["account_id"].to_numpy()[acc_row]
    # P + 18 digits; gaps of >= 10 leave room for garbage ids (+7)
    nums = as_str(increasing_ids(rng, len(sel), 731_000_000_000_000_000, 10)).to_numpy()
    orders.loc[sel, "order_no"] = "P" + nums.astype(object)
    log.info("xiaohongshu: %d accounts, %d orders", m, len(sel))
    return orders, out_acc


def lines(rng, orders: pd.DataFrame, accounts: pd.DataFrame, window: Window) -> pd.DataFrame:
    """One row per SKU line, values as the export shows them at the window end."""
    o = orders[orders["platform"] == PLATFORM].reset_index(drop=True)
    n = len(o)
    when = window.seconds
    code = O.status_at(o, when)
    shown = O.delivery_status_at(o, when)
    status = pd.Series(shown).map(STATUS).to_numpy()
    after = np.select(
        [code == O.REFUNDED, code == O.REFUNDING], ["售后完成", "售后处理中"], "无售后"
    )
    paid = o["paid_at"].to_numpy() <= when
    shipped = o["ship_at"].to_numpy() <= when
    done = o["done_at"].to_numpy() <= when

    def at(flag, t):
        return np.where(flag, window.local_text(np.where(flag, t, 0)), "")

    row = o["account_row"].to_numpy()
    per_order = pd.DataFrame(
        {
            "created": o["created"].to_numpy(),
            "订单号": o["order_no"].to_numpy(dtype=object),
            "订单状态": status,
            "售后状态": after,
            "下单时间": window.local_text(o["created"].to_numpy()),
            "支付时间": at(paid, o["paid_at"].to_numpy()),
            "发货时间": at(shipped, o["ship_at"].to_numpy()),
            "完成时间": at(done, o["done_at"].to_numpy()),
            "收件人": accounts["display_name"].to_numpy()[row],
            "收件人手机号": accounts["shown_masked"].to_numpy()[row],
            "省": accounts["province"].to_numpy()[row],
            "市": accounts["city"].to_numpy()[row],
            "区": accounts["district"].to_numpy()[row],
            "详细地址": accounts["address"].to_numpy()[row],
            "买家昵称": accounts["nickname"].to_numpy()[row],
            "用户备注": np.where(rng.random(n) < 0.08, "请尽快发货", ""),
            "渠道": SOURCES[rng.choice(len(SOURCES), size=n, p=SOURCE_WEIGHTS)],
            "shipping": o["shipping"].to_numpy(),
        }
    )
    out = O.order_lines(per_order, o)
    return out.sort_values(["created", "订单号", "j"], kind="stable").reset_index(drop=True)


def _frame(L: pd.DataFrame) -> pd.DataFrame:
    sku = L["sku"].to_numpy()
    qty = L["qty"].to_numpy()
    df = pd.DataFrame(
        {
            "商品ID": PRODUCT_IDS[sku],
            "SKU ID": SKU_IDS[sku],
            "商品名称": O.SKU["title"].to_numpy(dtype=object)[sku],
            "规格": np.where(qty > 1, "组合装", "单件"),
            "商品数量": qty,
            "商品单价": L["price"].to_numpy() / 100,
            "商品总价": L["price"].to_numpy() * qty / 100,
            "用户实付金额": L["amount"].to_numpy() / 100,
            "运费": L["ship"].to_numpy() / 100,
        }
    )
    for c in HEADER:
        if c not in df.columns:
            df[c] = L[c].to_numpy(dtype=object)
    return df[HEADER]


def _quarters(window: Window) -> list[tuple[int, int]]:
    edges = pd.date_range(window.start, window.end, freq="QS").union([window.start])
    bounds = [window.offset(e) for e in edges] + [window.offset(window.end + pd.Timedelta(days=1))]
    return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def write(
    rng,
    orders: pd.DataFrame,
    accounts: pd.DataFrame,
    window: Window,
    out: Path,
    noise: dict,
    max_rows: int = EXCEL_MAX_DATA_ROWS - 1,
) -> dict[str, int]:
    """Quarterly ``xiaohongshu_orders_<from>_<to>[_<part>].xlsx`` files; returns name → rows."""
    L = lines(rng, orders, accounts, window)
    written: dict[str, int] = {}
    created = L["created"].to_numpy()
    for lo, hi in _quarters(window):
        q = L[(created >= lo) & (created < hi)]
        if q.empty:
            continue
        dates = window.local_text(np.array([lo, hi - DAY]), "date")
        stem = "xiaohongshu_orders_" + dates[0].replace("-", "") + "_" + dates[1].replace("-", "")
        # leave room for garbage and duplicate rows within one sheet
        size = max(1, int(max_rows * 0.99) - 2)
        chunks = [q.iloc[i : i + size] for i in range(0, len(q), size)]
        for k, part in enumerate(chunks):
            df = _frame(part.reset_index(drop=True))
            n_bad = min(garbage_count(len(df)), len(df))
            if n_bad:
                bad = df.iloc[rng.choice(len(df), size=n_bad, replace=False)].copy()
                num = bad["订单号"].str.slice(1).astype("int64") + 7  # ids leave gaps of >= 10
                bad["订单号"] = ("P" + num.astype(str)).to_numpy(dtype=object)
                half = np.arange(n_bad) % 2 == 0
                df = df.astype({"用户实付金额": object})
                bad = bad.astype({"用户实付金额": object})
                bad.loc[half, "用户实付金额"] = "--"
                bad.loc[~half, "下单时间"] = "无效日期"
                df = pd.concat([df, bad], ignore_index=True)
            df, n_dup = add_duplicates(rng, df, 0.002)
            name = stem + (f"_{k + 1}" if len(chunks) > 1 else "") + ".xlsx"
            written[name] = write_xlsx(
                out / name, HEADER, [df[c].to_numpy() for c in HEADER], None, "订单", NUMERIC
            )
            noise[name] = {
                "duplicate_rows": int(n_dup),
                "garbage_rows": int(n_bad),
                "status_as_of": str(window.end.date()),
            }
    return written
