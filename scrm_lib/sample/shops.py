"""Shop exports: Tmall CSV (GBK), Douyin xlsx by quarter, Youzan CSV (UTF-8 BOM).

Each file is written in a dialect drawn for it (:mod:`.dialects`): column
aliases, hidden and added columns, column order, title row, encoding and
time format vary from file to file as they do between shops and export dates.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from scrm_lib.sample import dialects as D
from scrm_lib.sample import orders as O
from scrm_lib.sample import vocab
from scrm_lib.sample.files import (
    EXCEL_MAX_DATA_ROWS,
    add_duplicates,
    garbage_count,
    money,
    write_csv,
)
from scrm_lib.sample.ids import as_str, increasing_ids
from scrm_lib.sample.timeline import DAY, Window
from scrm_lib.sample.xlsx import write as write_xlsx

log = logging.getLogger(__name__)
TITLES = O.SKU["title"].to_numpy(dtype=object)


def assign_order_ids(rng: np.random.Generator, orders: pd.DataFrame, window: Window) -> None:
    """Platform order numbers in each platform's shape (in place: ``order_no``)."""
    plat = orders["platform"].to_numpy()
    no = np.empty(len(orders), dtype=object)
    for name, base in (("tmall", 3_600_000_000_000_000_000), ("douyin", 6_910_000_000_000_000_000)):
        sel = plat == name
        # Gaps of >= 10 leave room for sub-order ids (main + 1..3) and garbage ids (+7).
        no[sel] = as_str(increasing_ids(rng, int(sel.sum()), base, 10)).to_numpy(dtype=object)
    for name, prefix in (("youzan", "E"), ("wechat", "WX")):
        sel = np.flatnonzero(plat == name)
        stamp = window.local_text(orders["created"].to_numpy()[sel], "compact")
        seq = pd.Series(np.arange(len(sel)) % 10**7).astype(str).str.zfill(8)
        if name == "wechat":
            stamp = pd.Series(stamp).str.slice(0, 8).to_numpy()
            seq = seq.str.zfill(10)
        no[sel] = prefix + stamp + seq.to_numpy(dtype=object)
    orders["order_no"] = no


def _segments(window: Window, months: int, overlap_days: int) -> list[tuple[int, int]]:
    """Export ranges ``[lo, hi)`` in seconds; each starts ``overlap_days`` before the last ended."""
    out = []
    lo = window.start
    while lo <= window.end:
        hi = min(lo + pd.DateOffset(months=months), window.end + pd.Timedelta(days=1))
        a = max(window.offset(lo) - overlap_days * DAY, 0) if out else 0
        out.append((a, window.offset(hi)))
        lo = hi
    return out


def _range_name(window: Window, lo: int, hi: int) -> str:
    a, b = window.local_text(np.array([lo, hi - DAY]), "date")
    return a.replace("-", "") + "_" + b.replace("-", "")


def _titles(o: pd.DataFrame, sep: str) -> pd.Series:
    out = pd.Series(TITLES[o["sku0"].to_numpy()])
    for j in (1, 2):
        s = o[f"sku{j}"].to_numpy()
        out = out + np.where(s >= 0, sep + TITLES[np.maximum(s, 0)], "")
    return out


# ---------------------------------------------------------------- Tmall
TMALL_STATUS = {
    O.PENDING: "等待买家付款",
    O.PAID: "买家已付款",
    O.SHIPPED: "卖家已发货",
    O.DONE: "交易成功",
    O.CLOSED: "交易关闭",
    O.REFUNDED: "交易关闭",
}


TMALL_HEADER = [
    "订单编号",
    "买家会员名",
    "买家支付宝账号",
    "买家应付货款",
    "买家应付邮费",
    "总金额",
    "买家实际支付金额",
    "订单状态",
    "买家留言",
    "收货人姓名",
    "收货地址",
    "联系手机",
    "订单创建时间",
    "订单付款时间",
    "宝贝标题",
    "宝贝种类",
    "宝贝总数量",
    "店铺名称",
    "退款金额",
    "订单备注",
]
TIME_FORMAT_NAMES = {
    "iso": "YYYY-MM-DD HH:MM:SS",
    "slash": "YYYY/MM/DD HH:MM",
    "slash_s": "YYYY/MM/DD HH:MM:SS",
    "cn": "YYYY年MM月DD日 HH:MM:SS",
}


