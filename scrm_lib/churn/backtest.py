"""Temporal backtest and training: earlier cutoffs train, a later one validates, the latest scores.

With ``H`` = ``horizon_days`` and the data ending on day ``E`` (the last
order's local day):

- validation cutoff ``V = E - H`` (its label window is fully observed);
- training cutoffs ``V - H - k * cutoff_step_days`` for ``k = 0 ..
  train_cutoffs - 1``, stacked into one training set (so the model sees
  several positions in the promotion calendar); every training label window
  ends by ``V``: nothing the validation labels know leaks into training;
- the final model (``train``) uses the same layout shifted by ``H``, ending
  at ``E``, and scores at ``E``.

The same run scores the validation cutoff with two baselines: the recency
rule (days since the last purchase) and ``1 - P(alive)`` from a BG/NBD
model fitted on the purchases before ``V`` (:mod:`scrm_lib.value.clv`).

Example
-------
>>> res = backtest("data/warehouse/scrm.duckdb")  # doctest: +SKIP
>>> res.metrics.loc[:, ["roc_auc", "top_decile_lift"]]  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scrm_lib.churn.config import ChurnError, churn_config
from scrm_lib.churn.features import compute_features
from scrm_lib.churn.labels import label_frame
from scrm_lib.churn.metrics import evaluate
from scrm_lib.churn.model import fit_model, predict
from scrm_lib.config import Settings, load_settings
from scrm_lib.engine import Warehouse, using
from scrm_lib.value._base import as_of_cut, default_as_of

logger = logging.getLogger(__name__)

#: Scores compared in a backtest, in report order.
METHODS: dict[str, str] = {
    "model": "calibrated gradient boosting",
    "recency": "recency rule (days since the last purchase)",
    "p_alive": "BG/NBD 1 - P(alive)",
}


@dataclass
class BacktestResult:
    """What a backtest found: metrics per method, the validation scores, the cutoffs used."""

    metrics: pd.DataFrame  # one row per method
    scores: pd.DataFrame  # person_id, churned, model, recency, p_alive at the validation cutoff
    cutoffs: dict[str, Any]
    model: Any = None
    importance: pd.DataFrame | None = None
    attrs: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (the CLI's ``--json`` and the model card)."""
        rows = {}
        for method, row in self.metrics.iterrows():
            rows[method] = {k: _plain(v) for k, v in row.items()}
        return {"cutoffs": self.cutoffs, "metrics": rows, **self.attrs}


def _plain(v: Any) -> Any:
    if isinstance(v, (np.floating, float)):
        return None if np.isnan(v) else float(v)
    if isinstance(v, np.integer):
        return int(v)
    return v


def plan_cutoffs(end: dt.date, cfg: dict[str, Any], *, final: bool) -> dict[str, Any]:
    """The training (and validation) cutoff days for data ending on ``end``.

    Examples
    --------
    >>> cfg = {"horizon_days": 90, "train_cutoffs": 2, "cutoff_step_days": 30}
    >>> plan_cutoffs(dt.date(2026, 10, 31), cfg, final=False)["validate"]
    '2026-08-02'
    """
    h = dt.timedelta(days=cfg["horizon_days"])
    step = dt.timedelta(days=cfg["cutoff_step_days"])
    anchor = end if final else end - h
    train = [anchor - h - k * step for k in range(cfg["train_cutoffs"])]
    out = {"data_end": end.isoformat(), "train": [d.isoformat() for d in sorted(train)]}
    out["score" if final else "validate"] = anchor.isoformat()
    return out


def labelled(con: Any, day: dt.date, *, settings: Settings, cfg: dict[str, Any]) -> pd.DataFrame:
    """Features and label at the cutoff ending ``day``."""
    cut = as_of_cut(day, settings.timezone)
    feats = compute_features(con, cut, settings=settings, cfg=cfg)
    if feats.empty:
        raise ChurnError(
            f"cutoff {day}: nobody bought in the {cfg['population_days']} days before it "
            "(a cutoff with no history); use a later cutoff or more data"
        )
    lab = label_frame(con, cut, feats, cfg=cfg, settings=settings)
    out = feats.merge(lab, on="person_id", validate="1:1")
    out.insert(1, "cutoff", day.isoformat())
    return out


