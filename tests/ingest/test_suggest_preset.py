"""``scrm ingest --suggest-preset``: drafts for hand-made files other shops' tools wrote."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from scrm_lib.cli import app
from scrm_lib.errors import InputFileError
from scrm_lib.ingest import parse_file, suggest_preset
from scrm_lib.ingest.presets import load_preset
from scrm_lib.ingest.suggest import column_shape, field_shape, guess_status
from tests.ingest.conftest import reconciles, write_csv, write_jsonl, write_xlsx

# A Youzan shop's ERP re-export: every key column renamed, order shuffled, an extra
# store column, phones in several spellings, statuses the built-in table lacks.
ERP_HEADER = [
    "单据编号",
    "成交时间",
    "付款时间",
    "货品",
    "件数",
    "付款金额(元)",
    "交易状态",
    "会员手机",
    "收件人姓名",
    "收件手机",
    "粉丝昵称",
    "门店",
]
ERP_ROWS = [
    ["E2025030100001", "2025-03-01 10:00:00", "2025-03-01 10:01:00", "洁面乳", "1", "79.00",
     "交易成功", "138 1234 5678", "王小明", "13812345678", "小明", "西湖店"],
    ["E2025030100002", "2025/03/01 11:00", "", "面霜", "2", "1,258.50", "待付款",
     "+86 139-0000-1111", "李四", "13900001111", "阿四", "滨江店"],
    ["E2025030100003", "2025-03-02 09:30:00", "2025-03-02 09:31:00", "面膜", "3", "99.90",
     "已关闭", "13700002222", "赵五", "13700002222", "", "西湖店"],
    ["E2025030100004", "2025-03-03 12:00:00", "2025-03-03 12:00:30", "洁面乳", "1", "79.00",
     "已退款", "１３８１２３４５６７８", "王小明", "13812345678", "小明", "西湖店"],
    ["E2025030100005", "2025-03-04 08:00:00", "2025-03-04 08:00:30", "精华", "1", "399.00",
     "已签收", "13600003333", "钱六", "13600003333", "", "线上"],
]  # fmt: skip


def _erp(tmp_path: Path) -> Path:
    rows = [dict(zip(ERP_HEADER, r, strict=True)) for r in ERP_ROWS]
    return write_csv(tmp_path / "erp_export_202503.csv", ERP_HEADER, rows, encoding="utf-8-sig")


def _write_draft(tmp_path: Path, toml: str, name: str = "draft.toml") -> Path:
    path = tmp_path / name
    path.write_text(toml, encoding="utf-8")
    return path


def test_renamed_youzan_csv_gets_a_youzan_draft_that_reads_it(tmp_path: Path) -> None:
    src = _erp(tmp_path)
    with pytest.raises(InputFileError, match="matches no preset"):
        parse_file(src)  # what the user saw before
    s = suggest_preset(src)
    assert s.base == "youzan_orders"
    assert s.mapping["order_id"] == "单据编号"
    assert s.mapping["created_at"] == "成交时间"
    assert s.mapping["amount"] == "付款金额(元)"
    assert s.mapping["status"] == "交易状态"
    assert s.mapping["buyer_phone"] == "会员手机"
    assert s.mapping["recipient_phone"] == "收件手机"
    assert s.mapping["quantity"] == "件数"
    assert "门店" in s.unmapped
    assert s.status["已退款"] == "refunded" and s.status["已签收"] == "paid"
    assert "CONFIRM" in s.toml and "#   门店" in s.toml
    assert 'amount = "yuan"' in s.toml  # the header names its unit

    draft = _write_draft(tmp_path, s.toml)
    preset = load_preset(draft)
    assert preset.adapter == "youzan" and preset.name == "erp_export_202503_draft"
    pf = parse_file(src, preset=str(draft))
    reconciles(pf)
    assert (pf.rows_in, pf.rejected) == (5, 0)
    o = pf.tables["orders"]
    assert o["order_id"].tolist() == [f"E202503010000{i}" for i in range(1, 6)]
    assert o["amount"].tolist() == [79.0, 1258.5, 99.9, 79.0, 399.0]
    assert o["status"].tolist() == ["paid", "pending", "cancelled", "refunded", "paid"]
    assert o["account_id"].iloc[0] == o["account_id"].iloc[3] == "youzan:+8613812345678"
    assert o["created_at"].iloc[1] == pd.Timestamp("2025-03-01 03:00:00", tz="UTC")
    assert o["quantity"].tolist() == [1, 2, 3, 1, 1]


def test_miniprogram_jsonl_with_other_names_fen_and_ms(tmp_path: Path) -> None:
    recs = [
        {"id": "M001", "uid": "oAbCdEfGhIjKlMnOpQrStUvWxYz1", "pay_total": 12990,
         "ctime": 1740830400000, "pay_ts": 1740830460000, "state": "SUCCESS",
         "goods": [{"sku": "A1", "qty": 1}], "memo": "gift"},
        {"id": "M002", "uid": "oAbCdEfGhIjKlMnOpQrStUvWxYz2", "pay_total": 8900,
         "ctime": 1740834000000, "pay_ts": None, "state": "WAIT_PAY", "goods": [], "memo": ""},
        {"id": "M003", "uid": "oAbCdEfGhIjKlMnOpQrStUvWxYz1", "pay_total": 39900,
         "ctime": 1740916800000, "pay_ts": 1740916830000, "state": "REFUND_SUCCESS",
         "goods": []},
        {"id": "M004", "uid": "oAbCdEfGhIjKlMnOpQrStUvWxYz3", "pay_total": 5000,
         "ctime": 1740920400000, "pay_ts": 1740920430000, "state": "CLOSED", "goods": []},
    ]  # fmt: skip
    src = write_jsonl(tmp_path / "shop_orders.jsonl", recs)
    s = suggest_preset(src)
    assert s.base == "miniapp_orders"
    assert (s.mapping["order_id"], s.mapping["openid"]) == ("id", "uid")
    assert (s.mapping["amount"], s.mapping["created_at"], s.mapping["paid_at"]) == (
        "pay_total",
        "ctime",
        "pay_ts",
    )
    units = {c.header: c.unit for c in s.columns}
    assert (units["pay_total"], units["ctime"], units["pay_ts"]) == ("fen", "ms", "ms")
    assert s.status["WAIT_PAY"] == "pending" and s.status["REFUND_SUCCESS"] == "refunded"

    pf = parse_file(src, preset=str(_write_draft(tmp_path, s.toml)))
    reconciles(pf)
    assert pf.rejected == 0
    o = pf.tables["orders"]
    assert o["amount"].tolist() == [129.9, 89.0, 399.0, 50.0]
    assert o["status"].tolist() == ["paid", "pending", "refunded", "cancelled"]
    assert o["account_id"].iloc[0] == "wechat:oAbCdEfGhIjKlMnOpQrStUvWxYz1"
    assert o["created_at"].iloc[0] == pd.Timestamp("2025-03-01 12:00:00", tz="UTC")
    assert o["paid_at"].iloc[0] == pd.Timestamp("2025-03-01 12:01:00", tz="UTC")
    assert pd.isna(o["paid_at"].iloc[1])


def test_title_row_unix_seconds_and_an_unknown_status(tmp_path: Path) -> None:
    # A Xiaohongshu-like sheet written by a tool: title row, unix seconds, fen, no 用户ID.
    header = [
        "订单号",
        "下单时间",
        "实付(分)",
        "订单状态",
        "收件人",
        "收件人手机号",
        "详细地址",
        "笔记",
    ]
    rows = [
        {"订单号": "P1", "下单时间": 1740830400, "实付(分)": 12990, "订单状态": "已完成",
         "收件人": "林一", "收件人手机号": "186****2201", "详细地址": "南京西路1号", "笔记": "a"},
        {"订单号": "P2", "下单时间": 1740834000, "实付(分)": 990, "订单状态": "神秘状态",
         "收件人": "林二", "收件人手机号": "186****2202", "详细地址": "南京西路2号", "笔记": "b"},
        {"订单号": "P3", "下单时间": 1740837600, "实付(分)": 5900, "订单状态": "已取消",
         "收件人": "林三", "收件人手机号": "186****2203", "详细地址": "南京西路3号", "笔记": ""},
    ]  # fmt: skip
    sheet = write_xlsx(tmp_path / "订单.xlsx", header, rows, title="订单导出 2025-03")
    # Douyin's and Xiaohongshu's presets share these header names: the tie goes to
    # the one whose file pattern the name matches, here a name the shop gave it.
    assert suggest_preset(sheet).base in ("douyin_orders", "xiaohongshu_orders")
    src = sheet.rename(tmp_path / "xhs_orders_tool.xlsx")
    s = suggest_preset(src)
    assert s.header_row == 1 and s.base == "xiaohongshu_orders"
    assert s.mapping["amount"] == "实付(分)"
    assert {c.header: c.unit for c in s.columns}["下单时间"] == "s"
    assert s.status["神秘状态"] is None
    assert '# "神秘状态" = ""  # CONFIRM' in s.toml
    pf = parse_file(src, preset=str(_write_draft(tmp_path, s.toml)))
    reconciles(pf)
    assert pf.rejected == 1 and pf.rejects["reason"].iloc[0] == "unknown status"
    o = pf.tables["orders"]
    assert o["amount"].tolist() == [129.9, 59.0]
    assert o["created_at"].iloc[0] == pd.Timestamp("2025-03-01 12:00:00", tz="UTC")


@pytest.mark.parametrize(
    ("values", "shape", "unit"),
    [
        (["13812345678", "+86 139 0000 1111", "137-0000-2222"], "phone", None),
        (["138****5678", "139****0001"], "phone", None),
        (["1740830400", "1740834000"], "time", "s"),
        (["1740830400000", "1740834000123"], "time", "ms"),
        (["2025-03-01 10:00:00", "2025/03/02 11:00"], "time", "local"),
        (["79.00", "1,258.50", "¥99"], "money", "yuan"),
        (["12990", "8900", "39900"], "money", "fen"),
        (["1", "2", "3", "1"], "count", None),
        (["6920250501001234567", "6920250501001234568"], "id", None),
        (["已完成", "已取消", "已完成", "待付款"], "label", None),
        (["王小明", "李四", "赵五六", "钱七"], "text", None),
    ],
)
def test_column_shapes(values: list[str], shape: str, unit: str | None) -> None:
    got = column_shape(pd.Series(values, dtype="str"))
    assert got[:2] == (shape, unit), got


@pytest.mark.parametrize(
    ("label", "status"),
    [
        ("交易成功", "paid"),
        ("退款成功", "refunded"),
        ("已签收", "paid"),
        ("待付款", "pending"),
        ("等待买家付款", "pending"),
        ("交易关闭", "cancelled"),
        ("NOTPAY", "pending"),
        ("REFUND", "refunded"),
        ("completed", "paid"),
        ("3", None),
    ],
)
def test_status_words(label: str, status: str | None) -> None:
    assert guess_status(label) == status


def test_field_shapes() -> None:
    assert [field_shape(f) for f in ("order_id", "paid_at", "refund_amount", "quantity")] == [
        "id",
        "time",
        "money",
        "count",
    ]


def test_cli_writes_the_draft_and_refuses_to_overwrite(tmp_path: Path) -> None:
    src = _erp(tmp_path)
    out = tmp_path / "my_shop.toml"
    runner = CliRunner()
    res = runner.invoke(app, ["ingest", "--suggest-preset", str(src), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert load_preset(out).adapter == "youzan"
    again = runner.invoke(app, ["ingest", "--suggest-preset", str(src), "--out", str(out)])
    assert again.exit_code != 0
    res = runner.invoke(app, ["ingest", "--suggest-preset", str(src), "--json"])
    data = json.loads(res.stdout)
    assert data["base"] == "youzan_orders" and "[columns]" in data["toml"]
    assert "门店" in data["unmapped"]
    res = runner.invoke(app, ["ingest", "--suggest-preset", str(src)])
    assert res.stdout.startswith("# Draft preset")  # the TOML itself, unstyled
    assert "[columns]" in res.stdout


def test_cli_missing_file_is_one_line(tmp_path: Path) -> None:
    from tests.sample_project import scrm

    res = scrm("ingest", "--suggest-preset", "nope.csv", cwd=tmp_path, check=False)
    assert res.returncode != 0
    assert "nope.csv" in res.stderr and "Traceback" not in res.stderr
