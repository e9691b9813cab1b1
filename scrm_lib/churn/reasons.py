"""Why a person is at risk, in words a marketer understands.

Each feature's contribution is measured by occlusion: the person's
probability minus the probability with that one feature set to the
population's typical (median) value. The features that raise the risk most
become sentences built from the person's own values, e.g. "no order for 47
days, usually buys every 21". Computed for the early-warning list only.

Example
-------
>>> explain(model, high_risk_rows, reference=features.median(numeric_only=True))  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from scrm_lib.churn.features import FEATURE_NAMES


def _n(x: Any) -> int:
    return round(float(x))


def _recency(r: pd.Series) -> str:
    cyc = r.get("cycle_days")
    if cyc is not None and not pd.isna(cyc) and cyc > 0:
        return f"no order for {_n(r['recency_days'])} days, usually buys every {_n(cyc)}"
    return f"no order for {_n(r['recency_days'])} days"


def _trend(r: pd.Series) -> str:
    prev = _n(r["orders_180"] - r["orders_90"])
    return f"{_n(r['orders_90'])} orders in the last 90 days, {prev} in the 90 before"


def _deleted(r: pd.Series) -> str:
    recent = r.get("deleted_staff_90", 0) or 0
    return "deleted their WeCom salesperson" + (" in the last 90 days" if recent > 0 else "")


#: feature → sentence from the person's row (features not listed use their description).
SENTENCES: dict[str, Callable[[pd.Series], str]] = {
    "recency_days": _recency,
    "recency_over_cycle": _recency,
    "cycle_days": _recency,
    "order_trend_90": _trend,
    "orders_90": _trend,
    "orders_180": _trend,
    "orders_30": lambda r: f"{_n(r['orders_30'])} orders in the last 30 days",
    "orders": lambda r: (
        f"only {_n(r['orders'])} order(s) so far"
        if r["orders"] <= 2
        else f"{_n(r['orders'])} orders so far"
    ),
    "tenure_days": lambda r: f"customer for {_n(r['tenure_days'])} days",
    "days_since_interaction": lambda r: (
        f"no interaction of any kind for {_n(r['days_since_interaction'])} days"
    ),
    "deleted_staff": lambda r: _deleted(r),
    "deleted_staff_90": lambda r: _deleted(r),
    "aov": lambda r: f"average order {r['aov']:,.0f} CNY",
    "spend_total": lambda r: f"spent {r['spend_total']:,.0f} CNY so far",
    "staff_deleted": lambda r: "was deleted by a salesperson",
    "handovers": lambda r: "was handed over to another salesperson",
    "group_leaves_90": lambda r: f"left {_n(r['group_leaves_90'])} WeCom group(s) in 90 days",
    "groups_now": lambda r: (
        "in no WeCom group any more"
        if r["groups_now"] == 0
        else f"in {_n(r['groups_now'])} WeCom group(s)"
    ),
    "page_views_30": lambda r: f"{_n(r['page_views_30'])} mini-program visits in the last 30 days",
    "page_views_90": lambda r: f"{_n(r['page_views_90'])} mini-program visits in the last 90 days",
    "abandoned_carts_30": lambda r: (
        f"left {_n(r['abandoned_carts_30'])} cart(s) without buying in the last 30 days"
    ),
    "msgs_in_30": lambda r: f"wrote {_n(r['msgs_in_30'])} message(s) in the last 30 days",
    "msgs_in_90": lambda r: f"wrote {_n(r['msgs_in_90'])} message(s) in the last 90 days",
    "negative_msgs_90": lambda r: (
        f"sent {_n(r['negative_msgs_90'])} negative message(s) in the last 90 days"
    ),
    "leaving_msgs_90": lambda r: (
        f"complained or spoke of leaving {_n(r['leaving_msgs_90'])} time(s) in the last 90 days"
    ),
    "buying_msgs_30": lambda r: (
        f"asked to buy {_n(r['buying_msgs_30'])} time(s) in the last 30 days"
    ),
    "opens_90": lambda r: (
        f"opened {_n(r['opens_90'])} of {_n(r['touches_90'])} marketing messages in 90 days"
    ),
    "open_rate_90": lambda r: (
        f"opened {_n(r['opens_90'])} of {_n(r['touches_90'])} marketing messages in 90 days"
    ),
    "refunds": lambda r: f"{_n(r['refunds'])} refunded order(s)",
    "refund_share": lambda r: f"refunded {r['refund_share']:.0%} of spend",
    "spend_90": lambda r: f"spent {r['spend_90']:,.0f} CNY in the last 90 days",
    "promo_share": lambda r: f"{r['promo_share']:.0%} of purchase days in 618 / 双11",
    "platforms": lambda r: f"buys on {_n(r['platforms'])} platform(s)",
}


def sentence(feature: str, row: pd.Series) -> str:
    """One reason in words for ``feature`` of ``row`` (a feature-frame row).

    Examples
    --------
    >>> sentence("recency_days", pd.Series({"recency_days": 47.0, "cycle_days": 21.0}))
    'no order for 47 days, usually buys every 21'
    """
    if feature not in FEATURE_NAMES:
        raise ValueError(f"unknown feature {feature!r}")
    make = SENTENCES.get(feature)
    if make is not None:
        try:
            return make(row)
        except (KeyError, TypeError, ValueError):
            pass  # a missing value: fall back to the plain description
    from scrm_lib.churn.features import FEATURES

    value = row.get(feature)
    shown = "unknown" if value is None or pd.isna(value) else f"{float(value):g}"
    return f"{FEATURES[feature]}: {shown}"


def contributions(
    predict: Callable[[pd.DataFrame], np.ndarray],
    rows: pd.DataFrame,
    reference: pd.Series,
) -> pd.DataFrame:
    """Occlusion contributions: p(row) - p(row with one feature at its reference), per feature.

    ``predict`` maps a feature frame to probabilities; one call on
    ``len(rows) * n_features`` rows.
    """
    names = list(FEATURE_NAMES)
    base = predict(rows)
    n, k = len(rows), len(names)
    X = rows[names].to_numpy(dtype="float64")
    big = np.repeat(X[np.newaxis, :, :], k, axis=0)  # k copies, one per occluded feature
    ref = reference.reindex(names).to_numpy(dtype="float64")
    for j in range(k):
        big[j, :, j] = ref[j]
    occluded = predict(pd.DataFrame(big.reshape(k * n, k), columns=names)).reshape(k, n)
    return pd.DataFrame((base[np.newaxis, :] - occluded).T, columns=names, index=rows.index)


def explain(
    predict: Callable[[pd.DataFrame], np.ndarray],
    rows: pd.DataFrame,
    reference: pd.Series,
    *,
    top: int = 3,
    min_effect: float = 0.005,
    fallback: str = "recency_days",
) -> pd.Series:
    """The ``top`` reasons per row, as one string joined by "; ".

    A row where no feature moves the probability by ``min_effect`` (a saturated
    model: every single occlusion leaves p near 1) still gets one reason: its
    largest positive contribution, else the ``fallback`` feature, because an
    early-warning entry without a reason cannot be acted on.

    Examples
    --------
    >>> explain(lambda X: model.predict_proba(X)[:, 1], rows, reference)  # doctest: +SKIP
    """
    if rows.empty:
        return pd.Series([], dtype="string", index=rows.index)
    c = contributions(predict, rows, reference)
    out = []
    for (_, row), (_, contrib) in zip(rows.iterrows(), c.iterrows(), strict=True):
        said: list[str] = []
        for feat in contrib.sort_values(ascending=False).index:
            if contrib[feat] < min_effect or len(said) >= top:
                break
            text = sentence(feat, row)
            if text not in said:  # related features share one sentence
                said.append(text)
        if not said:
            best = contrib.idxmax()
            said.append(sentence(best if contrib[best] > 0 else fallback, row))
        out.append("; ".join(said))
    return pd.Series(out, index=rows.index, dtype="string")


def reference_values(features: pd.DataFrame) -> pd.Series:
    """Typical values of the population (medians; NaN-only features stay NaN)."""
    return finite_reference(features[list(FEATURE_NAMES)].median(numeric_only=True))


def finite_reference(medians: pd.Series) -> pd.Series:
    """Medians per feature as :func:`explain` takes them: every feature, infinities NaN."""
    return (
        medians.reindex(list(FEATURE_NAMES))
        .astype("float64")
        .map(lambda v: v if not (isinstance(v, float) and math.isinf(v)) else np.nan)
    )
