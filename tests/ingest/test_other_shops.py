"""Exports written by other shops' tools: other field names, units, column order, extras.

Every file here is hand-made to differ from the sample generator (issue 13,
findings 3 and 4): a mini-program order file with ``order_id`` /
``amount_fen`` / ``paid_at`` in unix ms and no status, events with
``properties`` and ``add_to_cart``, a Douyin export without 详细地址.
"""

from __future__ import annotations

import json
from pathlib import Path

import ibis
import pandas as pd
import pytest

from scrm_lib.ingest import detect_format, parse_file
from scrm_lib.ingest.keys import douyin_buyer_key
from scrm_lib.ingest.units import guess_money_unit, header_money_unit, unix_units
from scrm_lib.ingest.vocabulary import canonical_event_types, canonical_property_names
from tests.ingest.conftest import reconciles, write_csv, write_jsonl

MS = 1735689600000  # 2025-01-01 00:00 UTC


def _ts(ms: int) -> pd.Timestamp:
    return pd.Timestamp(ms, unit="ms", tz="UTC")


# ------------------------------------------------------------------ finding 3: orders


def test_miniapp_orders_with_other_names_fen_ms_and_no_status(tmp_path: Path) -> None:
    recs = [
        # keys in another order than the generator's, an extra key, no create time, no status
        {"amount_fen": 9900, "paid_at": MS, "openid": "oA1", "order_id": "T1", "coupon": "C9"},
        {"order_id": "T2", "openid": "oA2", "paid_at": MS + 1000, "amount_fen": 12345},
        {"order_id": "T3", "openid": "oA3", "paid_at": None, "amount_fen": 500},  # no time at all
        {"order_id": "T4", "openid": "oA4", "paid_at": MS, "amount_fen": "abc"},  # dirty
        {"order_id": "T5", "openid": "", "paid_at": MS, "amount_fen": 100},  # no account
    ]
    path = write_jsonl(tmp_path / "mp_orders_export.jsonl", recs)
    assert detect_format(path) == "miniapp_orders"
    pf = parse_file(path)
    reconciles(pf)
    assert (pf.rows_in, pf.accepted, pf.rejected) == (5, 2, 3)
    o = pf.tables["orders"].set_index("order_id")
    assert o.loc["T1", "amount"] == 99.0 and o.loc["T2", "amount"] == 123.45  # fen -> yuan
    assert o.loc["T1", "paid_at"] == _ts(MS) == o.loc["T1", "created_at"]
    assert o["status"].tolist() == ["paid", "paid"]  # a pay time and no status: paid
    assert o.loc["T1", "account_id"] == "wechat:oA1"
    assert json.loads(o.loc["T1", "extras"]) == {"coupon": "C9"}
    assert pd.isna(o.loc["T2", "extras"])
    rj = pf.rejects.set_index("line")
    assert rj.loc[3, "column"] == "paid_at" and rj.loc[3, "reason"] == "missing value"
    assert rj.loc[4, "column"] == "amount_fen" and rj.loc[4, "raw_value"] == "abc"
    assert rj.loc[5, "column"] == "openid"


