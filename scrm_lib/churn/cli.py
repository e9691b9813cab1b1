"""``scrm churn``: backtest against the baselines, train and save a model, score the customers.

Example
-------
.. code-block:: bash

    scrm churn backtest --json
    scrm churn train
    scrm churn score --top 20 --out early_warning.csv
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scrm_lib.cli_common import JsonOpt, WarehouseOpt, emit_json, out, records, show, sub_app

app = sub_app("Churn: temporal backtest against baselines, calibrated model, early-warning list.")

HorizonOpt = Annotated[
    int | None, typer.Option("--horizon-days", help="Label: no purchase within N days.")
]


def _metrics_table(metrics: dict) -> None:
    import pandas as pd

    cols = ["roc_auc", "pr_auc", "brier", "top_decile_lift", "top_decile_capture",
            "calibration_in_the_large"]  # fmt: skip
    df = pd.DataFrame.from_dict(metrics, orient="index")[cols].reset_index(names="method")
    fmt = dict.fromkeys(cols, ".3f")
    show(df, "backtest at the validation cutoff", fmt)


@app.command("backtest")
def backtest_cmd(
    warehouse: WarehouseOpt = None,
    horizon_days: HorizonOpt = None,
    end: Annotated[
        str | None, typer.Option("--end", help="Last day of data to use (default: last order).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Train at earlier cutoffs, validate at a later one; the model against recency and P(alive)."""
    from scrm_lib.churn.backtest import backtest

    res = backtest(warehouse, end=end, horizon_days=horizon_days)
    data = res.to_dict()
    if as_json:
        emit_json(data)
        return
    c = res.cutoffs
    n, h = data["validate_rows"], data["horizon_days"]
    out.print(f"train at {', '.join(c['train'])}; validate at {c['validate']} "
              f"({n:,} persons, horizon {h} days)")  # fmt: skip
    _metrics_table(data["metrics"])


@app.command("train")
def train_cmd(
    warehouse: WarehouseOpt = None,
    horizon_days: HorizonOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Backtest, fit the final model on the latest cutoffs, save it with its model card."""
    from scrm_lib.churn.backtest import train

    card = train(warehouse, horizon_days=horizon_days)
    if as_json:
        emit_json(card)
        return
    out.print(f"churn model {card['version']} saved (trained on {card['train_rows']:,} rows, "
              f"cutoffs {', '.join(card['cutoffs']['train'])})")  # fmt: skip
    _metrics_table(card["backtest"]["metrics"])
    out.print("the next `scrm build` writes churn_scores with this model")


@app.command("score")
def score_cmd(
    warehouse: WarehouseOpt = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Last day of data (default: last order).")
    ] = None,
    top: Annotated[int, typer.Option(help="Early-warning persons to list, costliest first.")] = 20,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write the whole early-warning list to CSV.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Score every customer with the current model; list the early-warning persons."""
    from scrm_lib.access.privacy import write_export
    from scrm_lib.churn.scoring import early_warning, score

    df = score(warehouse, as_of=as_of)
    warn = early_warning(df)
    if out_file is not None:
        write_export(warn, out_file, fmt="csv")
    summary = {
        "as_of": df.attrs["as_of"],
        "model_version": df.attrs["model_version"],
        "build_id": df.attrs["build_id"],
        "persons": len(df),
        "bands": {k: int(v) for k, v in df["risk_band"].value_counts().items()},
        "early_warning": len(warn),
        "pre_churn_silent": int(df["pre_churn_silent"].sum()),
        "value_at_risk": round(float(warn["value_at_risk"].sum()), 2),
        "out": str(out_file) if out_file else None,
    }
    cols = ["person_id", "churn_probability", "silent_days", "clv", "value_at_risk", "reasons"]
    if as_json:
        emit_json({**summary, "top": records(warn.head(top)[cols])})
        return
    out.print(f"as of {summary['as_of']}, model {summary['model_version']}: "
              f"{summary['persons']:,} persons, {summary['early_warning']:,} on the early-warning "
              f"list, {summary['value_at_risk']:,.0f} CNY at risk")  # fmt: skip
    fmt = {"churn_probability": ".2f", "clv": ",.0f", "value_at_risk": ",.0f"}
    show(warn.head(top)[cols], f"early warning, top {top} by value at risk", fmt)
