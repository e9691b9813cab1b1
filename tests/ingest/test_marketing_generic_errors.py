"""Marketing tables, the generic preset adapter, and the errors a user can cause."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from scrm_lib.errors import InputFileError
from scrm_lib.ingest import detect_format, list_presets, parse_file
from scrm_lib.ingest.read import head_rows, is_utf8, read_table
from tests.ingest.conftest import TMALL_HEADER, reconciles, tmall_row, write_csv


def test_every_contract_format_has_a_preset() -> None:
    assert set(list_presets()) >= {
        "tmall_orders",
        "douyin_orders",
        "youzan_orders",
        "miniapp_users",
        "miniapp_orders",
        "miniapp_events",
        "miniapp_referrals",
        "wecom_contacts",
        "wecom_events",
        "wecom_chat_archive",
        "wecom_staff",
        "channels",
        "touches",
        "consent",
        "experiment_assignments",
    }


def test_channels(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "channels.csv",
        ["渠道码", "渠道名称", "渠道类型", "成本", "创建时间"],
        [
            {
                "渠道码": "ch1",
                "渠道名称": "门店海报",
                "渠道类型": "海报",
                "成本": "1,200.00",
                "创建时间": "2025-01-01 00:00:00",
            },
            {
                "渠道码": "ch2",
                "渠道名称": "直播间",
                "渠道类型": "直播间",
                "成本": "免费",
                "创建时间": "2025-01-01 00:00:00",
            },
        ],
    )
    assert detect_format(path) == "channels"
    pf = parse_file(path)
    reconciles(pf)
    assert pf.tables["channels"]["cost"].tolist() == [1200.0]
    assert pf.rejects["raw_value"].tolist() == ["免费"]


def test_touches_and_consent_resolve_user_types(tmp_path: Path) -> None:
    header = ["活动", "渠道", "用户类型", "用户标识", "发送时间", "是否打开", "是否点击"]
    rows = [
        {
            "活动": "双11",
            "渠道": "sms",
            "用户类型": "phone",
            "用户标识": "138-1234-5678",
            "发送时间": "2025-01-01 10:00:00",
            "是否打开": "是",
            "是否点击": "否",
        },
        {
            "活动": "双11",
            "渠道": "wecom_1v1",
            "用户类型": "external_userid",
            "用户标识": "wmA",
            "发送时间": "2025-01-01 10:00:00",
            "是否打开": "否",
            "是否点击": "否",
        },
        {
            "活动": "双11",
            "渠道": "miniapp_push",
            "用户类型": "openid",
            "用户标识": "oA1",
            "发送时间": "2025-01-01 10:00:00",
            "是否打开": "是",
            "是否点击": "是",
        },
        {
            "活动": "双11",
            "渠道": "sms",
            "用户类型": "phone",
            "用户标识": "138****5678",
            "发送时间": "2025-01-01 10:00:00",
            "是否打开": "否",
            "是否点击": "否",
        },
        {
            "活动": "双11",
            "渠道": "sms",
            "用户类型": "fax",
            "用户标识": "1",
            "发送时间": "2025-01-01 10:00:00",
            "是否打开": "否",
            "是否点击": "否",
        },
    ]
    path = write_csv(tmp_path / "touches.csv", header, rows)
    assert detect_format(path) == "touches"
    pf = parse_file(path)
    reconciles(pf)
    assert (pf.rows_in, pf.rejected) == (5, 2)
    t = pf.tables["touches"]
    assert t["account_id"].tolist() == ["phone:+8613812345678", "wecom:wmA", "wechat:oA1"]
    assert t["opened"].tolist() == [True, False, True] and t["touch_id"].is_unique
    ids = pf.tables["identifiers"]
    assert ids[["account_id", "kind", "value"]].values.tolist() == [
        ["phone:+8613812345678", "phone", "+8613812345678"]
    ]

    cpath = write_csv(
        tmp_path / "consent.csv",
        ["用户类型", "用户标识", "渠道", "是否同意", "时间"],
        [
            {
                "用户类型": "openid",
                "用户标识": "oA1",
                "渠道": "sms",
                "是否同意": "否",
                "时间": "2025-01-02 00:00:00",
            }
        ],
    )
    assert detect_format(cpath) == "consent"
    c = parse_file(cpath).tables["consent"]
    assert c["granted"].tolist() == [False] and c["account_id"].tolist() == ["wechat:oA1"]


def test_assignments(tmp_path: Path) -> None:
    header = ["experiment", "unit_type", "unit_id", "variant", "assigned_at"]
    rows = [
        {
            "experiment": "e1",
            "unit_type": "account",
            "unit_id": "wechat:oA1",
            "variant": "B",
            "assigned_at": "2025-01-01T10:00:00+08:00",
        },
        {
            "experiment": "e1",
            "unit_type": "group",
            "unit_id": "wrG1",
            "variant": "A",
            "assigned_at": "2025-01-01T02:00:00Z",
        },
        {
            "experiment": "e1",
            "unit_type": "team",
            "unit_id": "x",
            "variant": "A",
            "assigned_at": "2025-01-01T02:00:00Z",
        },
    ]
    pf = parse_file(write_csv(tmp_path / "experiment_assignments.csv", header, rows))
    reconciles(pf)
    a = pf.tables["assignments"]
    assert pf.format == "experiment_assignments" and pf.rejected == 1
    assert (a["ts"] == pd.Timestamp("2025-01-01 02:00", tz="UTC")).all()


GENERIC = """
name = "acme_orders"
adapter = "generic"
table = "orders"
platform = "acme"
files = ["acme_*.csv"]
required = ["order_id", "buyer", "created_at", "amount"]