@pytest.mark.parametrize(
    ("header", "values", "expected"),
    [
        ("amount", [99.0, 128.5], [99.0, 128.5]),  # decimals: yuan
        ("amount", [9900, 12850], [99.0, 128.5]),  # whole numbers, median >= 1000: fen
        ("pay_amount", ["99.00", "128.50"], [99.0, 128.5]),  # written with a point: yuan
        ("total_fee", [99, 12850], [0.99, 128.5]),  # WeChat Pay's field is always fen
        ("amount_yuan", [9900, 12850], [9900.0, 12850.0]),  # the header says yuan
    ],
)
def test_miniapp_order_amount_units(tmp_path: Path, header, values, expected) -> None:
    recs = [
        {"orderId": f"U{i}", "openid": f"o{i}", "createTime": MS // 1000, header: v}
        for i, v in enumerate(values)
    ]
    pf = parse_file(write_jsonl(tmp_path / "orders.jsonl", recs), preset="miniapp_orders")
    reconciles(pf)
    assert pf.rejected == 0
    o = pf.tables["orders"]
    assert o["amount"].tolist() == expected
    assert (o["created_at"] == _ts(MS)).all()  # unix seconds told from ms by magnitude


def test_declared_units_in_a_user_preset(tmp_path: Path) -> None:
    preset = tmp_path / "acme.toml"
    preset.write_text(
        """
name = "acme_mp_orders"
adapter = "wechat"
kind = "orders"
platform = "wechat"
readers = ["jsonl"]
required = ["order_id", "openid", "created_at", "amount"]
[columns]
order_id = "no"
openid = "uid"
created_at = "t"
amount = "money"
[units]
money = "fen"
t = "utc"
""",
        encoding="utf-8",
    )
    recs = [{"no": "A", "uid": "o1", "t": "2025-01-01 08:00:00", "money": 99}]
    pf = parse_file(write_jsonl(tmp_path / "a.jsonl", recs), preset=str(preset))
    o = pf.tables["orders"]
    assert o["amount"].tolist() == [0.99]
    assert o["created_at"].iloc[0] == pd.Timestamp("2025-01-01 08:00", tz="UTC")  # not +08:00


# ------------------------------------------------------------------ finding 3: events


def test_events_with_properties_and_other_event_names(tmp_path: Path) -> None:
    recs = [
        {"event_name": "add_to_cart", "openid": "o1", "timestamp": MS, "properties": {"sku": "S1"}},
        {"event_name": "addToCart", "openid": "o1", "timestamp": MS + 1, "properties": {}},
        {"event_name": "加购", "openid": "o2", "timestamp": MS + 2},
        {"event_name": "search", "openid": "o2", "timestamp": MS + 3, "properties": {"kw": "面膜"}},
        {
            "event_name": "pay_success",
            "openid": "o2",
            "timestamp": MS + 4,
            "properties": {"orderId": "T9", "order_id": None},
        },
        {"event_name": "my_custom_event", "openid": "o3", "timestamp": MS + 5, "app": "v2"},
    ]
    path = write_jsonl(tmp_path / "tracking.jsonl", recs)
    assert detect_format(path) == "miniapp_events"
    pf = parse_file(path)
    reconciles(pf)
    assert pf.rejected == 0
    ev = pf.tables["events"]
    assert ev["type"].tolist() == [
        "cart_add",
        "cart_add",
        "cart_add",
        "search",
        "purchase",
        "my_custom_event",
    ]
    attrs = [json.loads(a) for a in ev["attributes"]]
    assert attrs[0] == {"sku": "S1"}
    assert attrs[3] == {"keyword": "面膜"}  # the search keyword is not lost
    assert attrs[4]["order_id"] == "T9"  # nor the order id
    assert json.loads(ev["extras"].iloc[5]) == {"app": "v2"}


def test_add_to_cart_is_counted_where_cart_add_is(tmp_path: Path) -> None:
    """Downstream: the churn features count ``cart_add``; a shop's ``add_to_cart`` lands there."""
    from scrm_lib.churn import features as F

    recs = [
        {"event": "add_to_cart", "openid": "o1", "ts": MS},
        {"event": "addcart", "openid": "o1", "ts": MS + 1},
        {"event": "page_view", "openid": "o1", "ts": MS + 2},
    ]
    pf = parse_file(write_jsonl(tmp_path / "miniapp_events.jsonl", recs))
    con = ibis.duckdb.connect()
    con.create_table("events", pf.tables["events"])
    con.create_table("accounts", pf.tables["accounts"])
    acts = F.activity_expr(con, MS // 1000 + 3600, {"open_settle_days": 3}).to_pandas()
    assert (acts["kind"] == F._EV["cart_add"]).sum() == 2


# ------------------------------------------------------------------ finding 4: douyin

DOUYIN_NO_ADDRESS = [
    "订单提交时间",
    "主订单编号",
    "收件人",
    "订单应付金额",
    "收件人手机号",
    "订单状态",
    "店铺备注",  # a column no preset knows
    "商品数量",
]


def test_douyin_without_address_loads_and_keeps_extras(tmp_path: Path) -> None:
    rows = [
        {
            "订单提交时间": "2025-02-01 20:00:00",
            "主订单编号": "6901",
            "收件人": "张三",
            "订单应付金额": "99.80",
            "收件人手机号": "139****1234",
            "订单状态": "已完成",
            "店铺备注": "VIP",
            "商品数量": "2",
        },
        {
            "订单提交时间": "2025-02-02 20:00:00",
            "主订单编号": "6902",
            "收件人": "",
            "订单应付金额": "10",
            "收件人手机号": "138****0000",
            "订单状态": "",  # empty status: no pay-time column, so paid
            "商品数量": "1",
        },
        {
            "订单提交时间": "2025-02-03 20:00:00",
            "主订单编号": "6903",
            "收件人": "",
            "订单应付金额": "10",
            "收件人手机号": "",
            "订单状态": "已完成",
            "商品数量": "1",
        },
    ]
    path = write_csv(tmp_path / "douyin_orders_feb.csv", DOUYIN_NO_ADDRESS, rows)
    assert detect_format(path) == "douyin_orders"
    pf = parse_file(path)
    reconciles(pf)
    assert (pf.rows_in, pf.accepted, pf.rejected) == (3, 2, 1)
    assert pf.rejects["line"].tolist() == [4] and pf.rejects["column"].iloc[0] == "收件人"
    o = pf.tables["orders"]
    key = douyin_buyer_key(pd.Series(["张三"]), pd.Series(["139****1234"]), pd.Series([None]))
    assert o["account_id"].iloc[0] == "douyin:" + key.iloc[0]
    assert o["amount"].tolist() == [99.8, 10.0] and o["status"].tolist() == ["paid", "paid"]
    assert json.loads(o["extras"].iloc[0]) == {"店铺备注": "VIP"}


def test_tmall_with_other_headers_and_no_create_time(tmp_path: Path) -> None:
    header = ["订单号", "实付款", "付款时间", "买家昵称", "交易状态", "数量"]
    rows = [
        {"订单号": "1", "实付款": "￥12.50", "付款时间": "2025/01/02 10:01", "买家昵称": "tb_a",
         "交易状态": "交易成功", "数量": "1"},
        {"订单号": "2", "实付款": "8", "付款时间": "", "买家昵称": "tb_b",
         "交易状态": "等待买家付款", "数量": "1"},
    ]  # fmt: skip
    path = write_csv(tmp_path / "export.csv", header, rows, encoding="gbk")
    assert detect_format(path) == "tmall_orders"
    pf = parse_file(path)
    reconciles(pf)
    # the unpaid order has no time at all: rejected, named by the pay-time header
    assert (pf.accepted, pf.rejected) == (1, 1)
    assert pf.rejects["column"].tolist() == ["付款时间"]
    o = pf.tables["orders"]
    assert o["created_at"].iloc[0] == pd.Timestamp("2025-01-02 02:01", tz="UTC")
    assert o["amount"].iloc[0] == 12.5


# ------------------------------------------------------------------ the tables behind it


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("add_to_cart", "cart_add"),
        ("addcart", "cart_add"),
        ("addToCart", "cart_add"),
        ("ADD-TO-CART", "cart_add"),
        ("加购", "cart_add"),
        ("加入购物车", "cart_add"),
        ("cart_add", "cart_add"),
        ("pageview", "page_view"),
        ("浏览", "page_view"),
        ("share_app_message", "share"),
        ("转发", "share"),
        ("scan_qrcode", "qr_scan"),
        ("扫码", "qr_scan"),
        ("join_groupbuy", "groupbuy_join"),
        ("参团", "groupbuy_join"),
        ("join_group", "group_join"),
        ("退群", "group_leave"),
        ("wecom_follow", "wecom_follow"),  # unknown to the table: kept
        ("  some_event ", "some_event"),
    ],
)
def test_event_vocabulary(raw: str, canonical: str) -> None:
    assert canonical_event_types(pd.Series([raw])).tolist() == [canonical]


