"""Link-only matching of two hand-made customer lists (a CRM list against a shop export)."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

import scrm_lib
from scrm_lib.errors import ScrmError

# a CRM list: its own column names, full phones in several spellings, a duplicate of c1
CRM = pd.DataFrame(
    {
        "客户编号": ["c1", "c2", "c3", "c4", "c1b"],
        "姓名": ["王芳", " 李娜 ", "欧阳瑾", "陈建国", "王芳"],
        "手机": ["138 1234 5678", "+86-139-0000-1111", "15011112222", None, "13812345678"],
        "城市": ["上海市", "北京市", "杭州市", "成都市", "上海市"],
        "备注": ["VIP", "", "老客", "", "重复"],
    }
)
# a shop export: other names, masked phones, a traditional-character name, extra columns
SHOP = pd.DataFrame(
    {
        "order_no": ["T9", "T7", "T8", "T6"],
        "receiver": ["王芳", "歐陽瑾", "赵敏", "李娜"],
        "mobile": ["138****5678", "150****2222", "137****2222", "186****9999"],
        "receiver_city": ["上海市", "杭州市", "广州市", "深圳市"],
        "amount_fen": ["12900", "5900", "800", "100"],
    }
)
LEFT = {"name": "姓名", "phone": "手机", "city": "城市"}
RIGHT = {"name": "receiver", "phone": "mobile", "city": "receiver_city"}


def test_link_records_pairs_across_lists_only():
    pairs = scrm_lib.link_records(
        CRM,
        SHOP,
        columns=LEFT,
        right_columns=RIGHT,
        id_column="客户编号",
        right_id_column="order_no",
    )
    assert list(pairs.columns) == [
        "left_id",
        "right_id",
        "match_probability",
        "match_weight",
        "compared",
    ]
    found = set(zip(pairs["left_id"], pairs["right_id"], strict=True))
    # name + visible phone digits (+ city): the same person in both lists
    assert {("c1", "T9"), ("c1b", "T9"), ("c3", "T7")} <= found
    # 李娜 in another city with another phone, 赵敏 nobody: not linked
    assert not any(b in ("T6", "T8") for _, b in found)
    # never a pair within one list (c1 / c1b are the CRM's own duplicate)
    assert all(a in set(CRM["客户编号"]) and b in set(SHOP["order_no"]) for a, b in found)
    assert (pairs["match_probability"] >= 0.8).all()
    assert "mphone" in json.loads(pairs["compared"].iloc[0])


def test_dedupe_records_finds_the_crm_duplicate():
    pairs = scrm_lib.dedupe_records(CRM, columns=LEFT, id_column="客户编号")
    assert set(zip(pairs["left_id"], pairs["right_id"], strict=True)) == {("c1", "c1b")}


def test_bad_input_is_one_line_error():
    with pytest.raises(ScrmError, match="no column 'phone_no'"):
        scrm_lib.link_records(CRM, SHOP, columns={"phone": "phone_no"})
    with pytest.raises(ScrmError, match="unknown field 'mobile'"):
        scrm_lib.dedupe_records(CRM, columns={"mobile": "手机"})
    with pytest.raises(ScrmError, match="appears more than once"):
        scrm_lib.dedupe_records(CRM.assign(客户编号="x"), columns=LEFT, id_column="客户编号")


def test_cli_link_files_json(tmp_path):
    left, right = tmp_path / "crm.csv", tmp_path / "shop.csv"
    CRM.to_csv(left, index=False)
    SHOP.to_csv(right, index=False, encoding="gbk")  # an export saved by Excel in GBK
    cmd = [sys.executable, "-m", "scrm_lib.cli", "identity", "link-files", str(left), str(right)]
    res = subprocess.run(
        [
            *cmd,
            "--columns",
            "name=姓名,phone=手机,city=城市",
            "--right-columns",
            "name=receiver,phone=mobile,city=receiver_city",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    pairs = json.loads(res.stdout)
    assert {(p["left_id"], p["right_id"]) for p in pairs} >= {("0", "0"), ("2", "1")}
    bad = subprocess.run(
        [*cmd[:-2], str(tmp_path / "missing.csv"), str(right), "--json"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert "missing.csv: no such file" in bad.stderr
