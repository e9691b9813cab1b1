"""Plotly figures for experiment read-outs (used by the notebook and the dashboard).

Example
-------
>>> import pandas as pd
>>> from scrm_lib.experiments.analysis import analyze
>>> df = pd.DataFrame({"arm": ["A"] * 4 + ["B"] * 4, "y": [0, 1, 0, 0, 1, 1, 0, 1]})
>>> fig = plot_lifts(analyze(df).results)
>>> fig.data[0].type
'scatter'
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from scrm_lib.labels import label


def plot_lifts(results: pd.DataFrame, *, relative: bool = True) -> go.Figure:
    """Point estimates with interval bars per metric × arm; the zero line is 'no effect'."""
    col, lo, hi = ("relative", "relative_lo", "relative_hi") if relative else (
        "absolute", "absolute_lo", "absolute_hi")  # fmt: skip
    fig = go.Figure()
    if results.empty:
        return fig
    r = results[results.get("segment", "(all)") == "(all)"] if "segment" in results else results
    labels = r["metric"] + " · " + r["arm"].astype(str)
    colors = ["#2a9d8f" if s else "#8d99ae" for s in r.get("significant", [False] * len(r))]
    fig.add_trace(
        go.Scatter(
            x=r[col],
            y=labels,
            mode="markers",
            marker={"size": 10, "color": colors},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": (r[hi] - r[col]).clip(lower=0),
                "arrayminus": (r[col] - r[lo]).clip(lower=0),
            },
            name="lift",
        )
    )
    fig.add_vline(x=0, line_dash="dash", line_color="#e76f51")
    fig.update_layout(
        title="相对提升 / Relative lift (95% CI)" if relative else "绝对提升 / Absolute lift",
        xaxis_title=label("relative" if relative else "absolute"),
        xaxis_tickformat=".0%" if relative else None,
        height=120 + 40 * len(r),
        margin={"l": 10, "r": 10, "t": 50, "b": 30},
    )
    return fig


def plot_sequential(looks: pd.DataFrame, *, lang: str | None = None) -> go.Figure:
    """Cumulative lift with its always-valid confidence sequence, look by look.

    The first looks' intervals are unbounded (too few units): the chart starts at
    the first look whose interval is finite, and says so, so the axis shows the lift
    instead of ±infinity. When no look has a finite interval the chart says why.
    """
    import numpy as np

    from scrm_lib.labels import message

    fig = go.Figure()
    fig.update_layout(
        title="序贯监控 / Sequential monitoring (always valid)", height=380,
        xaxis_title=label("day", lang), yaxis_title=label("estimate", lang),
    )  # fmt: skip
    if looks.empty:
        return fig
    finite = np.isfinite(looks["ci_lo"].astype(float)) & np.isfinite(looks["ci_hi"].astype(float))
    shown = looks[finite]
    if shown.empty:
        fig.add_annotation(text=message("sequential_empty", lang), xref="paper", yref="paper",
                           x=0.5, y=0.5, showarrow=False)  # fmt: skip
        fig.update_yaxes(visible=False)
        return fig
    for arm, g in shown.groupby("arm"):
        fig.add_trace(
            go.Scatter(x=g["day"], y=g["estimate"], name=f"{arm} {label('estimate', lang)}")
        )
        fig.add_trace(
            go.Scatter(
                x=list(g["day"]) + list(g["day"])[::-1],
                y=list(g["ci_hi"]) + list(g["ci_lo"])[::-1],
                fill="toself",
                opacity=0.2,
                line={"width": 0},
                name=f"{arm} 置信序列 / confidence sequence",
            )
        )
    fig.add_hline(y=0, line_dash="dash")
    # the first finite intervals are still very wide: frame the settled ones (within 4x the
    # latest width) so the lift is readable; the wider early band runs off the chart
    width = shown["ci_hi"] - shown["ci_lo"]
    last = shown.groupby("arm")["ci_hi"].transform("last") - shown.groupby("arm")[
        "ci_lo"
    ].transform("last")
    settled = shown[width <= 4 * last]
    if len(settled) and len(settled) < len(shown):
        lo = min(settled["ci_lo"].min(), settled["estimate"].min(), 0.0)
        hi = max(settled["ci_hi"].max(), settled["estimate"].max(), 0.0)
        pad = 0.1 * (hi - lo or 1.0)
        fig.update_yaxes(range=[lo - pad, hi + pad])
    if (~finite).any():
        start = shown["day"].min()
        day = start.date().isoformat() if hasattr(start, "date") else str(start)
        fig.add_annotation(text=message("sequential_start", lang, day=day), xref="paper",
                           yref="paper", x=0, y=1.08, showarrow=False, xanchor="left")  # fmt: skip
    return fig
