"""Churn scoring: point-in-time features, a temporal backtest against baselines, a calibrated
model with reasons in words, and the early-warning list.

See :mod:`scrm_lib.churn.features` (what the model sees), :mod:`scrm_lib.churn.labels`,
:mod:`scrm_lib.churn.backtest`, :mod:`scrm_lib.churn.model` and :mod:`scrm_lib.churn.scoring`.
"""
