"""The ship-to of each order on ``orders`` (recipient_name/_phone/_address), every order adapter.

Hand-made files: what the account-key hub split of the identity step reads
when a shared login or a counter phone stands for many buyers.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from scrm_lib.ingest import parse_file
from tests.ingest.conftest import (
    DOUYIN_HEADER,
    TMALL_HEADER,
    YOUZAN_HEADER,
    douyin_row,
    reconciles,
    tmall_row,
    write_csv,
    write_jsonl,
    youzan_row,
)
from tests.ingest.test_xiaohongshu import HEADER as XHS_HEADER
from tests.ingest.test_xiaohongshu import row as xhs_row

COLUMNS = ["recipient_name", "recipient_phone", "recipient_address"]
MS = 1740830400000


def _recipients(path: Path) -> tuple[list[list[object]], pd.DataFrame]:
    pf = parse_file(path)
    reconciles(pf)
    assert pf.rejected == 0
    orders = pf.tables["orders"].sort_values(["order_id", "line_id"])
    got = orders[COLUMNS].astype(object).where(orders[COLUMNS].notna(), None)
    return got.to_numpy().tolist(), pf.tables["identifiers"]


def test_tmall_recipient_columns(tmp_path: Path) -> None:
    rows = [
        tmall_row(1, 收货人姓名="王女士", 联系手机="138****5678"),
        tmall_row(2, 收货人姓名="孙梅 杭州", 联系手机="13912345678", 收货地址="上海市 静安区 1 号"),
    ]
    got, ids = _recipients(write_csv(tmp_path / "tmall_orders.csv", TMALL_HEADER, rows))
    assert got == [
        ["王女士", "138****5678", "浙江省 杭州市 西湖区 文一路 1 号"],
        ["孙梅 杭州", "+8613912345678", "上海市 静安区 1 号"],
    ]
    assert ids.loc[ids["kind"] == "name", "value"].tolist() == ["孙梅"]


def test_youzan_recipient_columns(tmp_path: Path) -> None:
    rows = [
        youzan_row(1),
        youzan_row(2, **{"收货人/提货人": "王五", "收货人手机号/提货人手机号": "139****0001"}),
        youzan_row(3, **{"收货人/提货人": "", "收货人手机号/提货人手机号": ""}),
    ]
    got, _ = _recipients(write_csv(tmp_path / "youzan_orders.csv", YOUZAN_HEADER, rows))
    assert got == [
        ["李四", "+8613812345678", None],
        ["王五", "139****0001", None],
        [None, None, None],
    ]


def test_douyin_recipient_columns(tmp_path: Path) -> None:
    rows = [
        douyin_row(1),
        douyin_row(2, 收件人="孙梅 杭州", 收件人手机号="+86 139 1234 5678", 省="", 市="", 区=""),
    ]
    got, ids = _recipients(write_csv(tmp_path / "douyin_orders.csv", DOUYIN_HEADER, rows))
    assert got == [
        ["张三1", "139****1234", "浙江省杭州市西湖区文一路 1 号"],
        ["孙梅 杭州", "+8613912345678", "文一路 2 号"],
    ]
    # the name identifier is the person's name; the order keeps what was typed
    assert sorted(ids.loc[ids["kind"] == "name", "value"]) == ["孙梅", "张三"]


def test_xiaohongshu_recipient_columns(tmp_path: Path) -> None:
    rows = [
        xhs_row(1),
        xhs_row(2, 收件人="王女士", 收件人手机号="13912345678", 省="", 市="", 区=""),
    ]
    path = write_csv(tmp_path / "xiaohongshu_orders.csv", XHS_HEADER, rows)
    got, ids = _recipients(path)
    assert got == [
        ["林小夕", "186****2201", "上海上海市静安区南京西路 1266 号 12 楼"],
        ["王女士", "+8613912345678", "南京西路 1266 号 12 楼"],
    ]
    assert ids.loc[ids["kind"] == "name", "value"].tolist() == ["林小夕"]


def test_miniapp_recipient_columns(tmp_path: Path) -> None:
    address = {
        "userName": "孙梅 杭州",
        "telNumber": "139 1234 5678",
        "provinceName": "浙江省",
        "cityName": "杭州市",
        "countyName": "西湖区",
        "detailInfo": "文三路1号",
    }
    recs = [
        {"order_no": "W1", "openid": "oA1", "create_time": MS, "total_fee": 100,
         "status": "PAID", "address": address},
        {"order_no": "W2", "openid": "oA1", "create_time": MS, "total_fee": 100,
         "status": "PAID", "address": {"userName": "王女士", "telNumber": "138****5678"}},
        {"order_no": "W3", "openid": "oA1", "create_time": MS, "total_fee": 100,
         "status": "PAID"},
    ]  # fmt: skip
    got, ids = _recipients(write_jsonl(tmp_path / "miniapp_orders.jsonl", recs))
    assert got == [
        ["孙梅 杭州", "+8613912345678", "浙江省杭州市西湖区文三路1号"],
        ["王女士", "138****5678", None],
        [None, None, None],
    ]
    assert ids.loc[ids["kind"] == "name", "value"].tolist() == ["孙梅"]


@pytest.mark.parametrize(
    "typed,name", [("王女士", None), ("孙梅 杭州", "孙梅"), ("欧阳娜娜", "欧阳娜娜")]
)
def test_shipping_recipient_name_identifier_is_cleaned(
    tmp_path: Path, typed: str, name: str | None
) -> None:
    path = write_csv(tmp_path / "douyin_orders.csv", DOUYIN_HEADER, [douyin_row(1, 收件人=typed)])
    pf = parse_file(path)
    ids = pf.tables["identifiers"]
    names = ids.loc[ids["kind"] == "name", "value"].tolist()
    assert names == ([] if name is None else [name])
    assert pf.tables["orders"]["recipient_name"].tolist() == [typed]