def _tmall_status(o: pd.DataFrame, when: int) -> np.ndarray:
    code = O.status_at(o, when)
    # While a refund is pending Tmall still shows the delivery status.
    base = np.where(
        o["done_at"].to_numpy() <= when,
        O.DONE,
        np.where(o["ship_at"].to_numpy() <= when, O.SHIPPED, O.PAID),
    )
    code = np.where(code == O.REFUNDING, base, code)
    return code


def _dialect(rng, spec: D.TableSpec, columns: list[str]) -> dict:
    return D.choose_table(rng, spec, columns) if rng is not None else D.documented(spec)


def write_tmall(
    rng, orders, accounts, window, out: Path, noise: dict, dialect_rng=None
) -> dict[str, int]:
    t = orders[orders["platform"] == "tmall"]
    acc = accounts
    written = {}
    segs = _segments(window, 6, 30)
    for k, (lo, hi) in enumerate(segs):
        o = t[(t["created"] >= lo) & (t["created"] < hi)]
        when = hi
        code = _tmall_status(o, when)
        paid = o["paid_at"].to_numpy() <= when
        d = _dialect(dialect_rng, D.TMALL, TMALL_HEADER)
        fmt = d["time_format"]
        row = o["account_row"].to_numpy()
        total = o["goods"].to_numpy() + o["shipping"].to_numpy()
        refunded = code == O.REFUNDED
        pay_text = pd.Series(window.local_text(np.where(paid, o["paid_at"].to_numpy(), 0), fmt))
        n = len(o)
        df = pd.DataFrame(
            {
                "订单编号": ('="' + o["order_no"].astype(str) + '"').to_numpy(),
                "买家会员名": acc["native_id"].to_numpy()[row],
                "买家支付宝账号": acc["alipay_masked"].to_numpy()[row],
                "买家应付货款": money(o["goods"]).to_numpy(),
                "买家应付邮费": money(o["shipping"]).to_numpy(),
                "总金额": money(total).to_numpy(),
                "买家实际支付金额": money(np.where(paid, total, 0)).to_numpy(),
                "订单状态": pd.Series(code).map(TMALL_STATUS).to_numpy(),
                "买家留言": np.array(vocab.TMALL_MESSAGES, dtype=object)[
                    rng.integers(0, len(vocab.TMALL_MESSAGES), n)
                ],
                "收货人姓名": acc["display_name"].to_numpy()[row],
                "收货地址": (
                    acc["province"].to_numpy()[row]
                    + " "
                    + acc["city"].to_numpy()[row]
                    + " "
                    + acc["district"].to_numpy()[row]
                    + " "
                    + acc["address"].to_numpy()[row]
                ),
                "联系手机": acc["shown_masked"].to_numpy()[row],
                "订单创建时间": window.local_text(o["created"].to_numpy(), fmt),
                "订单付款时间": pay_text.where(paid, "").to_numpy(),
                "宝贝标题": _titles(o, "，").to_numpy(),
                "宝贝种类": o["n_lines"].to_numpy(),
                "宝贝总数量": o["qty_total"].to_numpy(),
                "店铺名称": vocab.SHOP_NAMES["tmall"],
                "退款金额": money(np.where(refunded, o["refund_fee"].to_numpy(), 0)).to_numpy(),
                "订单备注": np.array(vocab.TMALL_REMARKS, dtype=object)[
                    rng.integers(0, len(vocab.TMALL_REMARKS), n)
                ],
            }
        )
        # Exports list the newest orders first.
        df = df.iloc[::-1].reset_index(drop=True)
        df, n_garbage = _tmall_garbage(rng, df, o)
        df, n_dup = add_duplicates(rng, df, 0.003)
        if d["unwrap_ids"]:
            df["订单编号"] = df["订单编号"].str.slice(2, -1)
        name = f"tmall_orders_{_range_name(window, lo, hi)}.csv"
        written[name] = write_csv(D.apply_table(df, d), out / name, d["encoding"])
        noise[name] = {
            "duplicate_rows": n_dup,
            "garbage_rows": n_garbage,
            "time_format": TIME_FORMAT_NAMES[fmt],
            "status_as_of": str(window.local_text(np.array([hi]), "date")[0]),
            "overlaps_previous_days": 30 if k else 0,
            "dialect": d,
        }
    return written


