"""Conversation sources: Douyin and Xiaohongshu comments and DMs, mini-program 客服消息.

Hand-made files, each laid out differently (header spellings, column order,
optional columns missing, extra columns, CSV and xlsx, dirty cells), read
through ``parse_file`` and then staged into the canonical ``messages``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from scrm_lib.engine import duckdb_connect
from scrm_lib.ingest import detect_format, parse_file
from scrm_lib.ingest.comments import message_text
from scrm_lib.warehouse.canonical import canonical_tables
from tests.conftest import stage_on
from tests.ingest.conftest import reconciles, write_csv, write_jsonl, write_xlsx

LONG = "这款面霜用了两个月，" * 300  # 3,000 characters: kept whole


def utc(text: str) -> pd.Timestamp:
    """A Beijing wall-clock time as the UTC instant ingest stores."""
    return pd.Timestamp(text, tz="Asia/Shanghai").tz_convert("UTC")


def by_id(pf) -> pd.DataFrame:
    return pf.tables["messages"].set_index("message_id")


# ---------------------------------------------------------------- Douyin comments


DY_HEADER = [
    "评论ID",
    "视频ID",
    "视频标题",
    "评论内容",
    "评论时间",
    "用户昵称",
    "抖音号",
    "点赞数",
    "回复内容",
    "IP属地",
    "运营备注",  # a column no preset maps
]


def dy_row(i: int, **over: str) -> dict[str, str]:
    r = {
        "评论ID": f"7340{i:011d}",
        "视频ID": "7339000000000000001",
        "视频标题": "春季新品上身效果",
        "评论内容": f"第{i}条：多少钱？",
        "评论时间": f"2025-03-01 20:{i:02d}:00",
        "用户昵称": f"用户{i}",
        "抖音号": f"dy_fan{i}",
        "点赞数": str(i),
        "回复内容": "",
        "IP属地": "浙江",
        "运营备注": "",
    }
    r.update(over)
    return r


def test_douyin_comments_csv_replies_dirty_cells_and_rejects(tmp_path: Path) -> None:
    rows = [
        dy_row(1, 回复内容="私信您了哦～", 运营备注="高意向"),
        dy_row(2, 评论内容="😍😍😍"),
        dy_row(3, 评论内容=""),
        dy_row(4, 评论内容=LONG),
        dy_row(5, 评论时间="昨天 20:05"),
        dy_row(6, 抖音号=""),
        dy_row(7, 评论ID=""),
    ]
    path = write_csv(tmp_path / "douyin_comments_0301.csv", DY_HEADER, rows)
    assert detect_format(path) == "douyin_comments"
    pf = parse_file(path)
    reconciles(pf)
    assert (pf.rows_in, pf.rejected) == (7, 2)
    rej = pf.rejects.set_index("line")
    # CSV line 6 is the fifth data row: the bad time is named with file, row, column and value
    assert rej.loc[6, "file"] == "douyin_comments_0301.csv"
    assert rej.loc[6, "column"] == "评论时间"
    assert rej.loc[6, "reason"] == "unparseable timestamp"
    assert rej.loc[6, "raw_value"] == "昨天 20:05"
    assert rej.loc[8, "column"] == "评论ID" and rej.loc[8, "reason"] == "missing value"

    m = by_id(pf)
    assert set(m["channel"]) == {"douyin_comment"}
    assert set(m["room_id"]) == {"7339000000000000001"}
    assert m["staff_id"].isna().all()
    c1, reply = m.loc["734000000000001"], m.loc["734000000000001:reply"]
    assert (c1["direction"], c1["account_id"], c1["text"]) == (
        "in",
        "douyin:dy_fan1",
        "第1条：多少钱？",
    )
    assert c1["ts"] == utc("2025-03-01 20:01:00")
    # the brand's reply: its own out row, same customer and video; no reply time in this export
    assert (reply["direction"], reply["account_id"], reply["text"]) == (
        "out",
        "douyin:dy_fan1",
        "私信您了哦～",
    )
    assert reply["ts"] == c1["ts"] and reply["room_id"] == c1["room_id"]
    assert m.loc["734000000000002", "text"] == "😍😍😍"
    assert pd.isna(m.loc["734000000000003", "text"])  # blank text: kept, text null
    assert m.loc["734000000000004", "text"] == LONG
    # no user id on the row: the comment stays, with no account
    assert pd.isna(m.loc["734000000000006", "account_id"])
    assert m.loc["734000000000006", "direction"] == "in"
    assert (m["direction"] == "out").sum() == 1
    acc = pf.tables["accounts"].set_index("account_id")
    assert acc.loc["douyin:dy_fan2", "display_name"] == "用户2"
    assert acc.loc["douyin:dy_fan2", "native_id"] == "dy_fan2"


def test_douyin_comments_xlsx_other_spellings_and_author_rows(tmp_path: Path) -> None:
    # another template: 作品ID / 发布时间 / 用户ID next to 抖音号, columns reordered,
    # no 视频标题, 点赞数, IP属地; author replies listed as rows of their own, with 回复时间
    header = ["发布时间", "用户ID", "抖音号", "评论内容", "作品ID", "评论ID", "是否作者回复"]
    rows = [
        {
            "发布时间": "2025/03/02 09:15",
            "用户ID": "100200300",
            "抖音号": "meimei_88",
            "评论内容": "求链接",
            "作品ID": "7339000000000000002",
            "评论ID": "c-1",
            "是否作者回复": "否",
        },
        {
            "发布时间": "2025/03/02 09:30",
            "用户ID": "999",
            "抖音号": "brand_official",
            "评论内容": "左下角小黄车～",
            "作品ID": "7339000000000000002",
            "评论ID": "c-2",
            "是否作者回复": "是",
        },
        {
            "发布时间": "2025/03/02 10:00",
            "用户ID": "100200301",
            "抖音号": "",
            "评论内容": "好",
            "作品ID": "7339000000000000002",
            "评论ID": "c-3",
            "是否作者回复": "maybe",
        },
    ]
    path = write_xlsx(tmp_path / "评论导出.xlsx", header, rows)
    assert detect_format(path) == "douyin_comments"
    pf = parse_file(path)
    reconciles(pf)
    assert pf.rejected == 1 and pf.rejects["raw_value"].tolist() == ["maybe"]
    m = by_id(pf)
    # 用户ID wins over 抖音号 when the export has both
    assert m.loc["c-1", "account_id"] == "douyin:100200300"
    assert m.loc["c-1", "ts"] == utc("2025-03-02 09:15:00")
    assert m.loc["c-1", "room_id"] == "7339000000000000002"
    # the author's own comment: out, and no customer
    assert m.loc["c-2", "direction"] == "out" and pd.isna(m.loc["c-2", "account_id"])
    assert "douyin:999" not in set(pf.tables["accounts"]["account_id"])
    assert m.index.tolist() == ["c-1", "c-2"]


def test_douyin_comments_reply_time_and_own_ids(tmp_path: Path) -> None:
    preset = tmp_path / "my_douyin_comments.toml"
    builtin = Path(__file__).resolve().parents[2] / "scrm_lib/presets/douyin_comments.toml"
    preset.write_text(
        builtin.read_text(encoding="utf-8")
        .replace('name = "douyin_comments"', 'name = "my_douyin_comments"')
        .replace("own_ids = []", 'own_ids = ["brand_dy"]'),
        encoding="utf-8",
    )
    header = ["评论ID", "直播间ID", "评论内容", "评论时间", "抖音号", "回复内容", "回复时间"]
    rows = [
        {
            "评论ID": "L1",
            "直播间ID": "room9",
            "评论内容": "主播身高多少",
            "评论时间": "2025-03-03 20:00:00",
            "抖音号": "fan_a",
            "回复内容": "165cm哦",
            "回复时间": "2025-03-03 20:02:30",
        },
        {
            "评论ID": "L2",
            "直播间ID": "room9",
            "评论内容": "欢迎新进直播间的宝宝",
            "评论时间": "2025-03-03 20:03:00",
            "抖音号": "brand_dy",
        },
        {
            "评论ID": "L3",
            "直播间ID": "room9",
            "评论内容": "上链接",
            "评论时间": "2025-03-03 20:04:00",
            "抖音号": "fan_b",
            "回复内容": "已上",
            "回复时间": "不详",
        },
    ]
    path = write_csv(tmp_path / "live_comments.csv", header, rows)
    pf = parse_file(path, preset=str(preset))
    reconciles(pf)
    assert pf.rejected == 1 and pf.rejects["column"].tolist() == ["回复时间"]
    m = by_id(pf)
    assert m.loc["L1:reply", "ts"] == utc("2025-03-03 20:02:30")
    assert m.loc["L1:reply", "direction"] == "out"
    assert m.loc["L2", "direction"] == "out" and pd.isna(m.loc["L2", "account_id"])
    assert sorted(m.index) == ["L1", "L1:reply", "L2"]


def test_douyin_comments_without_any_user_column(tmp_path: Path) -> None:
    header = ["视频ID", "评论ID", "评论时间", "评论内容", "用户昵称"]
    rows = [
        {"视频ID": "v1", "评论ID": "n1", "评论时间": "2025-03-04 08:00:00", "评论内容": "赞"},
        {"视频ID": "v1", "评论ID": "n2", "评论时间": "2025-03-04 08:01:00", "用户昵称": "路人"},
    ]
    pf = parse_file(write_csv(tmp_path / "douyin_comments_nouser.csv", header, rows))
    reconciles(pf)
    m = by_id(pf)
    assert m["account_id"].isna().all() and m["direction"].tolist() == ["in", "in"]
    assert pf.tables.get("accounts", pd.DataFrame()).empty


# ---------------------------------------------------------------- Douyin DMs


def test_douyin_dms_brand_found_and_non_text_placeholders(tmp_path: Path) -> None:
    header = ["会话ID", "发送方", "接收方", "消息内容", "消息类型", "发送时间", "客服备注"]
    rows = [
        ("S1", "u100", "brand77", "你好，有优惠吗", "文本", "2025-03-05 10:00:00"),
        ("S1", "brand77", "u100", "今天下单立减20", "文本", "2025-03-05 10:01:00"),
        ("S1", "u100", "brand77", "", "图片", "2025-03-05 10:02:00"),
        ("S2", "u200", "brand77", "[微笑]", "表情", "2025-03-05 11:00:00"),
        ("S2", "brand77", "u200", "", "商品卡片", "2025-03-05 11:01:00"),
        ("S3", "小雨🌸", "brand77", "在吗", "文本", "2025-03-05 12:00:00"),
        ("S3", "brand77", "小雨🌸", "在的", "文本", "2025-03-05 12:00:40"),
        ("S3", "u300", "brand77", "收到", "voice", "2025-13-05 12:01:00"),
    ]
    recs = [dict(zip(header, (*r, ""), strict=True)) for r in rows]
    path = write_csv(tmp_path / "douyin_messages_0305.csv", header, recs)
    assert detect_format(path) == "douyin_messages"
    pf = parse_file(path)
    reconciles(pf)
    assert pf.rejected == 1
    assert pf.rejects.iloc[0][["line", "column", "raw_value"]].tolist() == [
        9,
        "发送时间",
        "2025-13-05 12:01:00",
    ]
    m = pf.tables["messages"].reset_index(drop=True)
    assert set(m["channel"]) == {"douyin_dm"}
    assert m["direction"].tolist() == ["in", "out", "in", "in", "out", "in", "out"]
    assert m["account_id"].tolist()[:5] == ["douyin:u100"] * 3 + ["douyin:u200"] * 2
    assert m["room_id"].tolist() == ["S1"] * 3 + ["S2"] * 2 + ["S3"] * 2
    assert m["text"].tolist()[2:5] == ["[图片]", "[表情]", "[商品卡片]"]
    # a party written as a nickname is not an id: the messages stay, with no account
    assert m["account_id"].iloc[5:].isna().all()
    assert m["message_id"].is_unique and m["message_id"].str.startswith("douyin:").all()
    # the same export read again gives the same ids
    assert parse_file(path).tables["messages"]["message_id"].tolist() == m["message_id"].tolist()


def test_douyin_dms_xlsx_role_column_and_user_id(tmp_path: Path) -> None:
    # a service-tool export: the role of the sender, the user's 抖音号, message ids;
    # a single conversation, so no party could be told from conversation counts
    header = [
        "消息ID",
        "会话ID",
        "用户抖音号",
        "用户昵称",
        "发送方类型",
        "发送者",
        "内容",
        "发送时间",
    ]
    base_row = {"会话ID": "c9", "用户抖音号": "xiaomei", "用户昵称": "小美"}
    rows = [
        {**base_row, "消息ID": "m1", "发送方类型": "用户", "发送者": "小美", "内容": "退货地址？"},
        {**base_row, "消息ID": "m2", "发送方类型": "商家", "发送者": "客服A", "内容": "稍等"},
        {**base_row, "消息ID": "m3", "发送方类型": "自动回复", "发送者": "系统", "内容": "感谢"},
    ]
    for i, r in enumerate(rows):
        r["发送时间"] = f"2025-03-06 09:0{i}:00"
    path = write_xlsx(tmp_path / "私信记录.xlsx", header, rows)
    assert detect_format(path) == "douyin_messages"
    pf = parse_file(path)
    reconciles(pf)
    m = by_id(pf)
    assert m["direction"].tolist() == ["in", "out", "out"]
    assert set(m["account_id"]) == {"douyin:xiaomei"}
    assert pf.tables["accounts"]["display_name"].tolist() == ["小美"]


def test_a_single_conversation_without_roles_takes_the_opener_as_the_user(tmp_path: Path) -> None:
    header = ["会话ID", "发送方", "接收方", "消息内容", "发送时间"]
    rows = [
        {
            "会话ID": "x",
            "发送方": "b1",
            "接收方": "u1",
            "消息内容": "好的",
            "发送时间": "1741230060",
        },
        {
            "会话ID": "x",
            "发送方": "u1",
            "接收方": "b1",
            "消息内容": "在吗",
            "发送时间": "1741230000",
        },
    ]
    pf = parse_file(write_csv(tmp_path / "douyin_messages_one.csv", header, rows))
    m = pf.tables["messages"]
    assert m["direction"].tolist() == ["out", "in"]
    assert set(m["account_id"]) == {"douyin:u1"}
    assert m["ts"].iloc[1] == pd.Timestamp("2025-03-06 03:00:00", tz="UTC")


# ---------------------------------------------------------------- Xiaohongshu


def test_xiaohongshu_comments_join_the_order_exports_accounts(tmp_path: Path) -> None:
    header = [
        "笔记ID",
        "笔记标题",
        "评论ID",
        "评论内容",
        "评论时间",
        "用户昵称",
        "用户ID",
        "小红书号",
    ]
    header += ["点赞数", "IP属地", "回复内容"]
    uid = "5f3e00000000000000000001"
    rows = [
        {
            "笔记ID": "65f1a2b3c4d5e6f7a8b9c0d1",
            "笔记标题": "油皮夏天护肤",
            "评论ID": "66aa01",
            "评论内容": "敏感肌能用吗",
            "评论时间": "2025-03-07 21:00:00",
            "用户昵称": "夕夕爱护肤",
            "用户ID": uid,
            "小红书号": "95012345",
            "点赞数": "12",
            "IP属地": "上海",
            "回复内容": "可以的，温和配方",
        },
        {
            "笔记ID": "65f1a2b3c4d5e6f7a8b9c0d1",
            "评论ID": "66aa02",
            "评论内容": "🙋",
            "评论时间": "2025-03-07 21:05:00",
            "小红书号": "95099999",
        },
    ]
    path = write_csv(tmp_path / "笔记评论_0307.csv", header, rows)
    assert detect_format(path) == "xiaohongshu_comments"
    pf = parse_file(path)
    reconciles(pf)
    m = by_id(pf)
    assert set(m["channel"]) == {"xhs_comment"}
    assert m.loc["66aa01", "account_id"] == f"xiaohongshu:{uid}"
    assert m.loc["66aa01:reply", ["direction", "text"]].tolist() == ["out", "可以的，温和配方"]
    assert m.loc["66aa02", "account_id"] == "xiaohongshu:95099999"  # no 用户ID: the 小红书号
    # the shop's order export keys the same buyer by the same 用户ID
    order_header = ["订单号", "下单时间", "用户实付金额", "用户ID", "收件人"]
    order = {
        "订单号": "P700000000000000001",
        "下单时间": "2025-03-08 10:00:00",
        "用户实付金额": "79.00",
        "用户ID": uid,
        "收件人": "林小夕",
    }
    orders = parse_file(
        write_csv(tmp_path / "xiaohongshu_orders_0308.csv", order_header, [order]),
        preset="xiaohongshu_orders",
    ).tables["orders"]
    assert orders["account_id"].tolist() == [m.loc["66aa01", "account_id"]]


def test_xiaohongshu_dms(tmp_path: Path) -> None:
    header = ["会话ID", "小红书号", "发送方", "接收方", "消息类型", "消息内容", "发送时间"]
    rows = [
        {
            "会话ID": "r1",
            "小红书号": "9501",
            "发送方": "9501",
            "接收方": "shop1",
            "消息类型": "text",
        },
        {
            "会话ID": "r1",
            "小红书号": "9501",
            "发送方": "shop1",
            "接收方": "9501",
            "消息类型": "image",
        },
    ]
    rows[0].update(消息内容="有小样吗", 发送时间="2025-03-09 15:00:00")
    rows[1].update(消息内容="https://ci.xiaohongshu.com/x.jpg", 发送时间="2025-03-09 15:01:00")
    path = write_csv(tmp_path / "dm_export.csv", header, rows)
    assert detect_format(path) == "xiaohongshu_messages"
    m = parse_file(path).tables["messages"]
    assert set(m["channel"]) == {"xhs_dm"}
    assert m["direction"].tolist() == ["in", "out"]
    assert set(m["account_id"]) == {"xiaohongshu:9501"}
    assert m["text"].tolist() == ["有小样吗", "[图片]"]


# ---------------------------------------------------------------- mini-program 客服消息


def test_miniapp_service_messages(tmp_path: Path) -> None:
    t0 = 1741500000  # 2025-03-09 06:00:00 UTC
    recs = [
        {"ToUserName": "gh_1a2b", "FromUserName": "oU_1", "CreateTime": t0, "MsgType": "text",
         "Content": "什么时候发货", "MsgId": 24000000000000001},
        {"ToUserName": "oU_1", "FromUserName": "gh_1a2b", "CreateTime": t0 + 60,
         "MsgType": "text", "Content": "今天下午", "KfAccount": "kf2001@shop"},
        {"ToUserName": "gh_1a2b", "FromUserName": "oU_1", "CreateTime": t0 + 90,
         "MsgType": "image", "PicUrl": "http://mmbiz/1.jpg", "MediaId": "M1",
         "MsgId": 24000000000000002},
        {"ToUserName": "gh_1a2b", "FromUserName": "oU_2", "CreateTime": t0 + 100,
         "MsgType": "miniprogrampage", "Title": "春季新品", "PagePath": "pages/item?id=9",
         "MsgId": 24000000000000003},
        {"ToUserName": "gh_1a2b", "FromUserName": "oU_2", "CreateTime": t0 + 5,
         "MsgType": "event", "Event": "user_enter_tempsession", "SessionFrom": "goods_9"},
        {"ToUserName": "gh_1a2b", "FromUserName": "oU_3", "CreateTime": t0 + 200,
         "MsgType": "voice", "MsgId": 24000000000000004},
        {"ToUserName": "gh_1a2b", "FromUserName": "oU_3", "CreateTime": "tomorrow",
         "MsgType": "text", "Content": "?", "MsgId": 24000000000000005},
        {"ToUserName": "gh_1a2b", "FromUserName": "oU_3", "CreateTime": t0 + 300,
         "MsgType": "text", "Content": "", "MsgId": 24000000000000006},
        {"ToUserName": "gh_1a2b", "FromUserName": "oU_3", "CreateTime": t0 + 400,
         "MsgType": "event", "Event": "kf_close_session"},
    ]  # fmt: skip
    path = write_jsonl(tmp_path / "miniapp_service_0309.jsonl", recs)
    assert detect_format(path) == "miniapp_service"
    pf = parse_file(path)
    reconciles(pf)
    assert (pf.rows_in, pf.rejected) == (9, 1)
    assert pf.rejects.iloc[0][["line", "column", "raw_value"]].tolist() == [
        7,
        "CreateTime",
        "tomorrow",
    ]
    m = pf.tables["messages"].reset_index(drop=True)
    assert set(m["channel"]) == {"miniapp_service"}
    assert m["direction"].tolist() == ["in", "out", "in", "in", "in", "in", "in", "in"]
    assert (
        m["account_id"].tolist() == ["wechat:oU_1"] * 3 + ["wechat:oU_2"] * 2 + ["wechat:oU_3"] * 3
    )
    assert m["staff_id"].iloc[1] == "kf2001@shop" and m["staff_id"].drop(index=1).isna().all()
    assert m["text"].tolist()[:5] == [
        "什么时候发货",
        "今天下午",
        "[图片]",
        "[小程序卡片]",
        "[进入会话]",
    ]
    assert m["text"].iloc[5] == "[语音]" and pd.isna(m["text"].iloc[6])
    assert m["text"].iloc[7] == "[事件]"
    assert m["message_id"].iloc[0] == "24000000000000001"
    assert m["message_id"].is_unique
    assert m["ts"].iloc[0] == pd.Timestamp("2025-03-09 06:00:00", tz="UTC")
    assert m["room_id"].tolist()[:2] == ["oU_1", "oU_1"]


def test_miniapp_service_accounts_are_the_mini_programs_openid_accounts(tmp_path: Path) -> None:
    rec = {"ToUserName": "gh_x", "FromUserName": "oA1", "CreateTime": 1741500000, "MsgType": "text",
           "Content": "你好", "MsgId": 1}  # fmt: skip
    kf = parse_file(write_jsonl(tmp_path / "miniapp_service.jsonl", [rec]))
    order = {"order_id": "W1", "openid": "oA1", "created_at": 1741400000, "amount": 1000}
    orders = parse_file(write_jsonl(tmp_path / "miniapp_orders.jsonl", [order]))
    assert (
        kf.tables["messages"]["account_id"].tolist()
        == orders.tables["orders"]["account_id"].tolist()
    )


# ---------------------------------------------------------------- into the warehouse


def test_comments_and_replies_reach_canonical_messages_once(tmp_path: Path) -> None:
    first = parse_file(
        write_csv(
            tmp_path / "douyin_comments_a.csv",
            DY_HEADER,
            [dy_row(1, 回复内容="感谢支持"), dy_row(2)],
        )
    )
    # a later export of the same video: the old comments again, one new comment
    second = parse_file(
        write_csv(tmp_path / "douyin_comments_b.csv", DY_HEADER, [dy_row(1), dy_row(2), dy_row(3)])
    )
    con = duckdb_connect()
    try:
        staged = {
            name: stage_on(con, name, [(0, first.tables[name]), (1, second.tables[name])])
            for name in ("messages", "accounts")
        }
        out = canonical_tables(staged).tables
        msgs = con.to_pandas(out["messages"]).set_index("message_id").sort_index()
        accounts = con.to_pandas(out["accounts"]).set_index("account_id")
    finally:
        con.disconnect()
    assert msgs.index.tolist() == [
        "734000000000001",
        "734000000000001:reply",
        "734000000000002",
        "734000000000003",
    ]
    assert msgs.loc["734000000000001:reply", "direction"] == "out"
    assert msgs.loc["734000000000003", "source_file"] == "douyin_comments_b.csv"
    assert {"douyin:dy_fan1", "douyin:dy_fan2", "douyin:dy_fan3"} <= set(accounts.index)
    assert accounts.loc["douyin:dy_fan1", "first_seen"] == utc("2025-03-01 20:01:00")


@pytest.mark.parametrize(
    ("kind", "content", "text"),
    [
        ("text", "你好", "你好"),
        ("TEXT", None, None),
        ("表情", "[微笑]", "[表情]"),
        ("miniprogrampage", None, "[小程序卡片]"),
        ("gift", None, "[gift]"),
        ("red_packet", None, "[其他消息]"),
        ("red_packet", "恭喜发财", "恭喜发财"),
        (None, "无类型", "无类型"),
    ],
)
def test_message_text(kind: str | None, content: str | None, text: str | None) -> None:
    got = message_text(pd.Series([kind], dtype="str"), pd.Series([content], dtype="str"))
    assert (pd.isna(got.iloc[0]) and text is None) or got.iloc[0] == text


def test_dms_without_conversation_ids_pair_the_parties(tmp_path: Path) -> None:
    # GBK, no 会话ID: conversations are the sender/receiver pairs, the brand the one in all
    header = ["发送时间", "发送方", "接收方", "消息内容", "小红书号"]
    rows = [
        ("2025-03-10 08:00:00", "u1", "shopX", "还有货吗"),
        ("2025-03-10 08:00:30", "shopX", "u1", "有的"),
        ("2025-03-10 09:00:00", "u2", "shopX", "怎么退"),
        ("2025-03-10 09:30:00", "u3", "shopX", "谢谢"),
    ]
    recs = [dict(zip(header, (*r, ""), strict=True)) for r in rows]
    path = write_csv(tmp_path / "xhs_dm_0310.csv", header, recs, encoding="gbk")
    assert detect_format(path) == "xiaohongshu_messages"
    m = parse_file(path).tables["messages"]
    assert m["direction"].tolist() == ["in", "out", "in", "in"]
    assert m["account_id"].tolist() == [f"xiaohongshu:{u}" for u in ("u1", "u1", "u2", "u3")]
    assert m["room_id"].tolist() == ["u1", "u1", "u2", "u3"]
