"""The churn model: gradient-boosted trees with calibrated probabilities, saved with a card.

``HistGradientBoostingClassifier`` (handles missing values such as "no
cycle yet" natively) inside ``CalibratedClassifierCV`` (isotonic by
default), whose folds are grouped by person so that the same person at two
stacked cutoffs never sits on both sides of a calibration split.

A saved model is a folder ``<home>/data/models/churn/<version>/`` holding
``model.joblib`` and ``card.json`` (data window, cutoffs, features, metrics,
sha256 of the model file); ``CURRENT`` in the parent folder names the
version the build and ``scrm churn score`` use.

Example
-------
>>> m = fit_model(X, y, groups=X.index, cfg=churn_config())  # doctest: +SKIP
>>> m.predict_proba(X)[:, 1]  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scrm_lib.churn.config import ChurnError
from scrm_lib.churn.features import FEATURE_NAMES
from scrm_lib.config import Settings, load_settings

logger = logging.getLogger(__name__)

MODEL_FILE = "model.joblib"
CARD_FILE = "card.json"
CURRENT = "CURRENT"


def models_dir(settings: Settings | None = None) -> Path:
    """Where churn models live: ``<home>/data/models/churn`` (survives rebuilds)."""
    settings = settings or load_settings()
    return settings.home / "data" / "models" / "churn"


def check_classes(y: Any, cfg: dict[str, Any], what: str) -> None:
    """Refuse to train when either class has fewer than ``min_class`` rows."""
    y = np.asarray(y)
    pos, neg = int(y.sum()), int(len(y) - y.sum())
    # calibration splits each class into folds: fewer rows than folds cannot train
    need = max(cfg["min_class"], cfg["calibration_folds"], 1)
    if min(pos, neg) < need:
        raise ChurnError(
            f"{what}: {pos} churned and {neg} retained persons; training needs at least "
            f"{need} of each (more history, more train_cutoffs, or a lower "
            "[churn] min_class)"
        )


def fit_model(X: pd.DataFrame, y: Any, *, groups: Any, cfg: dict[str, Any]) -> Any:
    """Fit calibrated boosted trees on ``X[FEATURE_NAMES]``.

    Parameters
    ----------
    X
        Feature frame (extra columns ignored).
    y
        1 = churned.
    groups
        Person ids: calibration folds never split a person.

    Examples
    --------
    >>> fit_model(train, train.churned, groups=train.person_id, cfg=cfg)  # doctest: +SKIP
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import GroupKFold

    check_classes(y, cfg, "training set")
    Xf = X[list(FEATURE_NAMES)].to_numpy(dtype="float64")
    # a feature the data never have (no touches on CDNOW) is all NaN, which the binner
    # rejects; a constant is equivalent (never split on) and predictions stay NaN-safe
    Xf[:, np.isnan(Xf).all(axis=0)] = -1.0
    y = np.asarray(y, dtype="int64")
    trees = HistGradientBoostingClassifier(
        max_iter=cfg["max_iter"],
        learning_rate=cfg["learning_rate"],
        max_leaf_nodes=15,
        min_samples_leaf=20,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=cfg["seed"],
    )
    groups = np.asarray(groups)
    folds = min(cfg["calibration_folds"], len(np.unique(groups)))
    splits = list(GroupKFold(n_splits=folds).split(Xf, y, groups))
    model = CalibratedClassifierCV(trees, method=cfg["calibration"], cv=splits)
    from threadpoolctl import threadpool_limits

    # training sets are small: one OpenMP thread is as fast, and never stalls a busy machine
    with threadpool_limits(1):
        model.fit(Xf, y)
    return model


def predict(model: Any, X: pd.DataFrame) -> np.ndarray:
    """Churn probability per row of ``X``."""
    from threadpoolctl import threadpool_limits

    # OpenMP threads on a busy 2-core machine spin against each other: the permutation
    # importance of one backtest took 188 s with them and 9 s with one thread
    with threadpool_limits(1):
        return model.predict_proba(X[list(FEATURE_NAMES)].to_numpy(dtype="float64"))[:, 1]


def feature_set_id(names: tuple[str, ...] | list[str] = FEATURE_NAMES) -> str:
    """A short hash of the feature names, in order: a model fits only its own feature set."""
    return hashlib.sha256("\n".join(names).encode()).hexdigest()[:12]


def save_model(model: Any, card: dict[str, Any], *, settings: Settings | None = None) -> Path:
    """Write ``model.joblib`` and ``card.json`` into a new version folder and make it current."""
    import joblib

    root = models_dir(settings)
    now = dt.datetime.now(dt.UTC)
    version = now.strftime("%Y%m%dT%H%M%S") + "-" + feature_set_id()[:6]
    folder = root / version
    folder.mkdir(parents=True, exist_ok=False)
    joblib.dump(model, folder / MODEL_FILE)
    sha = hashlib.sha256((folder / MODEL_FILE).read_bytes()).hexdigest()
    card = {
        **card,
        "version": version,
        "created_at": now.isoformat(timespec="seconds"),
        "features": list(FEATURE_NAMES),
        "feature_set": feature_set_id(),
        "model_sha256": sha,
    }
    (folder / CARD_FILE).write_text(json.dumps(card, indent=2, ensure_ascii=False), "utf-8")
    (root / CURRENT).write_text(version + "\n", encoding="utf-8")
    logger.info("churn model %s saved to %s", version, folder)
    return folder


def current_version(settings: Settings | None = None) -> str | None:
    """The version ``CURRENT`` names, or None when no model was trained."""
    pointer = models_dir(settings) / CURRENT
    if not pointer.exists():
        return None
    return pointer.read_text(encoding="utf-8").strip() or None


def load_card(version: str | None = None, *, settings: Settings | None = None) -> dict[str, Any]:
    """The model card of ``version`` (default: the current one)."""
    version = version or current_version(settings)
    if version is None:
        raise ChurnError("no churn model trained yet; run `scrm churn train`")
    path = models_dir(settings) / version / CARD_FILE
    if not path.exists():
        raise ChurnError(f"no churn model {version!r} in {models_dir(settings)}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ChurnError(f"{path}: not a readable model card ({exc})") from None


def load_model(
    version: str | None = None, *, settings: Settings | None = None
) -> tuple[Any, dict[str, Any]]:
    """The fitted model and its card; refuses a model of another feature set or a changed file.

    Raises
    ------
    ChurnError
        No model, a card whose features differ from this version's features,
        or a model file whose checksum differs from the card's.
    """
    import joblib

    card = load_card(version, settings=settings)
    folder = models_dir(settings) / card["version"]
    features = card.get("features") or []
    if tuple(features) != FEATURE_NAMES:
        missing = sorted(set(FEATURE_NAMES) - set(features))
        extra = sorted(set(features) - set(FEATURE_NAMES))
        raise ChurnError(
            f"churn model {card['version']} was trained on another feature set "
            f"(missing: {', '.join(missing) or '-'}; unknown: {', '.join(extra) or '-'}"
            f"{'; same names, other order' if not missing and not extra else ''}); "
            "retrain with `scrm churn train`"
        )
    path = folder / MODEL_FILE
    if not path.exists():
        raise ChurnError(f"{path}: the model file is missing; retrain with `scrm churn train`")
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    if sha != card.get("model_sha256"):
        raise ChurnError(f"{path}: the file differs from its card (checksum); retrain")
    return joblib.load(path), card
