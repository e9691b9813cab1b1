"""Reasons in words from occlusion contributions, on a hand-made model and rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scrm_lib.churn.features import FEATURE_NAMES
from scrm_lib.churn.reasons import explain


def _rows(**values: float) -> pd.DataFrame:
    row = dict.fromkeys(FEATURE_NAMES, 1.0) | values
    return pd.DataFrame([{"person_id": "p1", **row}])


def _reference() -> pd.Series:
    return pd.Series(1.0, index=list(FEATURE_NAMES))


def test_the_feature_that_moves_the_probability_is_said():
    def predict(X: pd.DataFrame) -> np.ndarray:
        return np.where(X["recency_days"].to_numpy() > 30, 0.9, 0.2)

    text = explain(predict, _rows(recency_days=47.0, cycle_days=21.0), _reference())
    assert text.iloc[0] == "no order for 47 days, usually buys every 21"


def test_a_saturated_model_still_gives_one_reason():
    """p = 0.99 whatever one feature does: no single occlusion stands out."""
    rows = _rows(recency_days=200.0, cycle_days=30.0)
    text = explain(lambda X: np.full(len(X), 0.99), rows, _reference())
    assert text.iloc[0] == "no order for 200 days, usually buys every 30"


def test_a_small_positive_contribution_beats_the_fallback():
    def predict(X: pd.DataFrame) -> np.ndarray:
        return 0.95 + 0.001 * (X["refunds"].to_numpy() > 1)

    text = explain(predict, _rows(refunds=4.0), _reference())
    assert text.iloc[0].startswith("4 refunded")
