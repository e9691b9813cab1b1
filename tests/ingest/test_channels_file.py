"""The channels export (渠道码 / 活码 table) as marketing tools and WeCom write it.

Hand-typed files that differ from the sample generator: other header names,
other column order, extra and missing columns, money with ``¥``, ``元`` and
thousands separators, full-width characters, blank, negative and unparseable
costs, and a code listed twice.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from scrm_lib.engine import duckdb_connect
from scrm_lib.ingest import detect_format, parse_file
from scrm_lib.schema import TABLES
from scrm_lib.warehouse.canonical import dedupe
from tests.conftest import stage_on
from tests.ingest.conftest import reconciles, write_csv, write_xlsx

# A WeCom 渠道活码 export: the code is the `state`, the member who uses it is 使用成员.
WECOM_HEADER = ["活码名称", "state", "使用成员", "所属活动", "花费", "类型", "备注", "创建时间"]
WECOM_ROWS = [
    {
        "活码名称": "导购小王活码",
        "state": "hm_wang",
        "使用成员": "WangLi",
        "所属活动": "2025双11拉新",
        "花费": "¥1,234.5",
        "类型": "活码",
        "备注": "门店A",
        "创建时间": "2025/10/20 09:30",
    },
    {
        "活码名称": "导购小李活码",
        "state": "ｈｍ＿ｌｉ",  # full-width, as typed on a phone keyboard
        "使用成员": "ＬｉＮａ",
        "所属活动": "2025双11拉新",
        "花费": "500元",
        "类型": "活码",
        "备注": "",
        "创建时间": "2025-10-21 10:00:00",
    },
    {
        "活码名称": "社群引流码",
        "state": "hm_group",
        "使用成员": "WangLi",
        "所属活动": "",
        "花费": "",  # unknown cost: NULL, never 0
        "类型": "活码",
        "备注": "",
        "创建时间": "2025-10-22",
    },
    {
        "活码名称": "退款冲账",
        "state": "hm_refund",
        "使用成员": "",
        "所属活动": "",
        "花费": "-300",
        "类型": "活码",
        "备注": "",
        "创建时间": "2025-10-23",
    },
    {
        "活码名称": "赠送",
        "state": "hm_free",
        "使用成员": "",
        "所属活动": "",
        "花费": "免费",
        "类型": "活码",
        "备注": "",
        "创建时间": "2025-10-23",
    },
    {
        "活码名称": "海报码",
        "state": "hb_01",
        "使用成员": "",
        "所属活动": "会员日",
        "花费": "￥88",
        "类型": "海报",
        "备注": "",
        "创建时间": "2025-10-24",
    },
]


def _by_id(pf) -> pd.DataFrame:
    return pf.tables["channels"].set_index("channel_id")


def test_wecom_live_code_export_reads_every_field(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "活码列表.csv", WECOM_HEADER, WECOM_ROWS)
    assert detect_format(path) == "channels"
    pf = parse_file(path)
    reconciles(pf)
    assert (pf.rows_in, pf.accepted, pf.rejected) == (6, 4, 2)
    ch = _by_id(pf)
    assert sorted(ch.index) == ["hb_01", "hm_group", "hm_li", "hm_wang"]
    assert ch.loc["hm_wang", "cost"] == 1234.5
    assert ch.loc["hm_li", "cost"] == 500.0
    assert ch.loc["hb_01", "cost"] == 88.0
    assert pd.isna(ch.loc["hm_group", "cost"])
    assert ch.loc["hm_wang", "name"] == "导购小王活码"
    assert ch.loc["hm_wang", "campaign"] == "2025双11拉新"
    assert ch.loc["hm_li", "staff_id"] == "LiNa"  # full-width letters folded
    assert pd.isna(ch.loc["hm_group", "campaign"]) and pd.isna(ch.loc["hb_01", "staff_id"])
    assert ch.loc["hb_01", "type"] == "海报"
    # Local (Asia/Shanghai) 2025-10-20 09:30 is 01:30 UTC.
    assert ch.loc["hm_wang", "created_at"] == pd.Timestamp("2025-10-20 01:30", tz="UTC")


def test_negative_and_unparseable_costs_are_rejected_with_line_and_value(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "活码列表.csv", WECOM_HEADER, WECOM_ROWS)
    rej = parse_file(path).rejects.sort_values("line").reset_index(drop=True)
    assert rej["file"].tolist() == ["活码列表.csv"] * 2
    assert rej["line"].tolist() == [5, 6]  # header is line 1
    assert rej["column"].tolist() == ["花费", "花费"]
    assert rej["reason"].tolist() == ["negative cost", "unparseable amount"]
    assert rej["raw_value"].tolist() == ["-300", "免费"]


def test_english_xlsx_without_optional_columns(tmp_path: Path) -> None:
    header = ["spend", "code", "channel_name", "campaign", "staff", "owner_region"]
    rows = [
        {"spend": 1999.9, "code": "AD-7", "channel_name": "朋友圈广告", "campaign": "618"},
        {"spend": "", "code": "LIVE-1", "channel_name": "品牌直播间", "staff": "zhangwei"},
        {"spend": 0, "code": "STORE-3", "channel_name": "门店", "owner_region": "华东"},
    ]
    path = write_xlsx(tmp_path / "channels_export.xlsx", header, rows)
    pf = parse_file(path, preset="channels")
    reconciles(pf)
    assert pf.rejected == 0
    ch = _by_id(pf)
    assert ch.loc["AD-7", "cost"] == 1999.9
    assert pd.isna(ch.loc["LIVE-1", "cost"])
    assert ch.loc["STORE-3", "cost"] == 0.0  # a typed zero is a real, free channel
    assert ch.loc["LIVE-1", "staff_id"] == "zhangwei"
    assert ch["type"].isna().all() and ch["created_at"].isna().all()
    assert list(pf.tables["channels"].columns)[:8] == list(TABLES["channels"].names)[:8]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (["渠道ID", "渠道名称", "活动名称", "导购", "投放金额"], "2025双11拉新"),
        (["channel_code", "名称", "活动", "负责人", "费用"], "2025双11拉新"),
        (["活码ID", "活码名称", "campaign", "员工", "cost"], "2025双11拉新"),
    ],
)
def test_other_field_names(tmp_path: Path, header: list[str], expected: str) -> None:
    values = ["X1", "某渠道", expected, "u01", "1,000.00元"]
    row = dict(zip(header, values, strict=True))
    path = write_csv(tmp_path / "channels_alias.csv", header, [row])
    pf = parse_file(path, preset="channels")
    row = pf.tables["channels"].iloc[0]
    assert (row["channel_id"], row["campaign"], row["staff_id"], row["cost"]) == (
        "X1",
        expected,
        "u01",
        1000.0,
    )


def test_a_code_listed_twice_keeps_its_latest_row(tmp_path: Path) -> None:
    header = ["渠道码", "渠道名称", "成本"]
    rows = [
        {"渠道码": "HM1", "渠道名称": "旧名称", "成本": "100"},
        {"渠道码": "HM2", "渠道名称": "别的码", "成本": "5"},
        {"渠道码": "HM1", "渠道名称": "新名称", "成本": "120"},
    ]
    pf = parse_file(write_csv(tmp_path / "channels_dup.csv", header, rows))
    reconciles(pf)
    assert pf.accepted == 3  # both rows parse; the warehouse keeps one per code
    con = duckdb_connect()
    try:
        frame = pf.tables["channels"].assign(source_file="channels_dup.csv")
        out = con.to_pandas(dedupe(stage_on(con, "channels", [(0, frame)]), "channels"))
    finally:
        con.disconnect()
    got = out.set_index("channel_id").sort_index()
    assert got["name"].tolist() == ["新名称", "别的码"]
    assert got["cost"].tolist() == [120.0, 5.0]


def test_a_workbook_is_read_once_per_parse_and_again_when_it_changes(tmp_path, monkeypatch):
    from scrm_lib.ingest import read

    reads = []
    real = read._read_sheet
    monkeypatch.setattr(read, "_read_sheet", lambda p: reads.append(p) or real(p))
    header = ["code", "channel_name"]
    path = write_xlsx(
        tmp_path / "channels_export.xlsx", header, [{"code": "A", "channel_name": "门店"}]
    )
    assert _by_id(parse_file(path, preset="channels")).index.tolist() == ["A"]
    assert len(reads) == 1  # the header's look and the table's read share one read
    # found the header, then the file was replaced: the table is the new file's
    read.head_rows(path)
    write_xlsx(
        path, header, [{"code": "B", "channel_name": "门店"}, {"code": "C", "channel_name": "x"}]
    )
    assert read.read_table(path).df["code"].tolist() == ["B", "C"]
