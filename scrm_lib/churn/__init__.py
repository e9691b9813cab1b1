"""Churn scoring: point-in-time features, a temporal backtest against baselines, a calibrated
model with reasons in words, and the early-warning list.

See :mod:`scrm_lib.churn.features` (what the model sees), :mod:`scrm_lib.churn.labels`,
:mod:`scrm_lib.churn.backtest`, :mod:`scrm_lib.churn.model` and :mod:`scrm_lib.churn.scoring`.
"""

from scrm_lib._api import public

__all__, __getattr__, __dir__ = public(
    __name__,
    {
        "churn_features": ".features:feature_frame",
        "churn_backtest": ".backtest:backtest",
        "churn_train": ".backtest:train",
        "churn_score": ".scoring:score",
        "churn_scores": ".scoring:churn_scores",
        "early_warning": ".scoring:early_warning",
    },
)
