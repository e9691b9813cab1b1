"""Tmall, Douyin and Youzan order exports: clean input, damaged rows, counts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from scrm_lib.ingest import detect_format, parse_file
from scrm_lib.ingest.keys import douyin_buyer_key
from tests.ingest.conftest import (
    DOUYIN_HEADER,
    TMALL_HEADER,
    YOUZAN_HEADER,
    douyin_row,
    reconciles,
    tmall_row,
    write_csv,
    write_xlsx,
    youzan_row,
)


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8", "utf-8-sig"])
def test_tmall_clean(tmp_path: Path, encoding: str) -> None:
    rows = [
        tmall_row(1),
        tmall_row(2, 订单状态="交易关闭", 退款金额="99.00", 订单付款时间="2025/01/02 10:01"),
        tmall_row(3, 订单状态="交易关闭"),
        tmall_row(4, 订单状态="等待买家付款", 订单付款时间="", 买家实际支付金额="￥1,299.50"),
        tmall_row(5, 买家留言='=HYPERLINK("http://x")', 宝贝标题="+1 加购", 联系手机="13912345678"),
    ]
    path = write_csv(tmp_path / "tmall_orders_2025.csv", TMALL_HEADER, rows, encoding=encoding)
    assert detect_format(path) == "tmall_orders"
    pf = parse_file(path)
    reconciles(pf)
    assert (pf.rows_in, pf.rejected, pf.format, pf.platform) == (5, 0, "tmall_orders", "tmall")
    o = pf.tables["orders"]
    assert o["order_id"].tolist()[0] == "4012345678900001"
    assert o["status"].tolist() == ["paid", "refunded", "cancelled", "pending", "paid"]
    assert o["refund_amount"].tolist()[:3] == [0.0, 99.0, 0.0]
    assert o["amount"].iloc[3] == 1299.5
    assert o["account_id"].iloc[0] == "tmall:tb_小王1"
    assert o["created_at"].iloc[0] == pd.Timestamp("2025-01-02 02:00:00", tz="UTC")
    assert o["paid_at"].iloc[1] == pd.Timestamp("2025-01-02 02:01:00", tz="UTC")
    assert pd.isna(o["paid_at"].iloc[3])
    assert o["source_line"].tolist() == [2, 3, 4, 5, 6]
    assert o["items"].iloc[4] == "+1 加购"  # formula-like text is data
    ids = pf.tables["identifiers"]
    acct1 = ids[ids["account_id"] == "tmall:tb_小王1"].set_index("kind")["value"]
    assert acct1["phone_masked"] == "138****5678" and "phone" not in acct1.index
    acct5 = ids[ids["account_id"] == "tmall:tb_小王5"]
    assert "+8613912345678" in acct5["value"].tolist()
    acc = pf.tables["accounts"]
    assert len(acc) == 5 and acc["first_seen"].notna().all()


def test_tmall_bad_rows_are_rejected_with_line_column_and_value(tmp_path: Path) -> None:
    rows = [
        tmall_row(1),
        tmall_row(2, 买家实际支付金额="garbage"),
        tmall_row(3, 订单创建时间="not a date"),
        tmall_row(4, 订单状态="火星状态"),
        tmall_row(5, 买家会员名=""),
        tmall_row(6),
    ]
    pf = parse_file(write_csv(tmp_path / "tmall_orders_x.csv", TMALL_HEADER, rows, encoding="gbk"))
    reconciles(pf)
    assert (pf.rows_in, pf.accepted, pf.rejected) == (6, 2, 4)
    rj = pf.rejects.set_index("line")
    assert rj.loc[3, "column"] == "买家实际支付金额" and rj.loc[3, "raw_value"] == "garbage"
    assert rj.loc[4, "reason"] == "unparseable timestamp" and rj.loc[4, "raw_value"] == "not a date"
    assert rj.loc[5, "reason"] == "unknown status"
    assert rj.loc[6, "column"] == "买家会员名"
    assert pf.tables["orders"]["source_line"].tolist() == [2, 7]
    assert set(pf.tables["accounts"]["account_id"]) == {"tmall:tb_小王1", "tmall:tb_小王6"}


def test_tmall_embedded_newline_keeps_physical_line_numbers(tmp_path: Path) -> None:
    rows = [tmall_row(1, 买家留言="第一行\n第二行"), tmall_row(2, 买家实际支付金额="??")]
    pf = parse_file(write_csv(tmp_path / "tmall_orders_nl.csv", TMALL_HEADER, rows))
    reconciles(pf)
    assert pf.tables["orders"]["source_line"].tolist() == [2]
    assert pf.rejects["line"].tolist() == [4]  # the record starts on line 4 of the file


def test_tmall_short_row_is_rejected_not_dropped(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "tmall_orders_s.csv", TMALL_HEADER, [tmall_row(1)])
    with path.open("a", encoding="utf-8") as fh:
        fh.write("4012,only,three\n")
    pf = parse_file(path)
    reconciles(pf)
    assert (pf.rows_in, pf.rejected) == (2, 1)
    assert pf.rejects["line"].tolist() == [3]
    assert "expected 20 fields" in pf.rejects["reason"].iloc[0]


@pytest.mark.parametrize("title", [None, "抖店订单导出 2025-01-01 至 2025-03-31"])
def test_douyin_xlsx(tmp_path: Path, title: str | None) -> None:
    rows = [
        douyin_row(1),
        douyin_row(1, 子订单编号="6900000000012", 选购商品="眼霜", 订单应付金额=59.0, 商品数量=1),
        douyin_row(2, 售后状态="退款成功"),
        douyin_row(3, 售后状态="退款中", 订单状态="已发货"),
        douyin_row(4, 订单状态="已关闭", 支付完成时间=""),
        douyin_row(5, 订单应付金额="一百"),
    ]
    path = write_xlsx(
        tmp_path / "douyin_orders_20250101_20250331.xlsx", DOUYIN_HEADER, rows, title=title
    )
    assert detect_format(path) == "douyin_orders"
    pf = parse_file(path)
    reconciles(pf)
    assert (pf.rows_in, pf.rejected) == (6, 1)
    first = 3 if title else 2
    assert pf.rejects["line"].tolist() == [first + 5]
    assert pf.rejects["raw_value"].tolist() == ["一百"]
    o = pf.tables["orders"]
    assert o["source_line"].tolist() == list(range(first, first + 5))
    assert o["status"].tolist() == ["paid", "paid", "refunded", "paid", "cancelled"]
    assert o["refund_amount"].tolist() == [0.0, 0.0, 99.8, 0.0, 0.0]
    assert o["line_id"].iloc[1] == "6900000000012" and o["amount"].iloc[1] == 59.0
    assert o["quantity"].tolist()[:2] == [2, 1]
    key = douyin_buyer_key(
        pd.Series(["张三1"]), pd.Series(["139****1234"]), pd.Series(["文一路 1 号"])
    )
    assert o["account_id"].iloc[0] == "douyin:" + key.iloc[0]
    assert o["account_id"].iloc[0] == o["account_id"].iloc[1]
    assert o["traffic_source"].iloc[0] == "直播"
    ids = pf.tables["identifiers"]
    assert {"douyin_key", "phone_masked", "name", "address", "city"} <= set(ids["kind"])
    assert "phone" not in set(ids["kind"])


def test_douyin_title_row_that_hides_no_header(tmp_path: Path) -> None:
    from scrm_lib.errors import InputFileError

    path = write_xlsx(
        tmp_path / "douyin_orders_bad.xlsx",
        ["随便", "什么"],
        [{"随便": "1"}],
        title="抖店订单导出 2025-01-01 至 2025-03-31",
    )
    with pytest.raises(InputFileError, match="title row '抖店订单导出") as err:
        parse_file(path)
    assert "douyin_orders_bad.xlsx" in str(err.value)
    with pytest.raises(InputFileError, match="title row"):
        parse_file(path, preset="douyin_orders")


def test_douyin_csv_variant(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "douyin_orders_a.csv", DOUYIN_HEADER, [douyin_row(1)])
    pf = parse_file(path)
    assert pf.format == "douyin_orders" and len(pf.tables["orders"]) == 1


def test_youzan_phone_spellings_and_key_rejects(tmp_path: Path) -> None:
    spellings = [
        "+86 138 1234 5678",
        "86-138-1234-5678",
        "138-1234-5678",
        "１３８１２３４５６７８",
        "13812345678",
    ]
    rows = [youzan_row(i, 买家手机号=p) for i, p in enumerate(spellings)]
    rows += [
        youzan_row(10, 买家手机号="138****5678"),
        youzan_row(11, 买家手机号="12345"),
        youzan_row(12, 买家手机号=""),
        youzan_row(13, 退款状态="退款成功"),
        youzan_row(
            14, 订单状态="待付款", 买家付款时间="", **{"收货人手机号/提货人手机号": "139 1234 5678"}
        ),
    ]
    path = write_csv(tmp_path / "youzan_orders_1.csv", YOUZAN_HEADER, rows, encoding="utf-8-sig")
    assert detect_format(path) == "youzan_orders"
    pf = parse_file(path)
    reconciles(pf)
    assert (pf.rows_in, pf.rejected) == (10, 3)
    assert set(pf.rejects["column"]) == {"买家手机号"}
    assert pf.rejects["raw_value"].tolist()[:2] == ["138****5678", "12345"]
    o = pf.tables["orders"]
    assert set(o["account_id"]) == {"youzan:+8613812345678"}
    assert o["status"].tolist()[-2:] == ["refunded", "pending"]
    assert o["refund_amount"].iloc[-2] == 68.0
    acc = pf.tables["accounts"]
    assert acc["account_id"].tolist() == ["youzan:+8613812345678"]
    ids = pf.tables["identifiers"]
    assert ("phone", "+8613812345678") in set(zip(ids["kind"], ids["value"], strict=True))
    assert "recipient_phone" in set(ids["kind"])


def test_youzan_recipient_phone_is_not_a_key(tmp_path: Path) -> None:
    rows = [youzan_row(1, **{"收货人手机号/提货人手机号": "not a phone"})]
    pf = parse_file(write_csv(tmp_path / "youzan_orders_2.csv", YOUZAN_HEADER, rows))
    assert pf.rejected == 0 and len(pf.tables["orders"]) == 1
