"""How well a churn score ranks and how honest its probabilities are.

ROC-AUC, PR-AUC (average precision), the Brier score and the calibration
curve come from :mod:`sklearn.metrics` / :mod:`sklearn.calibration`; lift
and capture rate in the top fraction are defined here (checked against a
hand computation in ``tests/churn/test_metrics.py``).

Example
-------
>>> top_lift([1, 0, 0, 1, 0, 0, 0, 0, 0, 0], [.9, .8, .1, .2, .3, .1, .1, .1, .1, .1], top=0.2)
2.5
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def _top_k(y: Any, score: Any, top: float) -> tuple[np.ndarray, np.ndarray, int]:
    y = np.asarray(y, dtype="float64")
    s = np.asarray(score, dtype="float64")
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError("labels and scores must be 1-d and of the same length")
    if len(y) == 0:
        raise ValueError("no rows to evaluate")
    if not 0 < top <= 1:
        raise ValueError(f"top is a fraction in (0, 1], not {top!r}")
    if np.isnan(s).any():
        raise ValueError("scores contain NaN")
    k = max(1, math.ceil(top * len(y)))
    # stable sort on the negated score: ties keep their input order, so the result is reproducible
    order = np.argsort(-s, kind="stable")
    return y, order[:k], k


def top_capture(y: Any, score: Any, *, top: float = 0.1) -> float:
    """Share of all positives found in the ``top`` fraction ranked by ``score`` (highest first).

    Examples
    --------
    >>> top_capture([1, 0, 0, 1], [0.9, 0.8, 0.1, 0.2], top=0.5)
    0.5
    """
    y, idx, _ = _top_k(y, score, top)
    total = y.sum()
    return float(y[idx].sum() / total) if total else float("nan")


def top_lift(y: Any, score: Any, *, top: float = 0.1) -> float:
    """Positive rate in the ``top`` fraction divided by the overall positive rate.

    Examples
    --------
    >>> top_lift([1, 0, 0, 1], [0.9, 0.8, 0.1, 0.2], top=0.5)
    1.0
    """
    y, idx, _ = _top_k(y, score, top)
    base = y.mean()
    return float(y[idx].mean() / base) if base else float("nan")


def evaluate(
    y: Any, score: Any, *, probability: bool = True, top: float = 0.1, bins: int = 10
) -> dict[str, Any]:
    """ROC-AUC, PR-AUC, Brier, top-decile lift and capture, calibration curve and -in-the-large.

    Parameters
    ----------
    y
        1 = churned.
    score
        Higher = more likely to churn; a probability when ``probability``.
    probability
        False for a ranking score (e.g. days since the last order): Brier and
        calibration are then left out (None).

    Examples
    --------
    >>> evaluate([0, 1, 1, 0], [0.1, 0.9, 0.6, 0.4])["roc_auc"]
    1.0
    """
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    y = np.asarray(y, dtype="int64")
    s = np.asarray(score, dtype="float64")
    if len(np.unique(y)) < 2:
        raise ValueError("evaluation needs both churned and retained persons")
    out: dict[str, Any] = {
        "n": len(y),
        "positives": int(y.sum()),
        "base_rate": float(y.mean()),
        "roc_auc": float(roc_auc_score(y, s)),
        "pr_auc": float(average_precision_score(y, s)),
        "top_decile_lift": top_lift(y, s, top=top),
        "top_decile_capture": top_capture(y, s, top=top),
        "brier": None,
        "calibration_in_the_large": None,
        "calibration": None,
    }
    if probability:
        if (s < 0).any() or (s > 1).any():
            raise ValueError("probability scores must lie in [0, 1]")
        frac, mean = calibration_curve(y, s, n_bins=bins, strategy="quantile")
        out["brier"] = float(brier_score_loss(y, s))
        # mean predicted minus observed rate: > 0 over-predicts churn
        out["calibration_in_the_large"] = float(s.mean() - y.mean())
        out["calibration"] = {"predicted": mean.tolist(), "observed": frac.tolist()}
    return out
