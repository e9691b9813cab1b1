"""Survey answers (CSAT and NPS) into ``surveys``.

One row of the export is one respondent's submission: a questionnaire
export (问卷星-style: 序号, 提交答卷时间, openid or 手机号, a 满意度 question
and a 推荐意愿 0–10 question) or a customer-service rating export (WeCom
客服满意度评价: 评价时间, 客户ID, 接待人员, 满意度). Each answered question
becomes one ``surveys`` row: ``kind`` is ``csat`` (1–5) or ``nps`` (0–10).

Scores are read as they are written in these exports: digits in any width
(``５``, ``4分``, ``5星``, ``9（很可能）``), stars (``★★★★☆`` is 4), and the
usual satisfaction labels, simplified or traditional (非常满意 = 5, 满意 = 4,
一般 = 3, 不满意 = 2, 非常不满意 = 1; a preset adds its own in
``[csat_labels]``). A score outside its scale (a CSAT of 0 or 7, an NPS of
11) or a label no table knows rejects the row, naming the file, line, column
and value: a mistyped answer is shown, not guessed at.

The respondent's account is ``wecom:<external_userid>`` when the export
names the WeCom customer, else ``wechat:<openid>``, else
``<platform>:<phone>`` (E.164) for a questionnaire filled in with a phone
number only; a phone beside an id is kept as that account's identifier.
``survey_id`` is the export's answer id (序号, 评价ID), else a hash of the
account, the time and the answers.

Example
-------
>>> from scrm_lib.ingest import parse_file
>>> parse_file("survey_answers_0301.csv").tables["surveys"]  # doctest: +SKIP
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import numpy as np
import pandas as pd

from scrm_lib.ingest import base
from scrm_lib.ingest import normalize as nz
from scrm_lib.ingest.keys import content_hash, utc_micros

#: The scale of each kind of question, inclusive.
SCALES = {"csat": (1.0, 5.0), "nps": (0.0, 10.0)}
#: Satisfaction labels as Chinese questionnaires and rating widgets word them.
CSAT_LABELS = {
    "非常满意": 5, "很满意": 5, "十分满意": 5, "超级满意": 5, "极其满意": 5,
    "满意": 4, "比较满意": 4, "较满意": 4, "还算满意": 4,
    "一般": 3, "基本满意": 3, "还行": 3, "中立": 3, "说不清": 3,
    "不满意": 2, "不太满意": 2, "比较不满意": 2, "较不满意": 2,
    "非常不满意": 1, "很不满意": 1, "极不满意": 1, "十分不满意": 1,
}  # fmt: skip
#: Traditional characters these labels use, to their simplified form.
_SIMPLIFIED = str.maketrans({"滿": "满", "較": "较", "還": "还", "極": "极", "說": "说"})
# 4, 4.5, 4分, 5星, 9（很可能）, 10 - 极有可能: the number leads, a remark may follow
_NUMBER = re.compile(r"^(\d+(?:\.\d+)?)\s*(?:分|星|颗星)?\s*(?:[(\[【].*|[-—:：].*)?$")
_STARS = re.compile(r"^[★☆]+$")


def _score_of(value: str, labels: dict[str, float]) -> float | None:
    """The number an answer stands for, or None when it is not an answer we know."""
    s = unicodedata.normalize("NFKC", value).strip()
    hit = _NUMBER.match(s)
    if hit:
        return float(hit.group(1))
    if _STARS.match(s):
        return float(s.count("★"))
    key = re.sub(r"\s+", "", s.translate(_SIMPLIFIED))
    return None if key not in labels else float(labels[key])


def _scores(ctx: base.Context, fld: str, kind: str, labels: dict[str, float]) -> pd.Series:
    """Scores of one question's column; unknown answers and off-scale numbers reject the row."""
    raw = nz.text(ctx.get(fld))
    distinct = raw.dropna().unique()
    table = {v: _score_of(str(v), labels if kind == "csat" else {}) for v in distinct}
    score = pd.to_numeric(raw.map(table), errors="coerce").astype("float64")
    name = kind.upper()
    ctx.reject(raw.notna() & score.isna(), fld, f"not a {name} answer")
    lo, hi = SCALES[kind]
    ctx.reject(score.notna() & ((score < lo) | (score > hi)), fld,
               f"{name} score outside {lo:g}–{hi:g}")  # fmt: skip
    return score


def parse(ctx: base.Context) -> dict[str, Any]:
    """Turn submissions into one ``surveys`` row per answered question, plus accounts."""
    rows = ctx.rows
    ts = ctx.timestamps("ts", required=True)
    labels = {**CSAT_LABELS, **{str(k): float(v) for k, v in ctx.option("csat_labels", {}).items()}}
    labels = {re.sub(r"\s+", "", k.translate(_SIMPLIFIED)): v for k, v in labels.items()}
    csat = _scores(ctx, "csat", "csat", labels)
    nps = _scores(ctx, "nps", "nps", labels)
    # a submission that skipped both questions says nothing; one already rejected is not repeated
    ctx.reject(csat.isna() & nps.isna() & ctx.ok, "csat" if ctx.has("csat") else "nps",
               "missing value")  # fmt: skip

    ext = ctx.ids("external_userid")
    openid = ctx.ids("openid")
    phones = ctx.phones("phone")
    phone = phones["value"].where(phones["kind"] == "phone")
    platform = str(ctx.preset.platform or "survey")
    account = base.prefixed("wecom", ext)
    account = account.fillna(base.prefixed("wechat", openid))
    account = account.fillna(base.prefixed(platform, phone))
    nobody = account.isna()
    if ctx.has("phone"):
        # a phone that is not one identifies nobody: show the value rather than drop it silently
        bad_phone = nobody & nz.text(ctx.get("phone")).notna()
        ctx.reject(bad_phone, "phone", "invalid phone number")
        nobody &= ~bad_phone
    who = next((f for f in ("external_userid", "openid", "phone") if ctx.has(f)), "openid")
    ctx.reject(nobody, who, "missing value")

    native = ext.fillna(openid).fillna(phone)
    plat = pd.Series(
        np.where(ext.notna(), "wecom", np.where(openid.notna(), "wechat", platform)),
        index=ctx.index,
    )
    answer_id = ctx.ids("survey_id")
    if answer_id.isna().any():
        hashed = "survey:" + content_hash(
            account.fillna(""), utc_micros(ts.fillna(pd.Timestamp(0, tz="UTC"))),
            csat.astype("str"), nps.astype("str"),
        )  # fmt: skip
        answer_id = answer_id.where(answer_id.notna(), hashed)
    channel = ctx.texts("channel").fillna(str(ctx.option("channel", "survey")))
    staff = ctx.ids("staff_id")

    def answers(kind: str, score: pd.Series) -> pd.DataFrame:
        has = score.notna()
        return pd.DataFrame(
            {
                base.ROW: rows[has],
                "survey_id": answer_id[has],
                "account_id": account[has],
                "ts": ts[has],
                "kind": kind,
                "score": score[has],
                "staff_id": staff[has],
                "channel": channel[has],
            }
        )

    surveys = [answers("csat", csat), answers("nps", nps)]
    accounts = base.accounts_frame(rows, account, plat, native, first_seen=ts)
    ids = [
        base.identifiers_frame(rows, account, "openid", openid),
        base.identifiers_frame(rows, account, "external_userid", ext),
        base.phone_identifiers(rows, account, phones),
    ]
    return {"surveys": surveys, "accounts": accounts, "identifiers": ids}
