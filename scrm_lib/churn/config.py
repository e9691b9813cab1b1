"""The ``[churn]`` settings of ``scrm.toml``: defaults here, validated in one place.

Example
-------
>>> churn_config(horizon_days=60)["horizon_days"]
60
"""

from __future__ import annotations

from typing import Any

from scrm_lib.config import Settings, config_section
from scrm_lib.errors import ConfigError, ScrmError

#: Defaults of the ``[churn]`` section of ``scrm.toml``.
CHURN_DEFAULTS: dict[str, Any] = {
    # label: no purchase within this many days after the cutoff
    "horizon_days": 90,
    # > 0: scale each person's horizon to this multiple of their own purchase cycle,
    # kept between min_horizon_days and horizon_days (0: the same horizon for everyone)
    "cycle_multiple": 0.0,
    "min_horizon_days": 30,
    # who is scored: persons with a purchase in the last population_days before the cutoff
    "population_days": 365,
    # training: this many cutoffs, cutoff_step_days apart, stacked into one training set
    "train_cutoffs": 4,
    "cutoff_step_days": 30,
    # refunds and opens are only known once they settle: count them on older rows only
    "refund_settle_days": 15,
    "open_settle_days": 3,
    # fewer positives or negatives than this: refuse to train
    "min_class": 20,
    # calibration of the boosted trees' scores
    "calibration": "isotonic",
    "calibration_folds": 3,
    # early warning: probability at or above this is high risk; silent this long is pre-churn
    "high_risk": 0.7,
    "silent_days": 30,
    # reasons in words: this many per person, for the most valuable early-warning persons
    "reasons": 3,
    "explain_top": 5000,
    "seed": 0,
    # train a model in every build before scoring (`scrm build --train-churn` for one build);
    # false: the build scores with the model `scrm churn train` saved last
    "train_in_build": False,
    "max_iter": 100,
    "learning_rate": 0.1,
}

CALIBRATIONS = ("isotonic", "sigmoid")


class ChurnError(ScrmError):
    """Churn scoring cannot go on with these data or this model (says what to do instead)."""


def churn_config(settings: Settings | None = None, **overrides: Any) -> dict[str, Any]:
    """The ``[churn]`` settings: defaults, then ``scrm.toml``, then ``overrides`` (None skipped).

    Raises
    ------
    ConfigError
        An unknown key or a value out of range, named.

    Examples
    --------
    >>> churn_config(calibration="sigmoid")["calibration"]
    'sigmoid'
    """
    cfg = dict(CHURN_DEFAULTS)
    given = config_section("churn", CHURN_DEFAULTS, settings, **overrides)
    for key, value in given.items():
        default = CHURN_DEFAULTS[key]
        if isinstance(default, bool) and not isinstance(value, bool):
            raise ConfigError(f"[churn] {key} must be true or false, not {value!r}")
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"[churn] {key} must be a number, not {value!r}")
            if value < 0:
                raise ConfigError(f"[churn] {key} must be 0 or more, not {value!r}")
            if isinstance(default, int) and value != int(value):
                raise ConfigError(f"[churn] {key} must be a whole number, not {value!r}")
            value = type(default)(value)
        cfg[key] = value
    if cfg["calibration"] not in CALIBRATIONS:
        raise ConfigError(
            f"[churn] calibration must be one of {', '.join(CALIBRATIONS)}, "
            f"not {cfg['calibration']!r}"
        )
    for key in ("horizon_days", "train_cutoffs", "population_days", "max_iter"):
        if cfg[key] < 1:
            raise ConfigError(f"[churn] {key} must be 1 or more, not {cfg[key]!r}")
    if cfg["calibration_folds"] < 2:
        folds = cfg["calibration_folds"]
        raise ConfigError(f"[churn] calibration_folds must be 2 or more, not {folds}")
    if not 0 < cfg["high_risk"] < 1:
        raise ConfigError(f"[churn] high_risk is a probability in (0, 1), not {cfg['high_risk']!r}")
    if cfg["min_horizon_days"] > cfg["horizon_days"]:
        raise ConfigError(
            f"[churn] min_horizon_days ({cfg['min_horizon_days']}) is above horizon_days "
            f"({cfg['horizon_days']})"
        )
    return cfg
