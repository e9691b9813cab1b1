"""Satisfaction ratings (CSAT) and 推荐意愿 (NPS) after orders, as a WeCom rating export.

After an order is completed or its refund is settled, the customer's WeCom
staff member sends the 客服满意度评价 card; a share of customers answer it,
and some of them the 0–10 recommendation question too. Answers follow what
happened: a refunded order, and a customer about to churn (whose chats turn to
complaints around that time), rate low; a smooth order rates high. A few
answers are typed off the scale (a 0 or 6 for CSAT, an 11 for NPS), as in
real exports, and ingest rejects them.

File: ``survey_answers.csv`` (UTF-8 with BOM), documented in
``docs/raw-formats.md`` section 11.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from scrm_lib.sample.files import garbage_count, write_csv
from scrm_lib.sample.timeline import DAY, Window

NEVER = np.iinfo("int64").max
FILE = "survey_answers.csv"
HEADER = ["评价ID", "评价时间", "客户ID", "接待人员", "满意度", "推荐意愿(0-10)"]
#: Share of invited customers who answer: more after a refund (they have something to say).
ANSWER_SHARE = {"done": 0.12, "refund": 0.25}
#: CSAT 1..5 after a smooth order and after a refund or shortly before churning.
CSAT_P = {"happy": [0.02, 0.03, 0.10, 0.35, 0.50], "unhappy": [0.25, 0.30, 0.25, 0.12, 0.08]}
LABELS = np.array(["", "非常不满意", "不满意", "一般", "满意", "非常满意"], dtype=object)
NPS_SHARE = 0.7  # of those who rate, the share who answer the recommendation question too


def answers_file(
    rng: np.random.Generator,
    accounts: pd.DataFrame,
    follows: pd.DataFrame,
    orders: pd.DataFrame,
    churned: np.ndarray,
    churn_t: np.ndarray,
    window: Window,
    out: Path,
    noise: dict,
) -> int:
    """Write ``survey_answers.csv``; returns its row count and records its noise."""
    span = window.seconds
    f = follows[~follows["second"].to_numpy()]
    rows = f["account_row"].to_numpy()
    person = accounts["person_idx"].to_numpy()[rows]
    wc_of_person = pd.Series(rows, index=person)
    staff_of_row = pd.Series(f["userid"].to_numpy(dtype=object), index=rows)
    created_of_row = pd.Series(f["created"].to_numpy(), index=rows)

    o = orders[np.isin(orders["person_idx"].to_numpy(), person)]
    acct = wc_of_person.reindex(o["person_idx"].to_numpy()).to_numpy()
    refund_at = o["refund_at"].to_numpy()
    done_at = o["done_at"].to_numpy()
    refunded = refund_at < NEVER
    base = np.where(refunded, refund_at, done_at)
    t = np.where(base < NEVER, base + rng.integers(3600, 3 * DAY, len(o)), NEVER)
    share = np.where(refunded, ANSWER_SHARE["refund"], ANSWER_SHARE["done"])
    answered = (
        (t < span) & (t > created_of_row.reindex(acct).to_numpy()) & (rng.random(len(o)) < share)
    )
    acct, t, refunded = acct[answered], t[answered], refunded[answered]
    pidx = o["person_idx"].to_numpy()[answered]
    near_churn = churned[pidx] & (t > churn_t[pidx] - 30 * DAY) & (t <= churn_t[pidx])
    unhappy = refunded | near_churn
    n = len(t)
    csat = np.where(
        unhappy,
        rng.choice(5, size=n, p=CSAT_P["unhappy"]) + 1,
        rng.choice(5, size=n, p=CSAT_P["happy"]) + 1,
    )
    # recommending follows satisfaction: 5 → about 9.5, 3 → 6, 1 → 2
    nps = np.clip(np.rint(1.75 * csat + 0.5 + rng.normal(0, 1.2, n)), 0, 10).astype("int64")
    has_nps = rng.random(n) < NPS_SHARE

    order = np.argsort(t, kind="stable")
    acct, t, csat, nps, has_nps = acct[order], t[order], csat[order], nps[order], has_nps[order]
    csat_text = LABELS[csat]
    # some widgets write the number instead of the label
    digits = rng.random(n) < 0.15
    csat_text = np.where(digits, csat.astype(str).astype(object), csat_text)
    nps_text = np.where(has_nps, nps.astype(str).astype(object), "")
    bad = min(garbage_count(n), n)
    if bad:
        pick = rng.choice(n, size=min(bad, n), replace=False)
        off = np.array(["0", "6", "7"], dtype=object)[rng.integers(0, 3, len(pick))]
        is_nps = rng.random(len(pick)) < 0.4
        csat_text[pick[~is_nps]] = off[~is_nps]
        nps_text[pick[is_nps]] = "11"
    df = pd.DataFrame(
        {
            "评价ID": ["R" + str(100001 + i) for i in range(n)],
            "评价时间": window.local_text(t),
            "客户ID": accounts["native_id"].to_numpy(dtype=object)[acct],
            "接待人员": staff_of_row.reindex(acct).to_numpy(dtype=object),
            "满意度": csat_text,
            "推荐意愿(0-10)": nps_text,
        },
        columns=HEADER,
    )
    noise[FILE] = {"duplicate_rows": 0, "garbage_rows": int(bad)}
    return write_csv(df, out / FILE, "utf-8-sig")