def training_set(
    con: Any, days: list[str], *, settings: Settings, cfg: dict[str, Any]
) -> pd.DataFrame:
    """Stacked labelled rows of several cutoffs."""
    parts = [labelled(con, dt.date.fromisoformat(d), settings=settings, cfg=cfg) for d in days]
    return pd.concat(parts, ignore_index=True)


def p_alive_at(con: Any, day: dt.date, *, settings: Settings) -> pd.DataFrame:
    """BG/NBD P(alive) per person, fitted on the purchases before the end of ``day``."""
    from scrm_lib.value.clv import fit_bgnbd, summary

    s = summary(con, as_of=day, settings=settings, bad_orders="exclude")
    x, tx, T = (s[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    bg = fit_bgnbd(x, tx, T)
    out = pd.DataFrame({"person_id": s["person_id"].astype(str), "p_alive": bg.p_alive(x, tx, T)})
    out.attrs["bgnbd"] = bg.params()
    return out


def _importance(model: Any, X: pd.DataFrame, y: np.ndarray, seed: int) -> pd.DataFrame:
    from sklearn.inspection import permutation_importance

    from scrm_lib.churn.features import FEATURE_NAMES

    Xf = X[list(FEATURE_NAMES)].to_numpy(dtype="float64")
    # sklearn's permutation importance on ROC-AUC: what the ranking loses without a feature
    from threadpoolctl import threadpool_limits

    # one OpenMP thread: many small predictions, where spinning threads cost 20x (see predict)
    with threadpool_limits(1):
        r = permutation_importance(model, Xf, y, scoring="roc_auc", n_repeats=3, random_state=seed)
    df = pd.DataFrame(
        {"feature": list(FEATURE_NAMES), "importance": r.importances_mean, "std": r.importances_std}
    )
    return df.sort_values("importance", ascending=False).reset_index(drop=True)


def backtest(
    warehouse: Warehouse = None,
    *,
    end: str | dt.date | None = None,
    settings: Settings | None = None,
    importance: bool = False,
    **overrides: Any,
) -> BacktestResult:
    """Train at earlier cutoffs, validate at a later one; compare with the two baselines.

    Parameters
    ----------
    warehouse
        Warehouse path, None (configured) or an open ibis backend.
    end
        Last day of data to use (default: the day of the latest order).
    importance
        Also compute permutation importance on the validation set.
    overrides
        ``[churn]`` settings for this run.

    Returns
    -------
    BacktestResult
        ``metrics`` (rows ``model``, ``recency``, ``p_alive``; columns ROC-AUC,
        PR-AUC, Brier, top-decile lift and capture, calibration), the
        validation ``scores`` and the ``cutoffs``.

    Raises
    ------
    ChurnError
        Too little history for the cutoffs, or too few churned / retained persons.

    Examples
    --------
    >>> backtest("data/warehouse/scrm.duckdb", horizon_days=60).metrics  # doctest: +SKIP
    """
    settings = settings or load_settings()
    cfg = churn_config(settings, **overrides)
    with using(warehouse) as con:
        last = default_as_of(con, settings.timezone)
        end_day = last if end is None else dt.date.fromisoformat(str(end))
        if end_day > last:
            end_day = last
        plan = plan_cutoffs(end_day, cfg, final=False)
        _check_history(con, plan, settings)
        train = training_set(con, plan["train"], settings=settings, cfg=cfg)
        valid_day = dt.date.fromisoformat(plan["validate"])
        valid = labelled(con, valid_day, settings=settings, cfg=cfg)
        pa = p_alive_at(con, valid_day, settings=settings)
    model = fit_model(train, train["churned"], groups=train["person_id"], cfg=cfg)
    y = valid["churned"].to_numpy()
    scores = valid[["person_id", "churned", "recency_days", "days_since_interaction"]].copy()
    scores["model"] = predict(model, valid)
    scores = scores.merge(pa, on="person_id", how="left")
    # a person in the population always has a purchase, so P(alive) exists; guard anyway
    scores["p_alive"] = scores["p_alive"].fillna(0.0)
    scores["recency"] = scores["recency_days"]
    if len(np.unique(y)) < 2:
        raise ChurnError(
            f"validation cutoff {valid_day}: every person has the same label; nothing to compare"
        )
    rows = {
        "model": evaluate(y, scores["model"]),
        "recency": evaluate(y, scores["recency_days"], probability=False),
        "p_alive": evaluate(y, 1.0 - scores["p_alive"]),
    }
    metrics = pd.DataFrame.from_dict(rows, orient="index")
    imp = _importance(model, valid, y, cfg["seed"]) if importance else None
    attrs = {
        "train_rows": len(train),
        "train_churn_rate": float(train["churned"].mean()),
        "validate_rows": len(valid),
        "horizon_days": cfg["horizon_days"],
        "bgnbd": pa.attrs.get("bgnbd"),
    }
    return BacktestResult(metrics, scores, plan, model=model, importance=imp, attrs=attrs)


def _check_history(con: Any, plan: dict[str, Any], settings: Settings) -> None:
    from scrm_lib.value._base import COUNTED_STATUSES

    o = con.table("orders")
    o = o.filter(o.status.isin(COUNTED_STATUSES))
    import ibis

    first = con.execute(o.aggregate(x=ibis.coalesce(o.paid_at, o.created_at).min()))["x"].iloc[0]
    first_day = pd.Timestamp(first).tz_convert(settings.timezone).date()
    earliest = dt.date.fromisoformat(plan["train"][0])
    if earliest < first_day:
        raise ChurnError(
            f"not enough history: the earliest training cutoff {earliest} is before the first "
            f"order ({first_day}); use fewer train_cutoffs, a shorter horizon_days, or more data"
        )


def train(
    warehouse: Warehouse = None,
    *,
    settings: Settings | None = None,
    save: bool = True,
    build_id: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Backtest, then fit the final model on the latest cutoffs and save it with its card.

    ``build_id`` names the build the data come from when ``warehouse`` is
    still being built (the build step); default: its last build.

    Returns
    -------
    dict
        The model card (version, data window, cutoffs, features, backtest metrics).

    Examples
    --------
    >>> train("data/warehouse/scrm.duckdb")["version"]  # doctest: +SKIP
    """
    from scrm_lib.churn.model import save_model

    settings = settings or load_settings()
    cfg = churn_config(settings, **overrides)
    with using(warehouse) as con:
        bt = backtest(con, settings=settings, importance=True, **overrides)
        end_day = dt.date.fromisoformat(bt.cutoffs["data_end"])
        plan = plan_cutoffs(end_day, cfg, final=True)
        rows = training_set(con, plan["train"], settings=settings, cfg=cfg)
        build_id = build_id or _build_id(con)
    model = fit_model(rows, rows["churned"], groups=rows["person_id"], cfg=cfg)
    card = {
        "kind": "churn",
        "algorithm": "HistGradientBoostingClassifier + CalibratedClassifierCV "
        f"({cfg['calibration']}, {cfg['calibration_folds']} person-grouped folds)",
        "label": f"no purchase within {cfg['horizon_days']} days after the cutoff"
        + (f" (scaled: {cfg['cycle_multiple']} x own cycle)" if cfg["cycle_multiple"] else ""),
        "data_window": {"first_cutoff": plan["train"][0], "data_end": plan["data_end"]},
        "cutoffs": plan,
        "build_id": build_id,
        "train_rows": len(rows),
        "train_churn_rate": float(rows["churned"].mean()),
        "config": cfg,
        "backtest": bt.to_dict(),
        "importance": (
            bt.importance.head(15).round(5).to_dict(orient="records")
            if bt.importance is not None
            else None
        ),
    }
    if not save:
        card["version"] = None
        return card
    folder = save_model(model, card, settings=settings)
    from scrm_lib.churn.model import load_card

    return load_card(folder.name, settings=settings)


def _build_id(con: Any) -> str | None:
    if "builds" not in con.list_tables():
        return None
    df = con.execute(con.table("builds").order_by("started_at"))
    return None if df.empty else str(df["build_id"].iloc[-1])
