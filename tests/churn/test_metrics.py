"""Lift and capture against a hand computation; the sklearn metrics wired the right way round."""

from __future__ import annotations

import numpy as np
import pytest

from scrm_lib.churn.labels import horizons
from scrm_lib.churn.metrics import evaluate, top_capture, top_lift


def test_lift_and_capture_by_hand():
    # 20 persons, 5 churned (base rate 0.25). Top decile = 2 persons: scores 0.95 and 0.90,
    # one churned -> rate 0.5, lift 0.5 / 0.25 = 2.0, capture 1 / 5 = 0.2.
    y = [1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0]
    s = [0.95, 0.90, 0.1, 0.5, 0.2, 0.3, 0.7, 0.1, 0.2, 0.1,
         0.6, 0.1, 0.1, 0.3, 0.2, 0.8, 0.1, 0.2, 0.1, 0.4]  # fmt: skip
    assert top_lift(y, s, top=0.1) == pytest.approx(2.0)
    assert top_capture(y, s, top=0.1) == pytest.approx(0.2)
    # top 25% = 5 persons: 0.95, 0.90, 0.8, 0.7, 0.6 -> 4 churned: lift 0.8 / 0.25, capture 4 / 5
    assert top_lift(y, s, top=0.25) == pytest.approx(3.2)
    assert top_capture(y, s, top=0.25) == pytest.approx(0.8)


def test_a_perfect_and_a_random_ranking():
    rng = np.random.default_rng(0)
    y = (rng.random(10_000) < 0.2).astype(int)
    assert top_lift(y, y + rng.random(len(y)) * 0.1, top=0.1) == pytest.approx(1 / y.mean())
    assert top_lift(y, rng.random(len(y)), top=0.1) == pytest.approx(1.0, abs=0.15)


def test_evaluate_matches_hand_values():
    y = [0, 0, 1, 1]
    p = [0.1, 0.4, 0.35, 0.8]
    m = evaluate(y, p, bins=2)
    assert m["roc_auc"] == pytest.approx(0.75)  # 3 of 4 (pos, neg) pairs ordered right
    assert m["brier"] == pytest.approx((0.01 + 0.16 + 0.4225 + 0.04) / 4)
    assert m["calibration_in_the_large"] == pytest.approx(np.mean(p) - 0.5)
    # average precision: ranks 0.8 (pos, P=1), 0.4 (neg), 0.35 (pos, P=2/3) -> (1 + 2/3) / 2
    assert m["pr_auc"] == pytest.approx((1 + 2 / 3) / 2)
    r = evaluate(y, [5, 40, 35, 80], probability=False)
    assert r["roc_auc"] == pytest.approx(0.75) and r["brier"] is None


def test_bad_inputs():
    with pytest.raises(ValueError, match="both"):
        evaluate([1, 1], [0.2, 0.3])
    with pytest.raises(ValueError, match="top"):
        top_lift([1, 0], [0.2, 0.3], top=0)
    with pytest.raises(ValueError, match="same length"):
        top_lift([1, 0], [0.2])


def test_horizon_scaled_by_own_cycle():
    import pandas as pd

    cfg = {"horizon_days": 90, "cycle_multiple": 2.0, "min_horizon_days": 30}
    got = horizons(pd.Series([10.0, 21.0, 80.0, np.nan]), cfg).tolist()
    assert got == [30, 42, 90, 90]
    assert horizons(pd.Series([10.0]), {**cfg, "cycle_multiple": 0.0}).tolist() == [90]