[columns]
order_id = ["单号", "Order No"]
buyer = "会员手机"
created_at = "下单时间"
amount = "实付(分)"
status = "状态"
nickname = "昵称"

[types]
amount = "amount_fen"

[account]
field = "buyer"
kind = "phone"
display_name = "nickname"

[identifiers]
nickname = "nickname"

[status]
"已付款" = "paid"
"已退款" = "refunded"
"""


def test_generic_preset_by_path_and_in_home(tmp_path: Path) -> None:
    preset = tmp_path / "acme_orders.toml"
    preset.write_text(GENERIC, encoding="utf-8")
    rows = [
        {
            "Order No": "A1",
            "会员手机": "+86 139 0000 1111",
            "下单时间": "2025/03/01 12:00",
            "实付(分)": "1999",
            "状态": "已付款",
            "昵称": "阿呆",
        },
        {
            "Order No": "A2",
            "会员手机": "bad",
            "下单时间": "2025/03/01 12:00",
            "实付(分)": "1",
            "状态": "已付款",
            "昵称": "",
        },
        {
            "Order No": "A3",
            "会员手机": "13900001111",
            "下单时间": "2025/03/01 12:00",
            "实付(分)": "abc",
            "状态": "已退款",
            "昵称": "",
        },
    ]
    path = write_csv(
        tmp_path / "acme_1.csv",
        ["Order No", "会员手机", "下单时间", "实付(分)", "状态", "昵称"],
        rows,
    )
    pf = parse_file(path, preset=str(preset))
    reconciles(pf)
    assert (pf.format, pf.rows_in, pf.rejected) == ("acme_orders", 3, 2)
    o = pf.tables["orders"]
    assert o[["order_id", "account_id", "amount", "status", "platform"]].values.tolist() == [
        ["A1", "acme:+8613900001111", 19.99, "paid", "acme"]
    ]
    assert pf.tables["accounts"]["display_name"].tolist() == ["阿呆"]
    assert set(pf.rejects["column"]) == {"会员手机", "实付(分)"}

    class Home:
        home = tmp_path

    (tmp_path / "presets").mkdir()
    (tmp_path / "presets" / "acme_orders.toml").write_text(GENERIC, encoding="utf-8")
    assert "acme_orders" in list_presets(Home())
    assert detect_format(path, Home()) == "acme_orders"


# ------------------------------------------------------------------ errors


def _err(path: Path, **kw) -> str:
    with pytest.raises(InputFileError) as info:
        parse_file(path, **kw)
    msg = str(info.value)
    assert msg.startswith(str(path)) and "\n" not in msg
    return msg


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "tmall_orders_e.csv").write_bytes(b"")
    assert "empty file" in _err(tmp_path / "tmall_orders_e.csv")
    (tmp_path / "blank.csv").write_bytes(b"\n\n  \n")
    assert "empty file" in _err(tmp_path / "blank.csv")
    (tmp_path / "e.jsonl").write_bytes(b"\n")
    assert "empty file" in _err(tmp_path / "e.jsonl")
    # blank for longer than the head that is read to find the header: still empty
    (tmp_path / "long_blank.csv").write_bytes(b" \n" * 600_000)
    assert "empty file" in _err(tmp_path / "long_blank.csv")


def test_json_lines_longer_than_the_head_give_every_key(tmp_path: Path) -> None:
    """The keys of a JSON lines file come from its first 50 records, however long they are."""
    path = tmp_path / "miniapp_users_long.jsonl"
    long = {"openid": "o_long", "nickname": "长" * 400_000, "register_time": "2025-05-01 10:00:00"}
    short = [{"openid": f"o{i}", "register_time": "2025-05-02 10:00:00"} for i in range(3)]
    lines = [json.dumps(long, ensure_ascii=False), *(json.dumps(r) for r in short)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    kind, (keys,), _ = head_rows(path)
    assert kind == "jsonl" and keys == ["openid", "nickname", "register_time"]


def test_header_only(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "tmall_orders_h.csv", TMALL_HEADER, [], encoding="gbk")
    assert "no data rows" in _err(path)


def test_missing_required_column_names_it_and_the_preset(tmp_path: Path) -> None:
    # 订单付款时间 stands in for a missing 订单创建时间: without either the file has no time
    header = [h for h in TMALL_HEADER if h not in ("订单创建时间", "订单付款时间")]
    path = write_csv(tmp_path / "tmall_orders_m.csv", header, [tmall_row(1)], encoding="gbk")
    msg = _err(path, preset="tmall_orders")
    assert "missing required column 订单创建时间" in msg and "tmall_orders" in msg
    msg = _err(path)  # detection says what it tried and which preset came closest
    assert "unknown format" in msg and "tmall_orders lacks 订单创建时间" in msg


def test_unknown_format(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "x.csv", ["foo", "bar"], [{"foo": "1", "bar": "2"}])
    msg = _err(path)
    assert "unknown format" in msg and "foo, bar" in msg and "tried" in msg


def test_undecodable_bytes(tmp_path: Path) -> None:
    path = tmp_path / "tmall_orders_bin.csv"
    path.write_bytes(bytes(range(128, 256)) * 50)
    msg = _err(path)
    assert "cannot decode" in msg and "gb18030" in msg


def test_title_row_above_csv_header(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "tmall_orders_t.csv",
        TMALL_HEADER,
        [tmall_row(1), tmall_row(2, 订单创建时间="32/13/2025")],
        title="淘宝订单报表 2025年1月",
        encoding="gbk",
    )
    pf = parse_file(path)
    reconciles(pf)
    assert pf.tables["orders"]["source_line"].tolist() == [3]
    assert pf.rejects["line"].tolist() == [4]


def test_unknown_preset_and_wrong_reader(tmp_path: Path) -> None:
    from scrm_lib.errors import ConfigError

    path = write_csv(tmp_path / "tmall_orders_1.csv", TMALL_HEADER, [tmall_row(1)])
    with pytest.raises(ConfigError, match="unknown preset"):
        parse_file(path, preset="nope")
    assert "reads jsonl files" in _err(path, preset="miniapp_users")
    assert "file not found" in _err(tmp_path / "missing.csv")


@pytest.mark.parametrize(
    "raw",
    [b"", b"plain", "订单".encode(), "订单".encode("gbk"), b"\xed\xa0\x80", b"\xc0\xaf",
     b"\xf4\x90\x80\x80", b"\xe8\xae", "𝄞\ufffe".encode(), b"\xef\xbb\xbf{}"],
    ids=["empty", "ascii", "cjk", "gbk", "surrogate", "overlong", "beyond-U+10FFFF",
         "cut-short", "astral", "bom"],
)  # fmt: skip
def test_the_utf8_check_agrees_with_pythons_strict_decoder(raw: bytes) -> None:
    try:
        raw.decode("utf-8")
        valid = True
    except UnicodeDecodeError:
        valid = False
    assert is_utf8(raw) is valid
    assert is_utf8(memoryview(b"--" + raw)[2:]) is valid


def test_a_gbk_json_lines_file_is_decoded(tmp_path: Path) -> None:
    path = tmp_path / "miniapp_users_gbk.jsonl"
    rec = {"openid": "o_gbk_1", "nickname": "王芳的会员卡", "register_time": "2025-05-01 10:00:00"}
    path.write_bytes((json.dumps(rec, ensure_ascii=False) + "\n").encode("gbk"))
    assert read_table(path).df["nickname"].tolist() == ["王芳的会员卡"]
