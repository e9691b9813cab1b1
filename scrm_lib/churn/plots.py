"""Plotly figures for the notebook and the dashboard page (numbers come from the library).

Labels come from the display catalogue (:mod:`scrm_lib.labels`), in the configured
language unless ``lang`` is given.

Example
-------
>>> plot_calibration(card["backtest"]["metrics"]).show()  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from scrm_lib.labels import label, label_figure, language, value_label

#: Risk bands from the highest down, and their colours: red is high risk.
RISK_ORDER = ("high", "medium", "low")
RISK_COLORS = {"high": "#d62728", "medium": "#ff9f1c", "low": "#2a9d8f"}


def plot_risk_distribution(scores: pd.DataFrame, *, lang: str | None = None) -> Any:
    """Histogram of churn probabilities, coloured by risk band (red = high risk)."""
    import plotly.express as px

    lang = language(lang)
    band = {b: str(value_label("risk_band", b, lang)) for b in RISK_ORDER}
    shown = scores.assign(risk_band=scores["risk_band"].map(lambda b: band.get(b, b)))
    fig = px.histogram(
        shown, x="churn_probability", color="risk_band", nbins=20,
        category_orders={"risk_band": [band[b] for b in RISK_ORDER]},
        color_discrete_map={band[b]: RISK_COLORS[b] for b in RISK_ORDER},
        labels={"churn_probability": label("churn_probability", lang),
                "risk_band": label("risk_band", lang), "count": label("count", lang)},
        title="流失风险分布 / Risk distribution",
    )  # fmt: skip
    return label_figure(fig.update_layout(yaxis_title=label("count", lang)), lang)


def plot_calibration(metrics: dict[str, Any], *, lang: str | None = None) -> Any:
    """Predicted vs observed churn per quantile bin, one line per probability score."""
    import plotly.graph_objects as go

    lang = language(lang)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines",
                             name=str(value_label("method", "perfect", lang)),
                             line={"dash": "dot", "color": "grey"}))  # fmt: skip
    for method, m in metrics.items():
        cal = (m or {}).get("calibration")
        if cal:
            fig.add_trace(go.Scatter(x=cal["predicted"], y=cal["observed"],
                                     mode="lines+markers",
                                     name=str(value_label("method", method, lang))))  # fmt: skip
    fig.update_layout(
        title="校准曲线 / Calibration (validation cutoff)",
        xaxis_title=label("predicted", lang),
        yaxis_title=label("observed", lang),
    )
    return fig


def metrics_frame(metrics: dict[str, Any]) -> pd.DataFrame:
    """The backtest metrics as a small table, one row per method (machine column names)."""
    cols = ["roc_auc", "pr_auc", "brier", "top_decile_lift", "top_decile_capture",
            "calibration_in_the_large", "n", "positives"]  # fmt: skip
    df = pd.DataFrame.from_dict(metrics, orient="index")
    return df[[c for c in cols if c in df]].reset_index(names="method")
