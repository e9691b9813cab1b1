"""A malformed nested record is rejected on its own line; its neighbours keep all their data.

The files are written by hand in the shapes other tools produce (keys in
another order, extra keys, numbers as text, a string where a list belongs),
not by scrm's sample generator.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from scrm_lib.ingest import parse_file
from scrm_lib.ingest.nested import checked_list
from tests.ingest.conftest import reconciles, write_jsonl

T0 = 1_735_689_600  # 2025-01-01 00:00:00 UTC


def _contact(ext: str, follow: object, **contact: object) -> dict:
    return {
        "follow_user": follow,  # before external_contact: not the generator's order
        "external_contact": {"name": f"微信{ext}", "type": 1, "external_userid": ext, **contact},
        "errcode": 0,
        "errmsg": "ok",
    }


def _follow(staff: str, created: object, **extra: object) -> dict:
    return {
        "state": f"qr_{staff}",
        "createtime": created,
        "userid": staff,
        "remark": "孙梅 杭州",
        "remark_mobiles": ["+86 139-1234-0001"],
        "tags": [{"tag_name": "老客", "group_name": "客户等级", "type": 1}],
        "add_way": 1,
        "oper_userid": staff,  # a key the detail API has and scrm does not read
        **extra,
    }


GOOD_A = _contact("wmGoodA", [_follow("li", T0)])
GOOD_C = _contact("wmGoodC", [_follow("wang", T0 + 60), _follow("zhao", T0 + 120)])

MALFORMED = {
    "follow_user is a string": ("li", "follow_user", "not a list"),
    "follow_user is an object": ({"userid": "li"}, "follow_user", "not a list"),
    "an item is not an object": (["li", _follow("li", T0)], "follow_user", "not an object"),
    "an item is null": ([None], "follow_user", "not an object"),
    "createtime is text": ([_follow("li", "昨天")], "follow_user.createtime", "not a whole number"),
    "createtime is an object": (
        [_follow("li", {"s": T0})],
        "follow_user.createtime",
        "not a whole number",
    ),
    "createtime is missing": (
        [{k: v for k, v in _follow("li", T0).items() if k != "createtime"}],
        "follow_user.createtime",
        "missing value",
    ),
    "userid is missing": (
        [{k: v for k, v in _follow("li", T0).items() if k != "userid"}],
        "follow_user.userid",
        "missing value",
    ),
    "tags is a string": ([_follow("li", T0, tags="VIP")], "follow_user.tags", "not a list"),
    "remark_mobiles is a string": (
        [_follow("li", T0, remark_mobiles="13912340001")],
        "follow_user.remark_mobiles",
        "not a list",
    ),
    "add_way is a list": (
        [_follow("li", T0, add_way=[1])],
        "follow_user.add_way",
        "not a whole number",
    ),
}


def _good_neighbours_whole(pf) -> None:
    acc = pf.tables["accounts"].set_index("account_id")
    ids = pf.tables["identifiers"]
    ev = pf.tables["events"]
    for ext, staff, first in (("wmGoodA", "li", T0), ("wmGoodC", "wang", T0 + 60)):
        account = f"wecom:{ext}"
        assert acc.loc[account, "first_seen"] == pd.Timestamp(first, unit="s", tz="UTC")
        assert acc.loc[account, "channel_code"] == f"qr_{staff}"
        mine = ids[ids["account_id"] == account]
        assert "+8613912340001" in set(mine.loc[mine["kind"] == "phone", "value"])
        assert set(mine.loc[mine["kind"] == "name", "value"]) == {"孙梅"}
    assert ev.groupby("account_id").size().to_dict() == {"wecom:wmGoodA": 1, "wecom:wmGoodC": 2}


@pytest.mark.parametrize("case", list(MALFORMED), ids=list(MALFORMED))
def test_one_malformed_contact_is_rejected_alone(tmp_path: Path, case: str) -> None:
    follow, column, reason = MALFORMED[case]
    path = write_jsonl(
        tmp_path / "wecom_contacts.jsonl", [GOOD_A, _contact("wmBad", follow), GOOD_C]
    )
    pf = parse_file(path)
    reconciles(pf)
    assert (pf.rows_in, pf.accepted, pf.rejected) == (3, 2, 1)
    line = pf.rejects.iloc[0]
    assert (line["line"], line["column"], line["reason"]) == (2, column, reason)
    assert line["raw_value"] not in (None, "")
    assert "wecom:wmBad" not in set(pf.tables["accounts"]["account_id"])
    _good_neighbours_whole(pf)


def test_non_json_and_non_object_lines_are_rejected_alone(tmp_path: Path) -> None:
    path = tmp_path / "wecom_contacts.jsonl"
    lines = [
        json.dumps(GOOD_A, ensure_ascii=False),
        '{"external_contact": {"external_userid": "wmX"}, "follow_user": [',
        json.dumps([GOOD_A], ensure_ascii=False),
        json.dumps(_contact("wmBad", "li"), ensure_ascii=False),
        json.dumps(GOOD_C, ensure_ascii=False),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    pf = parse_file(path)
    reconciles(pf)
    assert (pf.rows_in, pf.accepted, pf.rejected) == (5, 2, 3)
    reasons = pf.rejects.set_index("line")["reason"]
    assert reasons[2].startswith("invalid JSON")
    assert reasons[3] == "not a JSON object"
    assert reasons[4] == "not a list"
    _good_neighbours_whole(pf)


def test_external_contact_that_is_not_an_object(tmp_path: Path) -> None:
    bad = {"external_contact": "wmBad", "follow_user": [_follow("li", T0)], "errcode": 0}
    pf = parse_file(write_jsonl(tmp_path / "wecom_contacts.jsonl", [GOOD_A, bad, GOOD_C]))
    reconciles(pf)
    assert pf.rejected == 1 and pf.rejects.iloc[0]["line"] == 2
    _good_neighbours_whole(pf)


def test_fast_path_numbers_as_text_are_read_and_missing_userid_rejected(tmp_path: Path) -> None:
    # every record has one shape, so Arrow reads the file in one go; createtime as text
    recs = [
        _contact("wmGoodA", [_follow("li", str(T0))]),
        _contact("wmNoStaff", [_follow(None, str(T0))]),  # type: ignore[arg-type]
        _contact("wmGoodC", [_follow("wang", str(T0 + 60)), _follow("zhao", str(T0 + 120))]),
    ]
    pf = parse_file(write_jsonl(tmp_path / "wecom_contacts.jsonl", recs))
    reconciles(pf)
    assert pf.rejects[["line", "column", "reason"]].values.tolist() == [
        [2, "follow_user.userid", "missing value"]
    ]
    _good_neighbours_whole(pf)


def test_contact_without_follow_user_is_kept(tmp_path: Path) -> None:
    bare = {"external_contact": {"external_userid": "wmBare", "name": "路人"}, "errcode": 0}
    pf = parse_file(write_jsonl(tmp_path / "wecom_contacts.jsonl", [GOOD_A, bare, GOOD_C]))
    reconciles(pf)
    assert pf.rejected == 0
    assert "wecom:wmBare" in set(pf.tables["accounts"]["account_id"])
    _good_neighbours_whole(pf)


def test_group_change_with_a_string_member_list(tmp_path: Path) -> None:
    def change(members: object, chat: str) -> dict:
        return {
            "Event": "change_external_chat",
            "ChangeType": "update",
            "UpdateDetail": "add_member",
            "ChatId": chat,
            "CreateTime": T0,
            "MemChangeList": members,
            "JoinScene": 1,
        }

    recs = [change(["wmA", "wmB"], "c1"), change("wmC", "c2"), change(["wmD"], "c3")]
    pf = parse_file(write_jsonl(tmp_path / "wecom_events.jsonl", recs))
    reconciles(pf)
    assert pf.rejects[["line", "column", "reason"]].values.tolist() == [
        [2, "MemChangeList", "not a list"]
    ]
    joins = pf.tables["events"]
    assert sorted(joins["account_id"].dropna()) == ["wecom:wmA", "wecom:wmB", "wecom:wmD"]


def test_chat_message_with_a_string_tolist(tmp_path: Path) -> None:
    def msg(i: int, to: object) -> dict:
        return {
            "msgid": f"m{i}",
            "action": "send",
            "from": "li",
            "tolist": to,
            "roomid": "",
            "msgtime": T0 * 1000 + i,
            "msgtype": "text",
            "text": {"content": "您好"},
        }

    recs = [msg(1, ["wmA"]), msg(2, "wmB"), msg(3, ["wmC"])]
    pf = parse_file(write_jsonl(tmp_path / "wecom_chat_archive.jsonl", recs))
    reconciles(pf)
    assert pf.rejects[["line", "column", "reason"]].values.tolist() == [[2, "tolist", "not a list"]]
    got = pf.tables["messages"].set_index("message_id")["account_id"].to_dict()
    assert got == {"m1": "wecom:wmA", "m3": "wecom:wmC"}


def test_miniapp_order_with_items_as_a_string(tmp_path: Path) -> None:
    def order(no: str, items: object) -> dict:
        return {
            "items": items,
            "status": "PAID",
            "total_fee": 2990,
            "create_time": T0 * 1000,
            "openid": f"o{no}",
            "order_no": no,
        }

    line = [{"name": "面霜", "category": "护肤", "qty": "2", "price": 1495, "sku": 7}]
    recs = [order("W1", line), order("W2", "面霜x2"), order("W3", [{"name": "精华", "qty": 1.0}])]
    pf = parse_file(write_jsonl(tmp_path / "miniapp_orders.jsonl", recs))
    reconciles(pf)
    assert pf.rejects[["line", "reason"]].values.tolist() == [[2, "not a list"]]
    o = pf.tables["orders"].set_index("order_id")
    assert o.loc["W1", "items"] == "面霜" and o.loc["W1", "quantity"] == 2
    assert o.loc["W3", "items"] == "精华" and o.loc["W3", "quantity"] == 1


def test_checked_list_names_every_problem() -> None:
    item = pa.struct([("userid", pa.string()), ("createtime", pa.int64())])
    values = [
        [{"userid": "li", "createtime": "17"}],
        7,
        [{"userid": 5, "createtime": 1.0}, {"createtime": 2}],
        None,
    ]
    out = checked_list(values, item, name="f", required=["userid"])
    assert out.array.to_pylist() == [[{"userid": "li", "createtime": 17}], None, None, None]
    assert out.problems[["pos", "column", "reason"]].values.tolist() == [
        [1, "f", "not a list"],
        [2, "f.userid", "missing value"],
    ]


@pytest.mark.parametrize("uniform", [True, False], ids=["every props a string", "one of three"])
def test_event_props_that_are_not_an_object(tmp_path: Path, uniform: bool) -> None:
    def event(i: int, props: object) -> dict:
        return {"props": props, "ts": T0 * 1000 + i, "event": "page_view", "openid": f"o{i}"}

    good = {"channel_code": "qr7"}
    recs = [event(1, "qr7" if uniform else good), event(2, "qr7"), event(3, None)]
    pf = parse_file(write_jsonl(tmp_path / "miniapp_events.jsonl", recs))
    reconciles(pf)
    want = [[1, "not an object"], [2, "not an object"]] if uniform else [[2, "not an object"]]
    assert pf.rejects[["line", "reason"]].values.tolist() == want
    ev = pf.tables["events"].set_index("account_id")
    assert "wechat:o3" in ev.index
    if not uniform:
        assert json.loads(ev.loc["wechat:o1", "attributes"])["channel_code"] == "qr7"
