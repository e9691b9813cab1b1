"""Score every customer, explain the risky ones, and keep the early-warning list.

Where the scores live
---------------------
``churn_scores`` is a mart *in the warehouse*: the build step
:func:`run` (registered in :mod:`scrm_lib.warehouse.steps` after ``value``) re-scores
every build with the current trained model, so the scores always belong
to the data they were computed from (same ``build_id``) and survive each
rebuild by being recomputed, not copied. The model itself lives outside
the warehouse (``<home>/data/models/churn/<version>/``) and survives
rebuilds. Without a trained model the step writes an empty table and says
why in ``churn_meta``; readers then score on the fly (:func:`churn_scores`)
when a model exists.

The early-warning list is every person at high risk (probability at or
above ``high_risk``) plus everyone silent for ``silent_days`` (30) or more
(the rule from practice: 30 days without any interaction is pre-churn),
ordered by value at risk = probability × CLV, so the costly ones come first.

Example
-------
>>> from scrm_lib.churn.scoring import score, early_warning
>>> early_warning(score("data/warehouse/scrm.duckdb")).head()  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from scrm_lib.churn.config import ChurnError, churn_config
from scrm_lib.churn.features import FEATURE_NAMES, as_features, features_table
from scrm_lib.churn.model import load_model, predict
from scrm_lib.churn.reasons import explain, finite_reference, reference_values
from scrm_lib.config import Settings, load_settings
from scrm_lib.engine import Runner, Scratch, Warehouse, map_batches, using
from scrm_lib.schema import MARTS
from scrm_lib.value._base import as_of_cut, default_as_of, meta_frame, write_mart

logger = logging.getLogger(__name__)

MART = "churn_scores"
META = "churn_meta"

#: Columns of the mart and their meaning, as declared in :data:`scrm_lib.schema.MARTS`.
COLUMNS: dict[str, str] = MARTS[MART].columns
#: ``df`` with exactly the mart's columns and types (so an empty mart is typed too).
typed = MARTS[MART].typed


def _value(con: Any, as_of: dt.date, settings: Settings) -> pd.DataFrame:
    """CLV and net spend per person: the value mart, or the CLV model on the fly."""
    from scrm_lib.value.persons import MART as VALUE_MART

    if VALUE_MART in con.list_tables():
        df = con.execute(con.table(VALUE_MART).select("person_id", "clv", "monetary"))
    else:
        from scrm_lib.value.clv import clv

        try:
            df = clv(con, as_of=as_of, settings=settings, bad_orders="exclude")
        except (ChurnError, ValueError) as exc:
            logger.warning("churn: no CLV for the value at risk (%s)", exc)
            return pd.DataFrame({"person_id": [], "clv": [], "monetary": []})
        df = df[["person_id", "clv", "monetary"]]
    df["person_id"] = df["person_id"].astype(str)
    return df


def build_id_of(con: Any) -> str | None:
    """The build that made the warehouse behind ``con`` (None for hand-made warehouses)."""
    if "builds" not in con.list_tables():
        return None
    df = con.execute(con.table("builds").order_by("started_at"))
    return None if df.empty else str(df["build_id"].iloc[-1])


def score(
    warehouse: Warehouse = None,
    *,
    as_of: str | dt.date | None = None,
    version: str | None = None,
    settings: Settings | None = None,
    build_id: str | None = None,
    reasons: bool = True,
    **overrides: Any,
) -> pd.DataFrame:
    """Churn probability, risk band, the 30-day-silent rule, value at risk and reasons per person.

    Parameters
    ----------
    warehouse
        Warehouse path, None (configured) or an open ibis backend.
    as_of
        Last day of data (default: the day of the latest order).
    version
        Model version (default: ``CURRENT``).
    reasons
        Explain the early-warning persons (the ``explain_top`` most valuable).

    Returns
    -------
    pandas.DataFrame
        The columns of :data:`COLUMNS`, highest probability first.

    Raises
    ------
    ChurnError
        No trained model, a model of another feature set, or nobody to score.

    Examples
    --------
    >>> score("data/warehouse/scrm.duckdb").head()  # doctest: +SKIP
    """
    settings = settings or load_settings()
    cfg = churn_config(settings, **overrides)
    model, card = load_model(version, settings=settings)
    with using(warehouse) as con:
        day = default_as_of(con, settings.timezone) if as_of is None else as_of
        cut = as_of_cut(day, settings.timezone)
        value = _value(con, cut.date, settings)
        build_id = build_id or build_id_of(con)
        # the features are computed once, by the engine; on Spark the model then scores
        # them on the executors and only the scores come back
        with Scratch(con, "churn_features") as scratch:
            feats = scratch.hold(features_table(con, cut, settings=settings, cfg=cfg))
            rows = map_batches(
                con,
                feats,
                functools.partial(score_rows, model, cfg=cfg),
                ROW_SCHEMA,
                step=f"churn scores at {cut.date}",
            )
            if rows.empty:
                raise ChurnError(f"nobody bought in the {cfg['population_days']} days before {day}")
            out = rank_scores(rows, value)
            if reasons:
                out = _with_reasons(con, out, model, feats, cfg)
    out["as_of"] = cut.date.isoformat()
    out["model_version"] = card["version"]
    out["build_id"] = build_id
    out = typed(out)
    out.attrs.update(as_of=cut.date.isoformat(), model_version=card["version"], build_id=build_id)
    return out


#: What :func:`score_rows` gives per person.
ROW_SCHEMA = ibis.schema(
    {
        "person_id": "string",
        "churn_probability": "float64",
        "risk_band": "string",
        "recency_days": "int64",
        "silent_days": "int64",
        "pre_churn_silent": "boolean",
        "early_warning": "boolean",
    }
)


def score_rows(model: Any, feats: pd.DataFrame, *, cfg: dict[str, Any]) -> pd.DataFrame:
    """Each person's probability, risk band and the silence rule (:data:`ROW_SCHEMA`).

    Row-wise: on a Spark build each executor runs it on its own batches of features.
    """
    if feats.empty:  # an empty batch: the model takes no zero-row input
        return pd.DataFrame({c: pd.Series(dtype=t.to_pandas()) for c, t in ROW_SCHEMA.items()})
    feats = as_features(feats)
    p = predict(model, feats)
    out = pd.DataFrame({"person_id": feats["person_id"].to_numpy()})
    out["churn_probability"] = p
    hi = cfg["high_risk"]
    out["risk_band"] = np.where(p >= hi, "high", np.where(p >= hi / 2, "medium", "low"))
    out["recency_days"] = feats["recency_days"].to_numpy().astype("int64")
    out["silent_days"] = feats["days_since_interaction"].to_numpy().astype("int64")
    out["pre_churn_silent"] = out["silent_days"] >= cfg["silent_days"]
    out["early_warning"] = (out["risk_band"] == "high") | out["pre_churn_silent"]
    return out


def rank_scores(rows: pd.DataFrame, value: pd.DataFrame) -> pd.DataFrame:
    """Value at risk and the rank of each person, highest probability first (no reasons yet)."""
    out = rows.merge(value, on="person_id", how="left")
    out["value_at_risk"] = (out["churn_probability"] * out["clv"].fillna(0.0)).round(2)
    out = out.sort_values(["churn_probability", "person_id"], ascending=[False, True])
    out["risk_rank"] = np.arange(1, len(out) + 1)
    out["reasons"] = pd.Series(pd.NA, index=out.index, dtype="string")
    return out.reset_index(drop=True)


def to_explain(out: pd.DataFrame, cfg: dict[str, Any]) -> list[str]:
    """The early-warning persons whose reasons are written: the most value at risk first."""
    warn = out[out["early_warning"]].sort_values("value_at_risk", ascending=False)
    return warn.head(cfg["explain_top"])["person_id"].tolist()


def add_reasons(
    out: pd.DataFrame,
    model: Any,
    rows: pd.DataFrame,
    reference: pd.Series,
    cfg: dict[str, Any],
) -> pd.DataFrame:
    """``out`` with the reasons of the persons whose features are ``rows``."""
    text = explain(lambda X: predict(model, X), rows, reference, top=cfg["reasons"])
    said = dict(zip(rows["person_id"], text, strict=True))
    hit = out["person_id"].isin(set(said))
    out.loc[hit, "reasons"] = out.loc[hit, "person_id"].map(said).astype("string")
    return out


def _with_reasons(
    con: Any, out: pd.DataFrame, model: Any, feats: ir.Table, cfg: dict[str, Any]
) -> pd.DataFrame:
    # only the explained persons' features and the medians leave the engine
    runner = Runner(con, label="churn")
    pick = to_explain(out, cfg)
    if not pick:
        return out
    medians = feats.aggregate([feats[c].cast("float64").median().name(c) for c in FEATURE_NAMES])
    reference = finite_reference(runner.execute(medians, step="churn reference values").iloc[0])
    picked = feats.filter(feats.person_id.isin(pick))
    rows = as_features(runner.execute(picked, step="churn features to explain"))
    order = {pid: i for i, pid in enumerate(pick)}
    rows = rows.sort_values("person_id", key=lambda s: s.map(order)).reset_index(drop=True)
    return add_reasons(out, model, rows, reference, cfg)


def score_frame(
    model: Any,
    feats: pd.DataFrame,
    value: pd.DataFrame,
    *,
    cfg: dict[str, Any],
    reasons: bool = True,
) -> pd.DataFrame:
    """Score a feature frame with a fitted model (no warehouse access: used by the benchmark)."""
    out = rank_scores(score_rows(model, feats, cfg=cfg), value)
    if reasons:
        pick = to_explain(out, cfg)
        rows = as_features(feats).set_index("person_id").loc[pick].reset_index()
        out = add_reasons(out, model, rows, reference_values(feats), cfg)
    return out


def early_warning(scores: pd.DataFrame, *, limit: int | None = None) -> pd.DataFrame:
    """The early-warning persons, costliest first (value at risk, then probability).

    Examples
    --------
    >>> early_warning(score(), limit=50)  # doctest: +SKIP
    """
    warn = scores[scores["early_warning"].astype(bool)]
    warn = warn.sort_values(
        ["value_at_risk", "churn_probability", "person_id"], ascending=[False, False, True]
    )
    return (warn.head(limit) if limit else warn).reset_index(drop=True)


def churn_scores(warehouse: Warehouse = None, *, settings: Settings | None = None) -> pd.DataFrame:
    """The scores of the warehouse: its ``churn_scores`` mart, or scored now with the current model.

    Raises
    ------
    ChurnError
        The warehouse has no scores and no model is trained.

    Examples
    --------
    >>> churn_scores("data/warehouse/scrm.duckdb").risk_band.value_counts()  # doctest: +SKIP
    """
    settings = settings or load_settings()
    with using(warehouse) as con:
        if MART in con.list_tables():
            df = con.execute(con.table(MART))
            if not df.empty:
                df = typed(df).sort_values("risk_rank").reset_index(drop=True)
                df.attrs.update(
                    as_of=str(df["as_of"].iloc[0]), model_version=str(df["model_version"].iloc[0])
                )
                return df
        return score(con, settings=settings)


def segment_filter(person_ids: Any) -> list[dict[str, Any]]:
    """A saved-segment definition holding exactly these persons ("make a segment of these").

    Examples
    --------
    >>> segment_filter(["P1", "P2"])
    [{'column': 'person_id', 'op': 'in', 'value': ['P1', 'P2']}]
    """
    ids = sorted({str(p) for p in person_ids})
    if not ids:
        raise ChurnError("no persons to make a segment of")
    return [{"column": "person_id", "op": "in", "value": ids}]


def run(ctx: Any) -> dict[str, int]:
    """Build step: re-score with the current model into ``churn_scores`` (empty without one).

    With ``[churn] train_in_build`` (``scrm build --train-churn``) the step
    first trains and saves a model on this build's data, as ``scrm churn
    train`` would, so one build both trains and scores (``make demo``).
    """
    from scrm_lib.churn.model import current_version

    meta: dict[str, Any] = {"build_id": ctx.build_id}
    df = typed(pd.DataFrame())
    if churn_config(ctx.settings)["train_in_build"]:
        from scrm_lib.churn.backtest import train

        try:
            card = train(ctx.con, settings=ctx.settings, build_id=ctx.build_id)
            meta["trained"] = card["version"]
        except (ChurnError, ValueError) as exc:
            # too little history or one class: score with the previous model, if any
            logger.warning("churn: no model trained in this build (%s)", exc)
            meta["train_error"] = str(exc)
    if current_version(ctx.settings) is None:
        meta["note"] = "no churn model trained yet; run `scrm churn train`"
    else:
        try:
            df = score(ctx.con, settings=ctx.settings, build_id=ctx.build_id)
            meta.update(model_version=df.attrs["model_version"], as_of=df.attrs["as_of"])
            from scrm_lib.churn.model import load_card

            # the card travels with its scores: reports read the warehouse, not the model folder
            meta["card"] = load_card(df.attrs["model_version"], settings=ctx.settings)
        except ChurnError as exc:
            # the build must not fail because of a stale model: say so and leave it empty
            logger.warning("churn: %s", exc)
            meta["error"] = str(exc)
    write_mart(ctx.con, MART, df)
    write_mart(ctx.con, META, meta_frame(meta))
    return {MART: len(df)}


def scored_with(warehouse: Warehouse = None) -> dict[str, Any]:
    """What the build recorded about the churn step in ``churn_meta``: ``model_version``,
    ``as_of``, ``card`` (the scoring model's card: backtest metrics, calibration,
    importance), or ``note`` / ``error`` when it wrote no scores; ``{}`` for a
    warehouse built before the step existed.

    Examples
    --------
    >>> scored_with("data/warehouse/scrm.duckdb")["card"]["version"]  # doctest: +SKIP
    '20261205T054619-e7fb37'
    """
    with using(warehouse) as con:
        if META not in con.list_tables():
            return {}
        df = con.execute(con.table(META))
    return {str(k): json.loads(v) for k, v in zip(df["key"], df["value"], strict=True)}


def model_info(
    warehouse: Warehouse = None, *, settings: Settings | None = None
) -> dict[str, Any] | None:
    """The current model's card (None when no model is trained); ``warehouse`` is unused.

    It takes a warehouse so that the dashboard's cached ``query`` can call it like
    every other reader.
    """
    from scrm_lib.churn.model import current_version, load_card

    settings = settings or load_settings()
    if current_version(settings) is None:
        return None
    return load_card(settings=settings)
