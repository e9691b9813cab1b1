"""小红书 shop order export: hand-made files in the back-office layout and other shops' variants."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from scrm_lib.errors import InputFileError
from scrm_lib.ingest import detect_format, parse_file
from scrm_lib.ingest.xiaohongshu import buyer_key
from tests.ingest.conftest import reconciles, write_csv, write_xlsx

HEADER = [
    "订单号",
    "订单状态",
    "售后状态",
    "下单时间",
    "支付时间",
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
    "用户ID",
    "买家昵称",
    "用户备注",
    "渠道",
]


def row(i: int, **over: object) -> dict[str, object]:
    r: dict[str, object] = {
        "订单号": f"P7{i:017d}",
        "订单状态": "已完成",
        "售后状态": "无售后",
        "下单时间": "2025-03-01 20:15:00",
        "支付时间": "2025-03-01 20:16:10",
        "商品ID": "64f0a1b2c3d4e5f6a7b8c9d0",
        "SKU ID": f"65a1{i:04d}",
        "商品名称": "氨基酸洁面乳",
        "规格": "120g",
        "商品数量": "1",
        "商品单价": "89.00",
        "商品总价": "89.00",
        "用户实付金额": "79.00",
        "运费": "0.00",
        "收件人": "林小夕",
        "收件人手机号": "186****2201",
        "省": "上海",
        "市": "上海市",
        "区": "静安区",
        "详细地址": "南京西路 1266 号 12 楼",
        "用户ID": f"5f3e{i:020d}",
        "买家昵称": "夕夕爱护肤",
        "用户备注": "",
        "渠道": "笔记",
    }
    r.update(over)
    return r


def test_backoffice_export_reads_lines_statuses_and_buyer(tmp_path: Path) -> None:
    rows = [
        row(1),
        row(
            1, **{"SKU ID": "65a19999", "商品名称": "保湿水", "规格": "", "用户实付金额": "¥120.5"}
        ),
        row(2, 订单状态="待付款", 支付时间="", 售后状态=""),
        row(3, 订单状态="已取消", 支付时间=""),
        row(4, 售后状态="售后完成"),
        row(5, 售后状态="售后处理中", 订单状态="待收货"),
        row(6, 用户ID="", 买家昵称=""),
    ]
    path = write_xlsx(tmp_path / "xiaohongshu_orders_202503.xlsx", HEADER, rows)
    assert detect_format(path) == "xiaohongshu_orders"
    pf = parse_file(path)
    reconciles(pf)
    assert (pf.rows_in, pf.rejected, pf.platform) == (7, 0, "xiaohongshu")
    o = pf.tables["orders"]
    assert o["order_id"].iloc[0] == "P700000000000000001"
    assert o["line_id"].tolist()[:2] == ["65a10001", "65a19999"]
    assert o["status"].tolist() == [
        "paid",
        "paid",
        "pending",
        "cancelled",
        "refunded",
        "paid",
        "paid",
    ]
    assert o["amount"].tolist()[:2] == [79.0, 120.5]
    assert o["refund_amount"].tolist()[4] == 79.0 and o["refund_amount"].iloc[5] == 0.0
    assert o["items"].tolist()[:2] == ["氨基酸洁面乳 120g", "保湿水"]
    assert o["created_at"].iloc[0] == pd.Timestamp("2025-03-01 12:15:00", tz="UTC")
    assert o["traffic_source"].iloc[0] == "笔记"
    assert o["account_id"].iloc[0] == "xiaohongshu:5f3e00000000000000000001"
    # no 用户ID on the row: the recipient, masked phone and address key the buyer
    key = buyer_key(
        pd.Series(["林小夕"]), pd.Series(["186****2201"]), pd.Series(["南京西路 1266 号 12 楼"])
    )
    assert o["account_id"].iloc[6] == "xiaohongshu:" + key[0]
    assert key[0].startswith("x") and len(key[0]) == 20
    ids = pf.tables["identifiers"]
    a1 = ids[ids["account_id"] == "xiaohongshu:5f3e00000000000000000001"]
    kinds = dict(zip(a1["kind"], a1["value"], strict=True))
    assert kinds["phone_masked"] == "186****2201" and "phone" not in kinds
    assert kinds["name"] == "林小夕" and kinds["city"] == "上海市"
    assert kinds["address"] == "上海上海市静安区南京西路 1266 号 12 楼"
    assert kinds["nickname"] == "夕夕爱护肤"
    acc = pf.tables["accounts"].set_index("account_id")
    assert acc.loc["xiaohongshu:5f3e00000000000000000001", "display_name"] == "夕夕爱护肤"
    assert acc["platform"].eq("xiaohongshu").all()


def test_other_shop_csv_without_user_id_address_or_status(tmp_path: Path) -> None:
    # Another shop's template: other column names, shuffled, no 用户ID, no 订单状态,
    # no 详细地址, an extra column, a refund column, a full phone and dirty values.
    header = [
        "实付金额",
        "收货人",
        "付款时间",
        "订单编号",
        "商品标题",
        "联系电话",
        "退款金额",
        "备用",
    ]
    rows = [
        {
            "订单编号": "P711",
            "实付金额": "1,299.00",
            "收货人": "周 舟",
            "付款时间": "2025/03/02 09:00",
            "商品标题": "面霜",
            "联系电话": "+86 139-1234-5678",
            "退款金额": "0",
            "备用": "x",
        },
        {
            "订单编号": "P712",
            "实付金额": "59",
            "收货人": "周 舟",
            "付款时间": "2025/03/02 09:01",
            "商品标题": "面膜",
            "联系电话": "13912345678",
            "退款金额": "20.00",
        },
        {
            "订单编号": "P713",
            "实付金额": "--",
            "收货人": "周舟",
            "付款时间": "2025/03/02 09:00",
            "商品标题": "面膜",
            "联系电话": "13912345678",
        },
    ]
    header.append("下单时间")
    for r in rows:
        r["下单时间"] = "2025-03-02 08:59:00"
    path = write_csv(tmp_path / "shop_export.csv", header, rows, encoding="utf-8-sig")
    pf = parse_file(path, preset="xiaohongshu_orders")
    reconciles(pf)
    assert (pf.rows_in, pf.rejected) == (3, 1)
    rej = pf.rejects.iloc[0]
    assert (rej["line"], rej["column"], rej["raw_value"]) == (4, "实付金额", "--")
    o = pf.tables["orders"]
    assert o["amount"].tolist() == [1299.0, 59.0]
    assert o["status"].tolist() == ["paid", "refunded"]  # a partial refund is still a refund
    assert o["refund_amount"].tolist() == [0.0, 20.0]
    assert o["line_id"].tolist() == ["面霜", "面膜"]
    ids = pf.tables["identifiers"]
    assert "+8613912345678" in ids.loc[ids["kind"] == "phone", "value"].tolist()
    # the same name typed with a space is another raw triple: another derived key
    assert o["account_id"].str.startswith("xiaohongshu:x").all()


def test_no_status_column_pending_without_payment(tmp_path: Path) -> None:
    header = ["订单号", "下单时间", "支付时间", "用户实付", "用户ID"]
    rows = [
        {
            "订单号": "P1",
            "下单时间": "1740830400000",
            "支付时间": "",
            "用户实付": "10",
            "用户ID": "u1",
        },
        {
            "订单号": "P2",
            "下单时间": "1740830400",
            "支付时间": "1740830460",
            "用户实付": "10",
            "用户ID": "u1",
        },
    ]
    pf = parse_file(write_csv(tmp_path / "xhs_orders.csv", header, rows))
    assert pf.format == "xiaohongshu_orders"
    o = pf.tables["orders"]
    assert o["status"].tolist() == ["pending", "paid"]
    assert o["created_at"].nunique() == 1  # unix ms and s read to the same moment
    assert pf.tables["accounts"]["account_id"].tolist() == ["xiaohongshu:u1"]


def test_fen_amounts_by_preset_option(tmp_path: Path) -> None:
    preset = tmp_path / "xhs_fen.toml"
    text = (Path(__file__).parents[2] / "scrm_lib/presets/xiaohongshu_orders.toml").read_text(
        encoding="utf-8"
    )
    preset.write_text(
        text.replace('name = "xiaohongshu_orders"', 'name = "xhs_fen"').replace(
            'amount = "auto"', 'amount = "fen"'
        ),
        encoding="utf-8",
    )
    header = ["订单号", "下单时间", "用户实付金额", "运费", "用户ID"]
    rows = [
        {
            "订单号": "P9",
            "下单时间": "2025-03-01",
            "用户实付金额": "12990",
            "运费": "600",
            "用户ID": "u9",
        }
    ]
    pf = parse_file(write_csv(tmp_path / "a.csv", header, rows), preset=str(preset))
    o = pf.tables["orders"]
    assert (o["amount"].iloc[0], o["shipping"].iloc[0]) == (129.9, 6.0)


def test_row_without_any_buyer_is_rejected(tmp_path: Path) -> None:
    rows = [row(1), row(2, 用户ID="", 收件人="", 收件人手机号="", 详细地址="")]
    pf = parse_file(write_csv(tmp_path / "xiaohongshu_orders.csv", HEADER, rows))
    reconciles(pf)
    assert pf.rejected == 1
    assert pf.rejects["column"].iloc[0] == "用户ID"
    assert pf.rejects["line"].iloc[0] == 3


def test_file_without_buyer_columns_is_refused_in_one_line(tmp_path: Path) -> None:
    header = ["订单号", "下单时间", "用户实付金额", "订单状态"]
    rows = [{"订单号": "P1", "下单时间": "2025-03-01", "用户实付金额": "1", "订单状态": "已完成"}]
    path = write_csv(tmp_path / "xiaohongshu_orders.csv", header, rows)
    with pytest.raises(InputFileError, match=r"xiaohongshu_orders\.csv.*用户ID"):
        parse_file(path, preset="xiaohongshu_orders")


def test_unknown_status_rejects_the_row(tmp_path: Path) -> None:
    rows = [row(1), row(2, 订单状态="神秘状态")]
    pf = parse_file(write_csv(tmp_path / "xiaohongshu_orders.csv", HEADER, rows))
    assert pf.rejected == 1 and pf.rejects["reason"].iloc[0] == "unknown status"


def test_other_platforms_are_not_taken_for_xiaohongshu(tmp_path: Path) -> None:
    from tests.ingest.conftest import YOUZAN_HEADER, youzan_row

    path = write_csv(tmp_path / "orders.csv", YOUZAN_HEADER, [youzan_row(1)], encoding="utf-8-sig")
    assert detect_format(path) == "youzan_orders"


def test_fen_guessed_when_every_amount_is_a_large_whole_number(tmp_path: Path) -> None:
    # An API dump re-saved as CSV: totalPaidAmount in fen, createdTime in ms.
    header = ["订单号", "下单时间", "用户实付金额", "运费", "用户ID"]
    rows = [
        {"订单号": "P1", "下单时间": "1740830400000", "用户实付金额": "12990", "运费": "600"},
        {"订单号": "P2", "下单时间": "1740830400000", "用户实付金额": "8900", "运费": "0"},
    ]
    rows = [{**r, "用户ID": "u1"} for r in rows]
    pf = parse_file(write_csv(tmp_path / "xhs_orders_api.csv", header, rows))
    o = pf.tables["orders"]
    assert o["amount"].tolist() == [129.9, 89.0]
    assert o["shipping"].tolist() == [6.0, 0.0]
    # the same numbers written with decimals are yuan
    rows = [{**r, "用户实付金额": r["用户实付金额"] + ".00"} for r in rows]
    pf = parse_file(write_csv(tmp_path / "xhs_orders_yuan.csv", header, rows))
    assert pf.tables["orders"]["amount"].tolist() == [12990.0, 8900.0]