def test_event_vocabulary_extra_spellings_and_missing() -> None:
    out = canonical_event_types(pd.Series(["tap_cart", None, ""]), {"tap_cart": "cart_add"})
    assert out.iloc[0] == "cart_add" and out.iloc[1:].isna().all()


def test_property_names() -> None:
    got = canonical_property_names({"orderNo": "A", "order_id": "B", "q": "x", "size": 1})
    assert got == {"orderNo": "A", "order_id": "B", "keyword": "x", "size": 1}


@pytest.mark.parametrize(
    ("header", "unit"),
    [
        ("amount_fen", "fen"),
        ("totalFen", "fen"),
        ("实付金额(分)", "fen"),
        ("实付金额（分）", "fen"),
        ("金额 单位:分", "fen"),
        ("price_cents", "fen"),
        ("金额(元)", "yuan"),
        ("amount_yuan", "yuan"),
        ("积分", None),
        ("商品分类", None),
        ("amount", None),
        ("total_fee", None),
    ],
)
def test_header_money_unit(header: str, unit: str | None) -> None:
    assert header_money_unit(header) == unit


def test_guess_money_unit_and_unix_units() -> None:
    assert guess_money_unit(pd.Series(["1299", "2599", "0"])) == "fen"
    assert guess_money_unit(pd.Series(["12", "25", "8"])) == "yuan"
    assert guess_money_unit(pd.Series(["1299.00", "2599"])) == "yuan"
    assert guess_money_unit(pd.Series([None, None])) == "yuan"
    assert unix_units(pd.Series([1735689600, 1735689600000, 1735689600000000])).tolist() == [
        "s",
        "ms",
        "us",
    ]