def _tmall_garbage(rng, df: pd.DataFrame, o: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    k = min(garbage_count(len(df)), len(df))
    if k == 0:
        return df, 0
    pick = rng.choice(len(df), size=k, replace=False)
    bad = df.iloc[pick].copy()
    # Fresh order numbers (ids leave gaps of >= 10), so a bad row never shadows a real order.
    num = bad["订单编号"].str.slice(2, -1).astype("int64") + 7
    bad["订单编号"] = '="' + num.astype(str) + '"'
    which = np.arange(k) % 2 == 0
    bad.loc[which, "买家实际支付金额"] = np.array(["--", "N/A", "待定"], dtype=object)[
        np.arange(int(which.sum())) % 3
    ]
    # not 0000-00-00 00:00:00: ingest may read that sentinel as "no time"
    bad.loc[~which, "订单创建时间"] = np.array(["2025-13-45 25:61:00", "未知", "--"], dtype=object)[
        np.arange(int((~which).sum())) % 3
    ]
    at = np.sort(rng.choice(len(df) + 1, size=k, replace=True))
    parts, prev = [], 0
    for i, a in enumerate(at):
        parts.append(df.iloc[prev:a])
        parts.append(bad.iloc[i : i + 1])
        prev = a
    parts.append(df.iloc[prev:])
    return pd.concat(parts, ignore_index=True), k


# ---------------------------------------------------------------- Douyin
DOUYIN_STATUS = {
    O.PENDING: "待支付",
    O.PAID: "待发货",
    O.SHIPPED: "已发货",
    O.DONE: "已完成",
    O.CLOSED: "已关闭",
}
DOUYIN_HEADER = [
    "主订单编号",
    "子订单编号",
    "选购商品",
    "商品规格",
    "商品数量",
    "商品ID",
    "商品单价",
    "订单应付金额",
    "运费",
    "支付方式",
    "收件人",
    "收件人手机号",
    "省",
    "市",
    "区",
    "详细地址",
    "买家留言",
    "订单提交时间",
    "支付完成时间",
    "订单完成时间",
    "订单状态",
    "售后状态",
    "达人ID",
    "达人昵称",
    "流量来源",
]
DOUYIN_NUMERIC = frozenset({"商品数量", "商品单价", "订单应付金额", "运费"})
PRODUCT_IDS = (3_580_000_000_000_000_000 + np.arange(len(O.SKU)) * 7_919_113).astype(str)
INFLUENCER_IDS = (71_000_000_000 + np.arange(len(vocab.INFLUENCER_NAMES)) * 97_331).astype(str)


def douyin_lines(rng, orders: pd.DataFrame, accounts: pd.DataFrame, window: Window) -> pd.DataFrame:
    """One row per Douyin sub-order, values as the shop export shows them at the window end."""
    o = orders[orders["platform"] == "douyin"].reset_index(drop=True)
    n = len(o)
    when = window.seconds
    code = O.status_at(o, when)
    status = pd.Series(O.delivery_status_at(o, when)).map(DOUYIN_STATUS).to_numpy()
    after = np.select([code == O.REFUNDED, code == O.REFUNDING], ["退款成功", "退款中"], "")
    src = rng.choice(len(vocab.DOUYIN_SOURCES), size=n, p=vocab.DOUYIN_SOURCE_WEIGHTS)
    w = 1.0 / np.arange(1, len(vocab.INFLUENCER_NAMES) + 1) ** 1.2
    inf = rng.choice(len(w), size=n, p=w / w.sum())
    has_inf = src <= 1  # live stream and short video sell through an influencer
    paid = o["paid_at"].to_numpy() <= when
    done = o["done_at"].to_numpy() <= when
    pay_method = np.array(vocab.DOUYIN_PAYMENT, dtype=object)[rng.integers(0, 4, n)]
    row = o["account_row"].to_numpy()
    per_order = pd.DataFrame(
        {
            "main": o["order_no"].to_numpy(),
            "created": o["created"].to_numpy(),
            "支付方式": np.where(paid, pay_method, ""),
            "收件人": accounts["display_name"].to_numpy()[row],
            "收件人手机号": accounts["shown_masked"].to_numpy()[row],
            "省": accounts["province"].to_numpy()[row],
            "市": accounts["city"].to_numpy()[row],
            "区": accounts["district"].to_numpy()[row],
            "详细地址": accounts["address"].to_numpy()[row],
            "买家留言": np.where(rng.random(n) < 0.1, "尽快发货", ""),
            # seconds here; each file spells them in its own time format
            "订单提交时间": o["created"].to_numpy(),
            "支付完成时间": np.where(paid, o["paid_at"].to_numpy(), -1),
            "订单完成时间": np.where(done, o["done_at"].to_numpy(), -1),
            "订单状态": status,
            "售后状态": after,
            "达人ID": np.where(has_inf, INFLUENCER_IDS[inf], ""),
            "达人昵称": np.where(has_inf, np.array(vocab.INFLUENCER_NAMES, dtype=object)[inf], ""),
            "流量来源": np.array(vocab.DOUYIN_SOURCES, dtype=object)[src],
            "shipping": o["shipping"].to_numpy(),
        }
    )
    lines = O.order_lines(per_order, o)
    main = lines["main"].astype("int64").to_numpy()
    lines["sub"] = as_str(main + 1 + lines["j"].to_numpy()).to_numpy()
    lines = lines.sort_values(
        ["created", "main", "j"], ascending=[False, True, True], kind="stable"
    ).reset_index(drop=True)
    return lines


def _spec(qty: np.ndarray) -> np.ndarray:
    return np.where(qty > 1, "超值装", "标准装")


def _douyin_files(lines: pd.DataFrame, window: Window, max_rows: int) -> list[tuple[int, int]]:
    """Quarter ranges, cut further by whole days when a quarter would overflow a sheet."""
    ranges = []
    q = window.start
    while q <= window.end:
        nxt = min(
            (q + pd.offsets.QuarterBegin(startingMonth=1)).normalize(),
            window.end + pd.Timedelta(days=1),
        )
        lo, hi = window.offset(q), window.offset(nxt)
        created = lines["created"].to_numpy()
        per_day = np.bincount(
            ((created[(created >= lo) & (created < hi)] - lo) // DAY), minlength=(hi - lo) // DAY
        )
        start_day, acc = 0, 0
        for d, c in enumerate(per_day):
            if acc + c > max_rows and acc > 0:
                ranges.append((lo + start_day * DAY, lo + d * DAY))
                start_day, acc = d, 0
            acc += c
        ranges.append((lo + start_day * DAY, hi))
        q = nxt
    return ranges


_DOUYIN_TIMES = ("订单提交时间", "支付完成时间", "订单完成时间")


def _douyin_frame(L: pd.DataFrame, as_text: bool, window: Window, fmt: str) -> pd.DataFrame:
    """The sheet's columns; numbers as numbers, or as text in some exports."""

    def num(fen):
        return money(fen).to_numpy(dtype=object) if as_text else np.asarray(fen) / 100

    df = pd.DataFrame(
        {
            "主订单编号": L["main"].to_numpy(dtype=object),
            "子订单编号": L["sub"].to_numpy(dtype=object),
            "选购商品": TITLES[L["sku"].to_numpy()],
            "商品规格": _spec(L["qty"].to_numpy()),
            "商品数量": L["qty"].astype(str).to_numpy(dtype=object)
            if as_text
            else L["qty"].to_numpy(),
            "商品ID": PRODUCT_IDS[L["sku"].to_numpy()].astype(object),
            "商品单价": num(L["price"]),
            "订单应付金额": num(L["amount"]),
            "运费": num(L["ship"]),
        }
    )
    for c in _DOUYIN_TIMES:
        t = L[c].to_numpy()
        df[c] = np.where(t >= 0, window.local_text(np.maximum(t, 0), fmt), "").astype(object)
    for c in DOUYIN_HEADER:
        if c not in df.columns:
            df[c] = L[c].to_numpy(dtype=object)
    return df[DOUYIN_HEADER]


def write_douyin(
    rng,
    orders,
    accounts,
    window,
    out: Path,
    noise: dict,
    max_rows: int = EXCEL_MAX_DATA_ROWS - 1,
    dialect_rng=None,
    influencers: list | None = None,
) -> dict[str, int]:
    lines = douyin_lines(rng, orders, accounts, window)
    if influencers is not None:  # the truth needs each order's 达人 (drawn here, per export)
        influencers.append(lines[["main", "达人ID"]].drop_duplicates("main"))
    written = {}
    for k, (lo, hi) in enumerate(_douyin_files(lines, window, max_rows)):
        sel = (lines["created"] >= lo) & (lines["created"] < hi)
        L = lines[sel].reset_index(drop=True)
        dates = window.local_text(np.array([lo, hi - DAY]), "date")
        d = _dialect(dialect_rng, D.DOUYIN, DOUYIN_HEADER)
        if dialect_rng is None:  # the documented files: every other one under a title
            d["title"] = k % 2 == 1
        title = f"抖店订单导出 {dates[0]} 至 {dates[1]}" if d["title"] else None
        sheet = d["encoding"] == "xlsx"
        as_text = k % 3 == 2 or not sheet  # some exports carry numbers as text; CSV always
        df = _douyin_frame(L, as_text, window, d["time_format"])
        n_garbage = min(garbage_count(len(df)), len(df))
        if n_garbage:
            bad = df.iloc[rng.choice(len(df), size=n_garbage, replace=False)].copy()
            main = bad["主订单编号"].astype("int64") + 7  # ids leave gaps: never a real order
            bad["主订单编号"] = main.astype(str).to_numpy(dtype=object)
            bad["子订单编号"] = (main + 1).astype(str).to_numpy(dtype=object)
            half = np.arange(n_garbage) % 2 == 0
            bad["订单应付金额"] = bad["订单应付金额"].astype(object)
            bad.loc[half, "订单应付金额"] = "--"
            bad.loc[~half, "订单提交时间"] = "无效日期"
            df = pd.concat([df.astype({"订单应付金额": object}), bad], ignore_index=True)
        df, n_dup = add_duplicates(rng, df, 0.002)
        df = D.apply_table(df, d)
        header = list(df.columns)
        name = f"douyin_orders_{_range_name(window, lo, hi)}." + ("xlsx" if sheet else "csv")
        if sheet:
            numeric = {d["rename"].get(c, c) for c in DOUYIN_NUMERIC} & set(header)
            written[name] = write_xlsx(
                out / name,
                header,
                [df[c].to_numpy() for c in header],
                title,
                sheet="订单",
                numeric=frozenset() if as_text else frozenset(numeric),
            )
        else:
            written[name] = write_csv(df, out / name, d["encoding"], title=title)
        noise[name] = {
            "duplicate_rows": int(n_dup),
            "garbage_rows": int(n_garbage),
            "title_row": title is not None,
            "numbers_as_text": as_text,
            "time_format": TIME_FORMAT_NAMES[d["time_format"]],
            "status_as_of": str(window.end.date()),
            "dialect": d,
        }
        log.debug("wrote %s (%d rows)", name, written[name])
    return written


# ---------------------------------------------------------------- Youzan
YOUZAN_STATUS = {
    O.PENDING: "待付款",
    O.PAID: "待发货",
    O.SHIPPED: "已发货",
    O.DONE: "交易成功",
    O.CLOSED: "已关闭",
}
YOUZAN_HEADER = [
    "订单号",
    "订单状态",
    "订单创建时间",
    "买家付款时间",
    "商品名称",
    "商品数量",
    "订单实付金额",
    "收货人/提货人",
    "收货人手机号/提货人手机号",
    "买家手机号",
    "粉丝昵称",
    "订单来源",
    "退款状态",
]
_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def spell_phones(rng: np.random.Generator, phone: np.ndarray) -> np.ndarray:
    """The same mobile number in the spellings people and forms produce."""
    s = pd.Series(phone, dtype="str")
    a, b, c = s.str.slice(0, 3), s.str.slice(3, 7), s.str.slice(7, 11)
    k = rng.choice(5, size=len(s), p=[0.4, 0.15, 0.15, 0.15, 0.15])
    forms = [
        s,
        "+86 " + a + " " + b + " " + c,
        "86-" + a + "-" + b + "-" + c,
        a + "-" + b + "-" + c,
        s.str.translate(_FULLWIDTH),
    ]
    out = forms[0].to_numpy(dtype=object).copy()
    for i in range(1, 5):
        out[k == i] = forms[i].to_numpy(dtype=object)[k == i]
    return out


def write_youzan(
    rng, orders, accounts, window, out: Path, noise: dict, dialect_rng=None
) -> dict[str, int]:
    y = orders[orders["platform"] == "youzan"]
    when = window.seconds
    written = {}
    for lo, hi in _segments(window, 6, 0):
        o = y[(y["created"] >= lo) & (y["created"] < hi)]
        d = _dialect(dialect_rng, D.YOUZAN, YOUZAN_HEADER)
        fmt = d["time_format"]
        n = len(o)
        code = O.status_at(o, when)
        status = pd.Series(O.delivery_status_at(o, when)).map(YOUZAN_STATUS).to_numpy()
        paid = o["paid_at"].to_numpy() <= when
        row = o["account_row"].to_numpy()
        phone = accounts["phone"].to_numpy()[row]
        recv = np.where(accounts["test_phone"].to_numpy()[row], vocab.TEST_PHONE, phone)
        df = pd.DataFrame(
            {
                "订单号": o["order_no"].to_numpy(),
                "订单状态": status,
                "订单创建时间": window.local_text(o["created"].to_numpy(), fmt),
                "买家付款时间": np.where(
                    paid, window.local_text(np.where(paid, o["paid_at"], 0), fmt), ""
                ),
                "商品名称": _titles(o, ";").to_numpy(),
                "商品数量": o["qty_total"].to_numpy(),
                "订单实付金额": money(o["goods"].to_numpy() + o["shipping"].to_numpy()).to_numpy(),
                "收货人/提货人": accounts["display_name"].to_numpy()[row],
                "收货人手机号/提货人手机号": spell_phones(rng, recv),
                "买家手机号": spell_phones(rng, phone),
                "粉丝昵称": accounts["nickname"].to_numpy()[row],
                "订单来源": np.array(vocab.YOUZAN_SOURCES, dtype=object)[rng.integers(0, 4, n)],
                "退款状态": np.select(
                    [code == O.REFUNDED, code == O.REFUNDING], ["退款成功", "退款中"], ""
                ),
            }
        )
        k = min(garbage_count(n), n)
        if k:
            bad = df.iloc[rng.choice(n, size=k, replace=False)].copy()
            bad["订单号"] = bad["订单号"].str.slice(0, -8) + "9" + bad["订单号"].str.slice(-7)
            half = np.arange(k) % 2 == 0
            bad.loc[half, "订单实付金额"] = "N/A"
            bad.loc[~half, "订单创建时间"] = "--"
            df = pd.concat([df, bad], ignore_index=True)
        df, n_dup = add_duplicates(rng, df, 0.005)
        name = f"youzan_orders_{_range_name(window, lo, hi)}.csv"
        # the back office stamps the export date above the header
        title = f"有赞订单导出 {window.end.date()}" if d["title"] else None
        written[name] = write_csv(D.apply_table(df, d), out / name, d["encoding"], title=title)
        noise[name] = {
            "duplicate_rows": n_dup,
            "garbage_rows": k,
            "status_as_of": str(window.end.date()),
            "title_row": title is not None,
            "time_format": TIME_FORMAT_NAMES[fmt],
            "dialect": d,
        }
    return written
