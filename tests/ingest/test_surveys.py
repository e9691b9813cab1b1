"""Survey answers (CSAT, NPS): hand-made exports through ``parse_file`` into ``surveys``.

A 问卷星-style questionnaire (title row, 序号, openid or 手机号, a 满意度 label
and a 0–10 推荐意愿), a WeCom 客服满意度评价 export (客户ID, 接待人员, stars) and
an xlsx; labels in simplified and traditional characters, digits in full
width, scores off their scale and answers no table knows.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from scrm_lib.engine import duckdb_connect
from scrm_lib.ingest import detect_format, parse_file
from scrm_lib.ingest.surveys import CSAT_LABELS, _score_of
from scrm_lib.warehouse.canonical import canonical_tables
from tests.conftest import stage_on
from tests.ingest.conftest import reconciles, write_csv, write_xlsx

SMALL = Path(__file__).parents[1] / "data" / "small_exports" / "survey_answers"
WJX = ["序号", "提交答卷时间", "所用时间", "来源", "openid", "手机号", "满意度", "推荐意愿(0-10分)"]
KF = ["评价ID", "评价时间", "客户ID", "客户昵称", "接待人员", "服务满意度", "评价内容"]


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="Asia/Shanghai").tz_convert("UTC")


def answers(pf) -> dict[tuple[str, str], float]:
    s = pf.tables["surveys"]
    return {(r.survey_id, r.kind): r.score for r in s.itertuples()}


def test_the_small_questionnaire_export_gives_one_row_per_answered_question():
    path = next(SMALL.glob("*.csv"))
    assert detect_format(path) == "survey_answers"
    pf = parse_file(path)
    reconciles(pf)
    assert (pf.rows_in, pf.rejected) == (10, 4)
    got = answers(pf)
    # 非常满意 5 / 10, 滿意 (traditional) 4 / 8, 一般 3 / 6, 5分 / 9, ★★★★☆ 4 and no NPS,
    # 不满意 2 / 3（不太可能）
    assert got == {
        ("1", "csat"): 5.0, ("1", "nps"): 10.0,
        ("2", "csat"): 4.0, ("2", "nps"): 8.0,
        ("3", "csat"): 3.0, ("3", "nps"): 6.0,
        ("4", "csat"): 5.0, ("4", "nps"): 9.0,
        ("5", "csat"): 4.0,
        ("10", "csat"): 2.0, ("10", "nps"): 3.0,
    }  # fmt: skip
    s = pf.tables["surveys"].drop_duplicates("survey_id").set_index("survey_id")
    # an openid is the mini-program account; a phone alone (dashed, full-width) its own
    assert s.loc["1", "account_id"] == "wechat:oVx7A0001"
    assert s.loc["3", "account_id"] == "survey:+8613800138000"
    assert s.loc["5", "account_id"] == "survey:+8613900139000"
    assert s.loc["3", "channel"] == "手机提交"
    assert s.loc["1", "ts"] == utc("2025-05-03 10:12:40")
    ids = pf.tables["identifiers"]
    # the phone beside an openid links the two accounts of one respondent
    phone = ids[ids["value"] == "+8613800138000"]
    assert set(phone["account_id"]) == {"wechat:oVx7A0001", "survey:+8613800138000"}


def test_off_scale_scores_and_unknown_answers_are_one_reject_line_each():
    pf = parse_file(next(SMALL.glob("*.csv")))
    r = pf.rejects.set_index("line")
    # line numbers count the title row and the header
    assert r.loc[8, "reason"] == "CSAT score outside 1–5" and r.loc[8, "raw_value"] == "7"
    assert r.loc[9, "reason"] == "NPS score outside 0–10" and r.loc[9, "raw_value"] == "11"
    assert r.loc[10, "reason"] == "not a CSAT answer" and r.loc[10, "raw_value"] == "还行吧"
    assert r.loc[11, "reason"] == "missing value"
    assert (r["file"] == "survey_answers_may.csv").all()
    assert r.loc[8, "column"] == "满意度"


@pytest.mark.parametrize(
    ("raw", "score"),
    [
        ("非常满意", 5), ("非常滿意", 5), ("很满意", 5), ("满意", 4), ("比較滿意", 4),
        ("一般", 3), ("不满意", 2), ("不滿意", 2), ("非常不满意", 1), ("非常 不满意", 1),
        ("５", 5), ("4分", 4), ("5星", 5), ("★★★☆☆", 3), ("9（很可能）", 9),
        ("10 - 极有可能", 10), ("4.5", 4.5), ("0", 0),
        ("还行吧", None), ("-1", None), ("", None), ("满意吗", None),
    ],
)  # fmt: skip
def test_answers_as_exports_write_them(raw, score):
    assert _score_of(raw, CSAT_LABELS) == score


def test_csat_zero_and_nps_eleven_reject_while_nps_zero_is_an_answer(tmp_path):
    rows = [
        {"序号": "1", "提交答卷时间": "2025-06-01 10:00:00", "openid": "o1", "满意度": "0"},
        {"序号": "2", "提交答卷时间": "2025-06-01 10:00:00", "openid": "o2", "满意度": "6"},
        {"序号": "3", "提交答卷时间": "2025-06-01 10:00:00", "openid": "o3",
         "推荐意愿(0-10分)": "0"},
        {"序号": "4", "提交答卷时间": "2025-06-01 10:00:00", "openid": "o4",
         "推荐意愿(0-10分)": "10.5"},
        {"序号": "5", "提交答卷时间": "2025-06-01 10:00:00", "openid": "o5", "满意度": "1"},
    ]  # fmt: skip
    pf = parse_file(write_csv(tmp_path / "问卷_0601.csv", WJX, rows))
    reconciles(pf)
    assert answers(pf) == {("3", "nps"): 0.0, ("5", "csat"): 1.0}
    shown = pf.rejects[["line", "reason", "raw_value"]].values.tolist()
    assert shown == [
        [2, "CSAT score outside 1–5", "0"],
        [3, "CSAT score outside 1–5", "6"],
        [5, "NPS score outside 0–10", "10.5"],
    ]


def test_a_wecom_rating_export_names_the_customer_and_the_staff(tmp_path):
    rows = [
        {"评价ID": "r1", "评价时间": "2025-06-02 09:00", "客户ID": "wmAAA001",
         "客户昵称": "小王", "接待人员": "zhangsan", "服务满意度": "★★★★★"},
        {"评价ID": "r2", "评价时间": "2025-06-02 09:30", "客户ID": "wmAAA002",
         "接待人员": "lisi", "服务满意度": "五星好评", "评价内容": "回复很快"},
        {"评价ID": "r3", "评价时间": "2025-06-02 10:00", "客户ID": "",
         "接待人员": "lisi", "服务满意度": "满意"},
    ]  # fmt: skip
    pf = parse_file(write_csv(tmp_path / "kf_ratings_0602.csv", KF, rows))
    reconciles(pf)
    s = pf.tables["surveys"].set_index("survey_id")
    assert s.loc["r1", "account_id"] == "wecom:wmAAA001"
    assert s.loc["r1", "staff_id"] == "zhangsan"
    assert s.loc["r2", "score"] == 5.0  # the preset's own label
    assert (s["kind"] == "csat").all() and (s["channel"] == "survey").all()
    # nobody to attribute the answer to: a reject naming the customer column
    (bad,) = pf.rejects.to_dict("records")
    assert (bad["line"], bad["column"], bad["reason"]) == (4, "客户ID", "missing value")


def test_an_xlsx_without_answer_ids_gets_stable_hashed_ids(tmp_path):
    rows = [
        {"提交答卷时间": "2025-06-03 12:00:00", "手机号": "13700137000", "满意度": 4,
         "推荐意愿(0-10分)": 7},
        {"提交答卷时间": "2025-06-03 12:05:00", "手机号": "12", "满意度": 5},
    ]  # fmt: skip
    header = [h for h in WJX if h not in ("序号", "openid")]
    first = parse_file(write_xlsx(tmp_path / "survey_answers_a.xlsx", header, rows))
    again = parse_file(write_xlsx(tmp_path / "survey_answers_b.xlsx", header, rows))
    s = first.tables["surveys"]
    assert len(s) == 2 and s["survey_id"].nunique() == 1
    assert s["survey_id"].iloc[0].startswith("survey:")
    assert s["survey_id"].tolist() == again.tables["surveys"]["survey_id"].tolist()
    (bad,) = first.rejects.to_dict("records")
    assert (bad["reason"], bad["raw_value"]) == ("invalid phone number", "12")


def test_overlapping_exports_are_one_answer_in_the_canonical_table(tmp_path):
    rows = [
        {"序号": "1", "提交答卷时间": "2025-06-04 08:00:00", "openid": "o1", "满意度": "满意",
         "推荐意愿(0-10分)": "9"},
        {"序号": "2", "提交答卷时间": "2025-06-04 09:00:00", "openid": "o2", "满意度": "一般"},
    ]  # fmt: skip
    first = parse_file(write_csv(tmp_path / "survey_answers_1.csv", WJX, rows[:1]))
    second = parse_file(write_csv(tmp_path / "survey_answers_2.csv", WJX, rows))
    con = duckdb_connect()
    try:
        staged = {
            name: stage_on(con, name, [(0, first.tables[name]), (1, second.tables[name])])
            for name in ("surveys", "accounts")
        }
        out = canonical_tables(staged).tables
        s = con.to_pandas(out["surveys"]).sort_values(["ts", "kind"])
        accounts = con.to_pandas(out["accounts"]).set_index("account_id")
    finally:
        con.disconnect()
    assert s[["account_id", "kind", "score"]].values.tolist() == [
        ["wechat:o1", "csat", 4.0],
        ["wechat:o1", "nps", 9.0],
        ["wechat:o2", "csat", 3.0],
    ]
    assert accounts.loc["wechat:o2", "first_seen"] == utc("2025-06-04 09:00:00")