def test_generic_event_log_goes_through_the_vocabulary(tmp_path: Path) -> None:
    preset = tmp_path / "acme_events.toml"
    preset.write_text(
        """
name = "acme_events"
adapter = "generic"
table = "events"
platform = "acme"
required = ["member", "type"]
attributes = ["sku"]
[columns]
member = "会员"
ts = "时间"
type = "行为"
sku = "商品"
[account]
field = "member"
[event_types]
"点了购物车" = "cart_add"
""",
        encoding="utf-8",
    )
    rows = [
        {"会员": "m1", "时间": "2025-01-01 10:00:00", "行为": "加入购物车", "商品": "S1"},
        {"会员": "m1", "时间": "2025-01-01 10:01:00", "行为": "点了购物车", "商品": "S2"},
        {"会员": "m2", "时间": "2025-01-01 10:02:00", "行为": "抽奖", "商品": ""},
    ]
    path = write_csv(tmp_path / "acme.csv", ["商品", "行为", "会员", "时间"], rows)
    pf = parse_file(path, preset=str(preset))
    reconciles(pf)
    assert pf.tables["events"]["type"].tolist() == ["cart_add", "cart_add", "抽奖"]


def test_jsonl_iso_time_keeps_its_offset_and_naive_text_is_local(tmp_path: Path) -> None:
    recs = [
        {"openid": "o1", "event": "page_view", "ts": "2025-06-01T08:00:40+08:00"},
        {"openid": "o1", "event": "page_view", "ts": "2025-06-01T08:00:40"},
    ]
    pf = parse_file(write_jsonl(tmp_path / "miniapp_events_iso.jsonl", recs))
    assert pf.tables["events"]["ts"].tolist() == [
        pd.Timestamp("2025-06-01 00:00:40", tz="UTC"),
        pd.Timestamp("2025-06-01 00:00:40", tz="UTC"),  # naive: Asia/Shanghai
    ]


def test_status_labels_fold_like_cells(tmp_path: Path) -> None:
    header = ["订单编号", "买家会员名", "订单创建时间", "买家实际支付金额", "订单状态"]
    row = {"订单编号": "1", "买家会员名": "tb", "订单创建时间": "2025-01-01 10:00:00",
           "买家实际支付金额": "1", "订单状态": "卖家已发货，等待买家确认"}  # fmt: skip
    pf = parse_file(write_csv(tmp_path / "t.csv", header, [row], encoding="gbk"))
    assert pf.rejected == 0 and pf.tables["orders"]["status"].tolist() == ["paid"]


def test_unit_suffixed_header_of_a_better_alias_wins(tmp_path: Path) -> None:
    header = ["订单编号", "买家会员名", "订单创建时间", "总金额", "买家实际支付金额(分)"]
    row = {"订单编号": "1", "买家会员名": "tb", "订单创建时间": "2025-01-01 10:00:00",
           "总金额": "20.00", "买家实际支付金额(分)": "1250"}  # fmt: skip
    pf = parse_file(write_csv(tmp_path / "t.csv", header, [row]), preset="tmall_orders")
    assert pf.tables["orders"]["amount"].tolist() == [12.5]
