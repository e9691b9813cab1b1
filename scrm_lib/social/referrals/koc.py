"""The KOC score (关键意见消费者): who brings buyers, and is heard well when they speak.

Four parts, each in [0, 1] among the scored persons (those who brought at least
``koc_min_invitees`` persons):

- ``downstream_gmv``: the net GMV of everyone down their chains on a log scale, as a
  share of the highest (``log(1 + gmv) / log(1 + max)``): a percentile would put ten
  times the GMV a rank or two apart;
- ``conversion``: percentile of their invite conversion, shrunk towards the
  conversion of all scored persons by ``koc_conversion_prior`` invitees' worth
  (empirical Bayes): two invitees out of two is a weaker sign than eleven of
  eleven;
- ``engagement``: percentile of their group messages, shares and reviews;
- ``sentiment``: how they speak in groups (``message_tags``), from 0 (all negative)
  through 0.5 (neutral, or nothing written) to 1 (all positive): ``0.5 + 0.5 ×
  (positive − negative) / (messages + SENTIMENT_PRIOR)``, so a few messages move it
  less than many and neutral messages (questions, service) weigh neither way.

A zero is a zero (no percentile credit for ties at nothing). The score is the
weighted mean (``koc_weights``, reported in ``referrals_meta``); ``koc_core`` and
``koc_potential`` cut the pool into 核心KOC and 潜力KOC; ``explanation`` lists the
parts by what they added.
"""

from __future__ import annotations

from typing import Any

import ibis
import numpy as np
import pandas as pd

from scrm_lib.social.referrals.config import KOC_PARTS
from scrm_lib.social.referrals.persons import keyed

CORE, POTENTIAL = "核心KOC", "潜力KOC"
#: Neutral messages the sentiment part starts from.
SENTIMENT_PRIOR = 2
LABELS = {"downstream_gmv": "下游GMV", "conversion": "邀请转化", "engagement": "互动",
          "sentiment": "口碑情绪"}  # fmt: skip


def engagement(con: Any, cfg: dict[str, Any]) -> pd.DataFrame:
    """Per person: ``group_messages``, ``sentiment`` (mean P(positive)), ``positive`` and
    ``negative`` (messages so labelled), ``shares``, ``reviews``."""
    from scrm_lib.warehouse.steps import person_map

    tables, parts = set(con.list_tables()), []
    if "message_tags" in tables:
        m = con.table("message_tags")
        m = m.filter((m.channel == "wecom_group") & (m.direction != "out"))
        parts.append(m.group_by("person_id").aggregate(
            group_messages=m.count(), sentiment=m.sentiment_score.mean(),
            positive=(m.sentiment == "positive").cast("int64").sum(),
            negative=(m.sentiment == "negative").cast("int64").sum(),
        ))  # fmt: skip
    if "events" in tables:
        e = con.table("events")
        # a share or a review is engagement, a page view is not: only those events count,
        # so only they are joined to their persons (a small share of every event)
        kinds = [*cfg["share_events"], *cfg["review_events"]]
        e = e.filter(e.type.isin(kinds)).select("account_id", "type")
        pm = person_map(con)
        j = e.left_join(pm, "account_id")
        j = j.select(person_id=ibis.coalesce(j.person_id, j.account_id), type=j.type)
        parts.append(j.group_by("person_id").aggregate(
            shares=j.type.isin(cfg["share_events"]).cast("int64").sum(),
            reviews=j.type.isin(cfg["review_events"]).cast("int64").sum(),
        ))  # fmt: skip
    out = pd.DataFrame(columns=["person_id"])
    for p in parts:
        out = keyed(out, "person_id").merge(keyed(p.execute(), "person_id"), on="person_id",
                                            how="outer")  # fmt: skip
    for c in ("group_messages", "positive", "negative", "shares", "reviews"):
        out[c] = pd.to_numeric(out.get(c, pd.Series(dtype="float64"))).fillna(0).astype("int64")
    out["sentiment"] = pd.to_numeric(out.get("sentiment", pd.Series(dtype="float64")))
    return out


def _log_share(s: pd.Series) -> pd.Series:
    """``log(1 + s) / log(1 + max)`` for s > 0, else 0.

    Examples
    --------
    >>> _log_share(pd.Series([0.0, 9.0, 99.0])).round(2).tolist()
    [0.0, 0.5, 1.0]
    """
    s = s.fillna(0.0).astype("float64").clip(lower=0.0)
    top = float(np.log1p(s.max())) if len(s) else 0.0
    return (np.log1p(s) / top).where(s > 0, 0.0) if top > 0 else s * 0.0


