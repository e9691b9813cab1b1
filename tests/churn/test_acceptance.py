"""The model against the baselines: on the generated sample (ground truth churn) and on CDNOW."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from scrm_lib.churn.backtest import backtest
from scrm_lib.churn.cdnow import cdnow_backtest
from scrm_lib.churn.model import load_card
from scrm_lib.config import load_settings


@pytest.fixture(scope="module")
def sample_backtest(built_sample):
    """The backtest the shared sample's build ran when it trained its model (as `make demo`
    does, `scrm build --train-churn`): the model card keeps it, so it is not run twice."""
    bt = load_card(settings=load_settings(built_sample["home"]))["backtest"]
    return SimpleNamespace(
        metrics=pd.DataFrame(bt["metrics"]).T,
        cutoffs=bt["cutoffs"],
        attrs={k: v for k, v in bt.items() if k not in ("cutoffs", "metrics")},
    )


def test_model_ranks_above_the_better_baseline_on_the_sample(sample_backtest):
    m = sample_backtest.metrics
    better = max(m.loc["recency", "roc_auc"], m.loc["p_alive", "roc_auc"])
    assert m.loc["model", "roc_auc"] > better, m[["roc_auc", "top_decile_lift"]]
    # calibrated: mean prediction close to the observed rate, and better Brier than 1 - P(alive)
    assert abs(m.loc["model", "calibration_in_the_large"]) < 0.05
    assert m.loc["model", "brier"] < m.loc["p_alive", "brier"]
    assert m.loc["model", "n"] > 500


def test_backtest_cutoffs_never_let_training_labels_see_validation(sample_backtest):
    import datetime as dt

    c = sample_backtest.cutoffs
    horizon = sample_backtest.attrs["horizon_days"]
    last_train = dt.date.fromisoformat(c["train"][-1])
    assert last_train + dt.timedelta(days=horizon) <= dt.date.fromisoformat(c["validate"])
    assert dt.date.fromisoformat(c["validate"]) + dt.timedelta(days=horizon) <= (
        dt.date.fromisoformat(c["data_end"])
    )


@pytest.fixture(scope="session")
def big_sample(tmp_path_factory):
    """5,000 persons: the top-decile gap to the recency rule needs more than the shared 1,500."""
    from tests.sample_project import sample_home

    return sample_home(tmp_path_factory, 5000, 42, train_churn=False, label="churn_big")["home"]


@pytest.mark.slow
def test_model_beats_both_baselines_on_auc_and_top_decile_lift_at_5000(big_sample):
    res = backtest(big_sample / "data/warehouse/scrm.duckdb", settings=load_settings(big_sample))
    m = res.metrics
    for metric in ("roc_auc", "top_decile_lift"):
        assert m.loc["model", metric] > m.loc["recency", metric], (metric, m)
        assert m.loc["model", metric] > m.loc["p_alive", metric], (metric, m)


def test_cdnow_full_cohort_model_vs_p_alive():
    """Real purchases only: the backtest runs; the model ranks above P(alive) and is calibrated."""
    res = cdnow_backtest(train_cutoffs=2)
    m = res.metrics
    assert res.attrs["validate_rows"] > 5000
    assert m.loc["model", "roc_auc"] > m.loc["p_alive", "roc_auc"]
    assert abs(m.loc["model", "calibration_in_the_large"]) < 0.05
    # 1 - P(alive) is no churn probability for a 90-day window: far off in the large
    assert abs(m.loc["p_alive", "calibration_in_the_large"]) > 0.2
