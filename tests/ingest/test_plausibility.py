"""Plausibility rules (issue 13, finding 6): values that parse but cannot be true are rejected."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from scrm_lib.config import load_settings
from scrm_lib.errors import ConfigError
from scrm_lib.ingest import parse_file
from scrm_lib.ingest.plausibility import plausibility_rules
from tests.ingest.conftest import TMALL_HEADER, reconciles, tmall_row, write_csv, write_jsonl

MS = 1735689600000  # 2025-01-01 00:00 UTC


def _future(days: int) -> str:
    t = pd.Timestamp.now(tz="Asia/Shanghai") + pd.Timedelta(days=days)
    return t.strftime("%Y-%m-%d %H:%M:%S")


def test_tmall_implausible_amounts_times_and_quantities(tmp_path: Path) -> None:
    rows = [
        tmall_row(1),
        tmall_row(2, 买家实际支付金额="-35.00"),  # negative on a paid order
        tmall_row(3, 买家实际支付金额="-35.00", 订单状态="交易关闭", 退款金额="35.00"),  # a refund
        tmall_row(4, 买家实际支付金额="99,999,999,999,999.00"),
        tmall_row(5, 订单创建时间="1999-12-31 23:00:00"),
        tmall_row(6, 订单付款时间=_future(3)),
        tmall_row(7, 宝贝总数量="0"),
        tmall_row(8, 宝贝总数量="250000"),
        tmall_row(9, 订单付款时间="0000-00-00 00:00:00", 订单状态="等待买家付款"),  # "no time"
        tmall_row(10, 买家实际支付金额="1000000.00"),  # at the ceiling: fine
    ]
    pf = parse_file(write_csv(tmp_path / "tmall_orders_p.csv", TMALL_HEADER, rows, encoding="gbk"))
    reconciles(pf)
    assert (pf.rows_in, pf.accepted, pf.rejected) == (10, 4, 6)
    rj = pf.rejects.set_index("line")
    assert rj.loc[3, "column"] == "买家实际支付金额" and rj.loc[3, "raw_value"] == "-35.00"
    assert rj.loc[3, "reason"] == "negative amount on an order that is not a refund"
    assert rj.loc[5, "reason"] == "amount above the ceiling of 1,000,000 CNY"
    assert rj.loc[5, "raw_value"] == "99,999,999,999,999.00"
    assert rj.loc[6, "column"] == "订单创建时间"
    assert rj.loc[6, "reason"] == "timestamp before 2000-01-01"
    assert rj.loc[7, "column"] == "订单付款时间" and "in the future" in rj.loc[7, "reason"]
    assert rj.loc[8, "column"] == "宝贝总数量" and rj.loc[8, "reason"] == "quantity 0 or below"
    assert rj.loc[9, "reason"] == "quantity above 10,000" and rj.loc[9, "raw_value"] == "250000"
    o = pf.tables["orders"].set_index("source_line")
    assert o.loc[4, "status"] == "refunded" and o.loc[4, "amount"] == -35.0
    assert pd.isna(o.loc[10, "paid_at"]) and o.loc[10, "status"] == "pending"
    assert o.loc[11, "amount"] == 1_000_000.0


def test_rules_come_from_scrm_toml(tmp_path: Path) -> None:
    (tmp_path / "scrm.toml").write_text(
        '[plausibility]\nmax_order_amount = 100\nnegative_amount = "allow"\n'
        'min_time = "2025-01-02"\n',
        encoding="utf-8",
    )
    settings = load_settings(tmp_path)
    rows = [
        tmall_row(1, 买家实际支付金额="150.00"),
        tmall_row(2, 买家实际支付金额="-5"),
        tmall_row(3, 订单创建时间="2025-01-02 10:00:00"),
    ]
    path = write_csv(tmp_path / "tmall_orders_c.csv", TMALL_HEADER, rows, encoding="gbk")
    pf = parse_file(path, settings=settings)
    reconciles(pf)
    # row 1 is too big; row 2 is allowed negative; rows 1-2 were created 2025-01-02 10:00
    # local = 02:00 UTC, which is after the min_time of 2025-01-02 00:00 UTC
    assert pf.rejects["line"].tolist() == [2]
    assert pf.rejects["reason"].tolist() == ["amount above the ceiling of 100 CNY"]
    off = load_settings(tmp_path).with_overrides(extra={"plausibility": {"enabled": False}})
    assert parse_file(path, settings=off).rejected == 0


@pytest.mark.parametrize(
    ("section", "match"),
    [
        ({"max_amount": 5}, "unknown key max_amount"),
        ({"max_order_amount": -1}, "max_order_amount = -1"),
        ({"negative_amount": "sometimes"}, "negative_amount"),
        ({"min_time": "not a date"}, "min_time"),
        ({"enabled": "yes"}, "enabled"),
    ],
)
def test_bad_settings_are_one_line_config_errors(section: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        plausibility_rules({"plausibility": section})


def test_events_and_item_quantities(tmp_path: Path) -> None:
    events = [
        {"openid": "o1", "event": "page_view", "ts": MS},
        {"openid": "o1", "event": "page_view", "ts": 946684799000},  # 1999-12-31T23:59:59Z
        {"openid": "o1", "event": "page_view", "ts": 0},  # "no time" on a required field
    ]
    pf = parse_file(write_jsonl(tmp_path / "miniapp_events.jsonl", events))
    reconciles(pf)
    assert pf.rejects[["line", "reason"]].values.tolist() == [
        [2, "timestamp before 2000-01-01"],
        [3, "missing value"],
    ]
    orders = [
        {"order_no": "A", "openid": "o1", "create_time": MS, "total_fee": 100, "status": "PAID",
         "items": [{"name": "x", "qty": 0}]},
        {"order_no": "B", "openid": "o1", "create_time": MS, "total_fee": 100, "status": "PAID",
         "items": [{"name": "x", "qty": 2}], "pay_time": 0},
    ]  # fmt: skip
    pf = parse_file(write_jsonl(tmp_path / "miniapp_orders.jsonl", orders))
    reconciles(pf)
    assert pf.rejects[["line", "column", "reason"]].values.tolist() == [
        [1, "items", "quantity 0 or below"]
    ]
    o = pf.tables["orders"]
    assert o["order_id"].tolist() == ["B"] and pd.isna(o["paid_at"].iloc[0])


def test_plausibility_settings_are_part_of_the_parse_cache_key(tmp_path: Path) -> None:
    from scrm_lib.ingest.cache import cache_key

    base = load_settings(tmp_path)
    other = base.with_overrides(extra={"plausibility": {"max_order_amount": 10}})
    assert cache_key("ab" * 32, "a.csv", "tmall_orders", base) != cache_key(
        "ab" * 32, "a.csv", "tmall_orders", other
    )