def _pct(s: pd.Series) -> pd.Series:
    s = s.fillna(0.0).astype("float64")
    return s.rank(method="max", pct=True).where(s > 0, 0.0)


def shrunk_conversion(converted: pd.Series, invitees: pd.Series, prior: float) -> pd.Series:
    """``(converted + prior × p) / (invitees + prior)``, p the conversion of them all.

    Examples
    --------
    Two of two falls behind twenty of twenty-two:

    >>> shrunk_conversion(pd.Series([2, 20, 1]), pd.Series([2, 22, 10]), 4.0).round(3).tolist()
    [0.784, 0.873, 0.265]
    """
    total = float(invitees.sum())
    p = float(converted.sum()) / total if total > 0 else 0.0
    rate = (converted + prior * p) / (invitees + prior)
    return rate.where(invitees + prior > 0, 0.0).where(converted > 0, 0.0)


def parts_frame(
    persons: pd.DataFrame, eng: pd.DataFrame, min_invitees: int, conversion_prior: float = 0.0
) -> pd.DataFrame:
    """The scored persons with their raw parts and the parts' scores (``s_<part>``)."""
    keep = persons["direct_invitees"] >= min_invitees
    cols = ["person_id", "direct_invitees", "converted_invitees", "invite_conversion",
            "downstream_persons", "downstream_gmv", "first_invite_at"]  # fmt: skip
    df = keyed(persons.loc[keep, cols], "person_id").merge(
        keyed(eng, "person_id"), on="person_id", how="left"
    )
    if min_invitees == 0:  # everyone who engaged is a candidate too
        df = pd.concat([df, eng[~eng["person_id"].isin(df["person_id"])]], ignore_index=True)
    for c in ("group_messages", "positive", "negative", "shares", "reviews", "direct_invitees",
              "converted_invitees", "downstream_persons"):  # fmt: skip
        df[c] = pd.to_numeric(df[c]).fillna(0).astype("int64")
    df["downstream_gmv"] = pd.to_numeric(df["downstream_gmv"]).astype("float64").fillna(0.0)
    df["engagement"] = df["group_messages"] + df["shares"] + df["reviews"]
    df["s_downstream_gmv"] = _log_share(df["downstream_gmv"])
    rate = shrunk_conversion(df["converted_invitees"], df["direct_invitees"], conversion_prior)
    df["s_conversion"] = _pct(rate)
    df["s_engagement"] = _pct(df["engagement"])
    net = (df["positive"] - df["negative"]) / (df["group_messages"] + SENTIMENT_PRIOR)
    df["s_sentiment"] = (0.5 + 0.5 * net).astype("float64")
    return df


def score(df: pd.DataFrame, weights: dict[str, float], core: float, potential: float
          ) -> pd.DataFrame:  # fmt: skip
    """Weighted score, contributions (``c_<part>``), tier, rank and the explanation."""
    df = df.copy()
    total = sum(weights.values())
    for p in KOC_PARTS:
        df[f"c_{p}"] = df[f"s_{p}"] * weights.get(p, 0.0) / total
    df["koc_score"] = df[[f"c_{p}" for p in KOC_PARTS]].sum(axis=1)
    df["koc_tier"] = pd.Series(
        [CORE if s >= core else POTENTIAL if s >= potential else None for s in df["koc_score"]],
        index=df.index,
        dtype=object,
    )
    df["koc_rank"] = df["koc_score"].rank(ascending=False, method="min").astype("int64")
    contrib = df[[f"c_{p}" for p in KOC_PARTS]].to_numpy()
    names = [LABELS[p] for p in KOC_PARTS]
    df["top_part"] = [KOC_PARTS[i] for i in contrib.argmax(axis=1)] if len(df) else []
    df["explanation"] = [
        " · ".join(f"{names[i]} {row[i]:.2f}" for i in row.argsort()[::-1] if row[i] > 0)
        for row in contrib
    ]
    return df.sort_values(["koc_score", "person_id"], ascending=[False, True])


def koc_frame(con: Any, persons: pd.DataFrame, cfg: dict[str, Any]) -> pd.DataFrame:
    """The ``koc_scores`` rows from the ``referral_persons`` rows."""
    parts = parts_frame(persons, engagement(con, cfg), cfg["koc_min_invitees"],
                        cfg["koc_conversion_prior"])  # fmt: skip
    return score(parts, cfg["koc_weights"], cfg["koc_core"], cfg["koc_potential"])
