"""Fixture builders for ingest tests: small raw files written into tmp_path."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from scrm_lib.ingest import ParsedFile

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


def tmall_row(i: int, **over: str) -> dict[str, str]:
    row = {
        "订单编号": f'="40123456789{i:05d}"',
        "买家会员名": f"tb_小王{i}",
        "买家支付宝账号": "138****5678",
        "买家应付货款": "99.00",
        "买家应付邮费": "0.00",
        "总金额": "99.00",
        "买家实际支付金额": "99.00",
        "订单状态": "交易成功",
        "买家留言": "",
        "收货人姓名": "王小",
        "收货地址": "浙江省 杭州市 西湖区 文一路 1 号",
        "联系手机": "138****5678",
        "订单创建时间": "2025-01-02 10:00:00",
        "订单付款时间": "2025-01-02 10:01:00",
        "宝贝标题": "纯棉T恤",
        "宝贝种类": "1",
        "宝贝总数量": "1",
        "店铺名称": "旗舰店",
        "退款金额": "0.00",
        "订单备注": "",
    }
    row.update(over)
    return row


def douyin_row(i: int, **over: str) -> dict[str, str]:
    row = dict.fromkeys(DOUYIN_HEADER, "")
    row.update(
        {
            "主订单编号": f"69{i:010d}",
            "子订单编号": f"69{i:010d}1",
            "选购商品": "面膜",
            "商品规格": "10片装",
            "商品数量": "2",
            "商品ID": "3600001",
            "商品单价": "49.90",
            "订单应付金额": "99.80",
            "运费": "0",
            "支付方式": "抖音支付",
            "收件人": f"张三{i}",
            "收件人手机号": "139****1234",
            "省": "浙江省",
            "市": "杭州市",
            "区": "西湖区",
            "详细地址": f"文一路 {i} 号",
            "订单提交时间": "2025-02-01 20:00:00",
            "支付完成时间": "2025-02-01 20:00:30",
            "订单状态": "已完成",
            "达人ID": "7000001",
            "达人昵称": "主播A",
            "流量来源": "直播",
        }
    )
    row.update(over)
    return row


def youzan_row(i: int, **over: str) -> dict[str, str]:
    row = {
        "订单号": f"E2025{i:08d}",
        "订单状态": "交易成功",
        "订单创建时间": "2025-03-01 09:00:00",
        "买家付款时间": "2025-03-01 09:01:00",
        "商品名称": "咖啡豆",
        "商品数量": "1",
        "订单实付金额": "68.00",
        "收货人/提货人": "李四",
        "收货人手机号/提货人手机号": "13812345678",
        "买家手机号": "+86 138 1234 5678",
        "粉丝昵称": "小李",
        "订单来源": "微信小程序",
        "退款状态": "",
    }
    row.update(over)
    return row


def write_csv(
    path: Path,
    header: Sequence[str],
    rows: Sequence[dict[str, str]],
    *,
    encoding: str = "utf-8",
    title: str | None = None,
) -> Path:
    buf = io.StringIO()
    if title:
        buf.write(title + "\n")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow([r.get(h, "") for h in header])
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def write_xlsx(
    path: Path, header: Sequence[str], rows: Sequence[dict], *, title: str | None = None
) -> Path:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("订单")
    r0 = 0
    if title:
        ws.write(0, 0, title)
        r0 = 1
    for j, h in enumerate(header):
        ws.write_string(r0, j, h)
    for i, row in enumerate(rows, start=r0 + 1):
        for j, h in enumerate(header):
            v = row.get(h, "")
            if isinstance(v, (int, float)):
                ws.write_number(i, j, v)
            elif v != "":
                ws.write_string(i, j, str(v))
    wb.close()
    return path


def write_jsonl(path: Path, records: Sequence[object], *, raw_lines: Sequence[str] = ()) -> Path:
    lines = [json.dumps(r, ensure_ascii=False) for r in records] + list(raw_lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def reconciles(pf: ParsedFile) -> None:
    """rows_in == accepted + rejected, and every accepted row reaches some table."""
    assert pf.rows_in == pf.accepted + pf.rejected
    assert pf.accepted >= 0
    assert set(pf.rejects.columns) == {"file", "line", "column", "reason", "raw_value"}
    assert pf.rejects["line"].notna().all()


@pytest.fixture
def tmp_files(tmp_path: Path) -> Callable[[str], Path]:
    return lambda name: tmp_path / name
