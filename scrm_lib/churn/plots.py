"""Plotly figures for the notebook and the dashboard page (numbers come from the library).

Example
-------
>>> plot_calibration(card["backtest"]["metrics"]).show()  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import pandas as pd


def plot_risk_distribution(scores: pd.DataFrame) -> Any:
    """Histogram of churn probabilities, coloured by risk band."""
    import plotly.express as px

    return px.histogram(
        scores, x="churn_probability", color="risk_band", nbins=20,
        category_orders={"risk_band": ["high", "medium", "low"]},
        labels={"churn_probability": "流失概率 / churn probability", "risk_band": "风险 / risk"},
        title="流失风险分布 / Risk distribution",
    )  # fmt: skip


def plot_calibration(metrics: dict[str, Any]) -> Any:
    """Predicted vs observed churn per quantile bin, one line per probability score."""
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect",
                             line={"dash": "dot", "color": "grey"}))  # fmt: skip
    for method, m in metrics.items():
        cal = (m or {}).get("calibration")
        if cal:
            fig.add_trace(go.Scatter(x=cal["predicted"], y=cal["observed"],
                                     mode="lines+markers", name=method))  # fmt: skip
    fig.update_layout(
        title="校准曲线 / Calibration (validation cutoff)",
        xaxis_title="predicted churn probability",
        yaxis_title="observed churn rate",
    )
    return fig


def metrics_frame(metrics: dict[str, Any]) -> pd.DataFrame:
    """The backtest metrics as a small table, one row per method."""
    cols = ["roc_auc", "pr_auc", "brier", "top_decile_lift", "top_decile_capture",
            "calibration_in_the_large", "n", "positives"]  # fmt: skip
    df = pd.DataFrame.from_dict(metrics, orient="index")
    return df[[c for c in cols if c in df]].reset_index(names="method")
