"""Mini-program and WeCom JSON lines: users, orders, events, referrals, contacts, chat."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from scrm_lib.ingest import detect_format, parse_file
from tests.ingest.conftest import reconciles, write_csv, write_jsonl

MS = 1735689600000  # 2025-01-01 00:00 UTC


def test_miniapp_users(tmp_path: Path) -> None:
    recs = [
        {
            "openid": "oA1",
            "unionid": "uX1",
            "nickname": "小王",
            "phone": "13812345678",
            "gender": 1,
            "birthday": "1990-05-01",
            "city": "杭州",
            "subscribe_time": 1735689600,
            "subscribe_scene": "ADD_SCENE_QR_CODE",
            "qr_scene_str": "ch_poster_1",
        },
        {
            "openid": "oA2",
            "nickname": "e\u0301",
            "subscribe_time": 1735689601,
            "subscribe_scene": "ADD_SCENE_SEARCH",
            "qr_scene_str": "",
            "phone": "138****0000",
        },
        {"openid": "oA3", "subscribe_time": "yesterday"},
    ]
    path = write_jsonl(tmp_path / "miniapp_users.jsonl", recs)
    assert detect_format(path) == "miniapp_users"
    pf = parse_file(path)
    reconciles(pf)
    assert (pf.rows_in, pf.rejected) == (3, 1) and pf.rejects["line"].tolist() == [3]
    acc = pf.tables["accounts"].set_index("account_id")
    assert acc.loc["wechat:oA1", "channel_code"] == "ch_poster_1"
    assert pd.isna(acc.loc["wechat:oA2", "channel_code"])
    assert acc.loc["wechat:oA2", "display_name"] == "\u00e9"
    assert acc.loc["wechat:oA1", "first_seen"] == pd.Timestamp(MS, unit="ms", tz="UTC")
    ids = set(zip(pf.tables["identifiers"]["kind"], pf.tables["identifiers"]["value"], strict=True))
    assert {
        ("unionid", "uX1"),
        ("phone", "+8613812345678"),
        ("phone_masked", "138****0000"),
        ("birthday", "1990-05-01"),
        ("openid", "oA1"),
        ("city", "杭州"),
    } <= ids


def test_miniapp_orders_fen_to_yuan_and_items(tmp_path: Path) -> None:
    items = [
        {"sku": "s1", "name": "拼团面膜", "category": "美妆", "qty": 2, "price": 4990},
        {"sku": "s2", "name": "眼霜", "category": "美妆", "qty": 1, "price": 9900},
    ]
    recs = [
        {
            "order_no": "W1",
            "openid": "oA1",
            "create_time": MS,
            "pay_time": MS + 5000,
            "total_fee": 19880,
            "status": "PAID",
            "refund_fee": 0,
            "items": items,
            "groupbuy_id": "g1",
            "channel_code": None,
        },
        {
            "order_no": "W2",
            "openid": "oA2",
            "create_time": MS,
            "pay_time": None,
            "total_fee": 100,
            "status": "REFUNDED",
            "refund_fee": 100,
            "items": [],
            "groupbuy_id": None,
            "channel_code": "ch1",
        },
        {
            "order_no": "W3",
            "openid": "oA2",
            "create_time": MS,
            "pay_time": None,
            "total_fee": 100,
            "status": "WHAT",
            "refund_fee": 0,
            "items": [],
            "groupbuy_id": None,
            "channel_code": None,
        },
    ]
    pf = parse_file(write_jsonl(tmp_path / "miniapp_orders.jsonl", recs))
    reconciles(pf)
    assert pf.format == "miniapp_orders" and pf.rejected == 1
    o = pf.tables["orders"]
    assert o["amount"].tolist() == [198.8, 1.0]
    assert o["refund_amount"].tolist() == [0.0, 1.0]
    assert o["status"].tolist() == ["paid", "refunded"]
    assert o["items"].iloc[0] == "拼团面膜; 眼霜" and o["quantity"].iloc[0] == 3
    assert o["category"].iloc[0] == "美妆" and o["groupbuy_id"].iloc[0] == "g1"
    assert o["channel_code"].tolist()[1] == "ch1"


def test_miniapp_order_address_gives_shipping_identifiers(tmp_path: Path) -> None:
    address = {
        "userName": "李娜",
        "telNumber": "139 1234 5678",
        "provinceName": "浙江省",
        "cityName": "杭州市",
        "countyName": "西湖区",
        "detailInfo": "文三路1号",
    }
    recs = [
        {"order_no": "W1", "openid": "oA1", "create_time": MS, "total_fee": 100,
         "status": "PAID", "address": address},
        {"order_no": "W2", "openid": "oA2", "create_time": MS, "total_fee": 100,
         "status": "PAID", "address": {**address, "telNumber": "138****5678"}},
        {"order_no": "W3", "openid": "oA3", "create_time": MS, "total_fee": 100,
         "status": "PAID"},
    ]  # fmt: skip
    pf = parse_file(write_jsonl(tmp_path / "miniapp_orders.jsonl", recs))
    reconciles(pf)
    ids = pf.tables["identifiers"]
    got = set(map(tuple, ids[["account_id", "kind", "value"]].to_numpy().tolist()))
    assert {
        ("wechat:oA1", "name", "李娜"),
        ("wechat:oA1", "address", "浙江省杭州市西湖区文三路1号"),
        ("wechat:oA1", "city", "杭州市"),
        # a full phone on an address may be a gift's recipient: it never links alone
        ("wechat:oA1", "recipient_phone", "+8613912345678"),
        ("wechat:oA2", "phone_masked", "138****5678"),
    } <= got
    assert not any(k == "phone" for _, k, _ in got)
    assert {a for a, _, _ in got if a == "wechat:oA3"} == {"wechat:oA3"}  # openid only


def _events(tmp_path: Path, name: str, recs: list[dict], extra: tuple[str, ...] = ()) -> Path:
    return write_jsonl(tmp_path / name, recs, raw_lines=extra)


def test_miniapp_events_ids_are_content_hashes(tmp_path: Path) -> None:
    recs = [
        {
            "openid": "oA1",
            "event": "qr_scan",
            "page": "index",
            "ts": MS,
            "props": {"channel_code": "ch1"},
        },
        {
            "openid": "oA1",
            "event": "page_view",
            "page": "groupbuy",
            "ts": MS - 10,
            "props": {"groupbuy_id": "g1"},
        },
        {"openid": "oA1", "event": "cart_add", "page": "sku", "ts": MS + 1, "props": {}},
    ]
    a = parse_file(_events(tmp_path, "miniapp_events.jsonl", recs, ("{not json",)))
    b = parse_file(_events(tmp_path, "miniapp_events_2.jsonl", list(reversed(recs))))
    reconciles(a)
    assert (a.rows_in, a.rejected) == (4, 1) and a.rejects["line"].tolist() == [4]
    assert "invalid JSON" in a.rejects["reason"].iloc[0]
    ea = a.tables["events"].set_index("event_id")
    eb = b.tables["events"].set_index("event_id")
    assert sorted(ea.index) == sorted(eb.index) and ea.index.is_unique
    scan = ea[ea["type"] == "qr_scan"].iloc[0]
    assert json.loads(scan["attributes"]) == {"channel_code": "ch1", "page": "index"}


def test_jsonl_type_conflicts_fall_back(tmp_path: Path) -> None:
    recs = [
        {"openid": "oA1", "event": "share", "ts": MS, "props": {"x": 1}},
        {"openid": "oA2", "event": "share", "ts": str(MS), "props": {"x": "one"}},
    ]
    pf = parse_file(write_jsonl(tmp_path / "miniapp_events.jsonl", recs))
    reconciles(pf)
    assert pf.rejected == 0 and len(pf.tables["events"]) == 2


def test_miniapp_referrals(tmp_path: Path) -> None:
    recs = [
        {
            "inviter_openid": "oA1",
            "invitee_openid": "oA2",
            "ts": MS,
            "kind": "group_leader",
            "campaign": "618",
        },
        {
            "inviter_openid": "oA1",
            "invitee_openid": "",
            "ts": MS,
            "kind": "invite",
            "campaign": "618",
        },
    ]
    pf = parse_file(write_jsonl(tmp_path / "miniapp_referrals.jsonl", recs))
    reconciles(pf)
    assert pf.rejected == 1 and pf.rejects["column"].tolist() == ["invitee_openid"]
    r = pf.tables["referrals"].iloc[0]
    assert (r["inviter_account_id"], r["invitee_account_id"], r["kind"]) == (
        "wechat:oA1",
        "wechat:oA2",
        "group_leader",
    )
    assert set(pf.tables["accounts"]["account_id"]) == {"wechat:oA1", "wechat:oA2"}


def _contact(ext: str, follows: list[dict], **extra) -> dict:
    return {
        "errcode": 0,
        "errmsg": "ok",
        "external_contact": {
            "external_userid": ext,
            "name": "客户" + ext,
            "type": 1,
            "gender": 1,
            **extra,
        },
        "follow_user": follows,
    }


def _follow(
    user: str, t: int, state: str = "", mobiles: tuple[str, ...] = (), remark: str = ""
) -> dict:
    return {
        "userid": user,
        "remark": remark,
        "description": "",
        "createtime": t,
        "tags": [{"group_name": "等级", "tag_name": "VIP", "type": 1}],
        "remark_mobiles": list(mobiles),
        "add_way": 1,
        "state": state,
    }


def test_wecom_contacts_several_staff(tmp_path: Path) -> None:
    recs = [
        _contact(
            "wmA",
            [
                _follow("zhang", 1735689700, "ch_live"),
                _follow("li", 1735689600, "", ("138 1234 5678",), remark="吴敏雪 - 纸尿裤"),
            ],
            unionid="uX1",
        ),
        _contact("wmB", [_follow("zhang", 1735689600, remark="王芳")]),
        {"errcode": 84061, "errmsg": "not external contact"},
    ]
    path = write_jsonl(tmp_path / "wecom_contacts.jsonl", recs)
    assert detect_format(path) == "wecom_contacts"
    pf = parse_file(path)
    reconciles(pf)
    assert (pf.rows_in, pf.rejected) == (3, 1)
    acc = pf.tables["accounts"].set_index("account_id")
    assert acc.loc["wecom:wmA", "first_seen"] == pd.Timestamp(1735689600, unit="s", tz="UTC")
    assert acc.loc["wecom:wmA", "channel_code"] == "ch_live"
    assert acc.loc["wecom:wmA", "display_name"] == "客户wmA"
    ev = pf.tables["events"]
    assert len(ev) == 3 and set(ev["type"]) == {"wecom_follow"}
    staff = {json.loads(a)["staff"] for a in ev["attributes"]}
    assert staff == {"zhang", "li"}
    assert json.loads(ev["attributes"].iloc[0])["tags"] == ["VIP"]
    ids = set(zip(pf.tables["identifiers"]["kind"], pf.tables["identifiers"]["value"], strict=True))
    assert {("unionid", "uX1"), ("phone", "+8613812345678"), ("external_userid", "wmB")} <= ids
    # the remark is the customer's name as the rep typed it; the note after the dash is not
    names = pf.tables["identifiers"].query("kind == 'name'")
    assert sorted(zip(names["account_id"], names["value"], strict=True)) == [
        ("wecom:wmA", "吴敏雪"),
        ("wecom:wmB", "王芳"),
    ]


def test_wecom_events(tmp_path: Path) -> None:
    t = 1735689600
    recs = [
        {
            "ToUserName": "corp",
            "CreateTime": t,
            "Event": "change_external_contact",
            "ChangeType": "add_external_contact",
            "UserID": "zhang",
            "ExternalUserID": "wmA",
            "State": "ch_live",
        },
        {
            "ToUserName": "corp",
            "CreateTime": t + 1,
            "Event": "change_external_contact",
            "ChangeType": "del_follow_user",
            "UserID": "zhang",
            "ExternalUserID": "wmA",
        },
        {
            "ToUserName": "corp",
            "CreateTime": t + 2,
            "Event": "change_external_contact",
            "ChangeType": "del_external_contact",
            "UserID": "zhang",
            "ExternalUserID": "wmB",
        },
        {
            "ToUserName": "corp",
            "CreateTime": t + 3,
            "Event": "change_external_contact",
            "ChangeType": "transfer_success",
            "UserID": "li",
            "ExternalUserID": "wmC",
            "HandoverUserID": "zhang",
        },
        {
            "ToUserName": "corp",
            "CreateTime": t + 4,
            "Event": "change_external_chat",
            "ChangeType": "update",
            "ChatId": "wrG1",
            "UpdateDetail": "add_member",
            "JoinScene": 1,
            "MemChangeList": ["wmA", "wmB", "zhang"],
        },
        {
            "ToUserName": "corp",
            "CreateTime": t + 5,
            "Event": "change_external_chat",
            "ChangeType": "update",
            "ChatId": "wrG1",
            "UpdateDetail": "del_member",
            "QuitScene": 0,
            "MemChangeList": ["wmB"],
        },
        {
            "ToUserName": "corp",
            "CreateTime": t + 6,
            "Event": "change_external_chat",
            "ChangeType": "create",
            "ChatId": "wrG2",
        },
        {
            "ToUserName": "corp",
            "CreateTime": "bad",
            "Event": "change_external_contact",
            "ChangeType": "add_external_contact",
            "UserID": "zhang",
            "ExternalUserID": "wmZ",
        },
    ]
    path = write_jsonl(tmp_path / "wecom_events.jsonl", recs)
    assert detect_format(path) == "wecom_events"
    pf = parse_file(path)
    reconciles(pf)
    assert (pf.rows_in, pf.rejected) == (8, 1) and pf.rejects["line"].tolist() == [8]
    ev = pf.tables["events"].sort_values(["ts", "account_id"]).reset_index(drop=True)
    assert ev["type"].tolist() == [
        "wecom_add",
        "wecom_customer_deleted_staff",
        "wecom_staff_deleted_customer",
        "wecom_handover",
        "group_join",
        "group_join",
        "group_join",
        "group_leave",
        "group_create",
    ]
    assert json.loads(ev["attributes"].iloc[0]) == {"staff": "zhang", "state": "ch_live"}
    assert json.loads(ev["attributes"].iloc[3]) == {"staff": "li", "from_staff": "zhang"}
    joins = ev[ev["type"] == "group_join"]
    assert joins["account_id"].tolist()[:2] == ["wecom:wmA", "wecom:wmB"]
    assert pd.isna(joins["account_id"].iloc[2])
    assert json.loads(joins["attributes"].iloc[2])["member_staff"] == "zhang"
    assert ev["event_id"].is_unique


def test_wecom_chat_archive_directions(tmp_path: Path) -> None:
    def msg(i, frm, to, room=""):
        return {
            "msgid": f"m{i}",
            "action": "send",
            "from": frm,
            "tolist": to,
            "roomid": room,
            "msgtime": MS + i,
            "msgtype": "text",
            "text": {"content": f"内容{i}"},
        }

    recs = [
        msg(1, "wmA", ["zhang"]),
        msg(2, "zhang", ["wmA"]),
        msg(3, "wmB", ["zhang", "wmA"], room="wrG1"),
        msg(4, "zhang", ["wmA", "wmB"], room="wrG1"),
        {**msg(5, "wmA", ["zhang"]), "text": {"content": "=cmd|' /C calc'!A0"}},
        {**msg(6, "wmA", ["zhang"]), "msgtime": None},
    ]
    path = write_jsonl(tmp_path / "wecom_chat_archive.jsonl", recs)
    assert detect_format(path) == "wecom_chat_archive"
    pf = parse_file(path)
    reconciles(pf)
    assert (pf.rows_in, pf.rejected) == (6, 1)
    m = pf.tables["messages"].set_index("message_id")
    assert m["direction"].tolist() == ["in", "out", "in", "out", "in"]
    assert m.loc["m2", "account_id"] == "wecom:wmA" and m.loc["m2", "staff_id"] == "zhang"
    assert m.loc["m1", "staff_id"] == "zhang"
    assert m.loc["m3", "account_id"] == "wecom:wmB" and m.loc["m3", "channel"] == "wecom_group"
    assert pd.isna(m.loc["m4", "account_id"]) and m.loc["m4", "room_id"] == "wrG1"
    assert m.loc["m5", "text"] == "=cmd|' /C calc'!A0"


def test_staff_csv(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "staff.csv",
        ["userid", "name", "department"],
        [
            {"userid": "zhang", "name": "张三", "department": "客服"},
            {"userid": "", "name": "无名", "department": ""},
        ],
    )
    assert detect_format(path) == "wecom_staff"
    pf = parse_file(path)
    reconciles(pf)
    assert pf.tables["staff"]["staff_id"].tolist() == ["zhang"] and pf.rejected == 1


@pytest.mark.parametrize("blank", [True, False])
def test_jsonl_line_numbers_with_blank_lines(tmp_path: Path, blank: bool) -> None:
    recs = [
        {"openid": "oA1", "event": "share", "ts": MS},
        {"openid": "", "event": "share", "ts": MS},
    ]
    lines = [json.dumps(r) for r in recs]
    text = (lines[0] + "\n\n" + lines[1] + "\n") if blank else "\n".join(lines) + "\n"
    path = tmp_path / "miniapp_events.jsonl"
    path.write_text(text, encoding="utf-8")
    pf = parse_file(path)
    assert pf.rejects["line"].tolist() == [3 if blank else 2]
