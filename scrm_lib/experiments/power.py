"""Power: sample size and minimum detectable effect, for proportions and means.

Two-sample normal approximation with an allocation ratio; CUPED shrinks the
variance by (1 − R²) where R² is the share of outcome variance the
pre-period covariates explain; cluster randomization inflates it by the
design effect 1 + (m − 1)·ICC for clusters of m persons.

Example
-------
>>> round(sample_size(baseline=0.04, mde=0.012, metric="proportion")["n_per_arm"])
4780

References
----------
Chow, Shao & Wang (2008), Sample size calculations in clinical research, ch. 4.
Donner & Klar (2000), design effect for cluster randomization.
"""

from __future__ import annotations

import math
from typing import Literal

from scipy import optimize, stats

from scrm_lib.experiments.messages import ExperimentInputError

Metric = Literal["proportion", "mean"]
Alternative = Literal["two-sided", "one-sided"]


def _check(name: str, value: float, lo: float, hi: float, *, closed: bool = False) -> None:
    ok = lo <= value <= hi if closed else lo < value < hi
    if not (math.isfinite(value) and ok):
        raise ExperimentInputError(f"{name} must be in ({lo}, {hi}), not {value!r}")


def _variances(metric: Metric, baseline: float, mde: float, sd: float | None):
    if metric == "proportion":
        _check("baseline rate", baseline, 0, 1)
        p2 = baseline + mde
        _check("baseline + mde", p2, 0, 1)
        return baseline * (1 - baseline), p2 * (1 - p2)
    if metric == "mean":
        if sd is None or not sd > 0:
            raise ExperimentInputError(f"a mean metric needs sd > 0, not {sd!r}")
        return sd**2, sd**2
    raise ExperimentInputError(f"metric must be proportion or mean, not {metric!r}")


def power(
    n_per_arm: float,
    *,
    baseline: float,
    mde: float,
    metric: Metric = "proportion",
    sd: float | None = None,
    alpha: float = 0.05,
    ratio: float = 1.0,
    alternative: Alternative = "two-sided",
    cuped_r2: float = 0.0,
    icc: float = 0.0,
    cluster_size: float = 1.0,
) -> float:
    """Power of the test with ``n_per_arm`` control units (treatment: ratio × n).

    Examples
    --------
    >>> round(power(4780, baseline=0.04, mde=0.012), 3)
    0.8
    """
    _check("alpha", alpha, 0, 1)
    _check("cuped_r2", cuped_r2, 0, 1, closed=True)
    _check("icc", icc, 0, 1, closed=True)
    if cluster_size < 1:
        raise ExperimentInputError(f"cluster_size must be >= 1, not {cluster_size!r}")
    if ratio <= 0 or n_per_arm <= 0:
        raise ExperimentInputError("n_per_arm and ratio must be positive")
    v1, v2 = _variances(metric, baseline, mde, sd)
    deff = (1 + (cluster_size - 1) * icc) * (1 - cuped_r2)
    se = math.sqrt(deff * (v1 / n_per_arm + v2 / (n_per_arm * ratio)))
    if se == 0:
        return 1.0
    d = abs(mde) / se
    if alternative == "one-sided":
        return float(stats.norm.sf(stats.norm.isf(alpha) - d))
    z = stats.norm.isf(alpha / 2)
    return float(stats.norm.sf(z - d) + stats.norm.cdf(-z - d))


def sample_size(
    *,
    baseline: float,
    mde: float,
    metric: Metric = "proportion",
    sd: float | None = None,
    alpha: float = 0.05,
    power_target: float = 0.8,
    ratio: float = 1.0,
    alternative: Alternative = "two-sided",
    cuped_r2: float = 0.0,
    icc: float = 0.0,
    cluster_size: float = 1.0,
) -> dict:
    """Units per arm for ``power_target`` to detect an absolute effect ``mde``.

    Returns ``n_per_arm`` (exact, fractional), ``n_control`` / ``n_treatment``
    (rounded up), ``total`` and, with clusters, ``clusters_per_arm``.

    Examples
    --------
    >>> r = sample_size(baseline=100.0, mde=5.0, metric="mean", sd=50.0)
    >>> r["n_control"]
    1570
    """
    _check("power_target", power_target, 0, 1)
    if mde == 0:
        raise ExperimentInputError("mde must not be 0")
    kw = dict(
        baseline=baseline, mde=mde, metric=metric, sd=sd, alpha=alpha, ratio=ratio,
        alternative=alternative, cuped_r2=cuped_r2, icc=icc, cluster_size=cluster_size,
    )  # fmt: skip
    hi = 10.0
    while power(hi, **kw) < power_target:
        hi *= 2
        if hi > 1e13:
            raise ExperimentInputError("no sample size reaches that power")
    n = optimize.brentq(lambda x: power(x, **kw) - power_target, 1e-9, hi, xtol=1e-10)
    out = {
        "n_per_arm": n,
        "n_control": math.ceil(n - 1e-9),
        "n_treatment": math.ceil(n * ratio - 1e-9),
    }
    out["total"] = out["n_control"] + out["n_treatment"]
    if cluster_size > 1:
        out["clusters_per_arm"] = math.ceil(n / cluster_size - 1e-9)
        out["design_effect"] = 1 + (cluster_size - 1) * icc
    return out


def minimum_detectable_effect(
    n_per_arm: float,
    *,
    baseline: float,
    metric: Metric = "proportion",
    sd: float | None = None,
    alpha: float = 0.05,
    power_target: float = 0.8,
    ratio: float = 1.0,
    alternative: Alternative = "two-sided",
    cuped_r2: float = 0.0,
    icc: float = 0.0,
    cluster_size: float = 1.0,
) -> float:
    """The smallest absolute lift (upwards) detected with ``power_target`` at ``n_per_arm``.

    Examples
    --------
    >>> round(minimum_detectable_effect(4780, baseline=0.04), 4)
    0.012
    """
    kw = dict(
        n_per_arm=n_per_arm, baseline=baseline, metric=metric, sd=sd, alpha=alpha, ratio=ratio,
        alternative=alternative, cuped_r2=cuped_r2, icc=icc, cluster_size=cluster_size,
    )  # fmt: skip
    hi = (1 - baseline) * (1 - 1e-9) if metric == "proportion" else 1.0
    if metric == "mean":
        while power(mde=hi, **kw) < power_target:
            hi *= 2
    elif power(mde=hi, **kw) < power_target:
        raise ExperimentInputError("no effect is detectable with that many units")
    return float(optimize.brentq(lambda d: power(mde=d, **kw) - power_target, 1e-12, hi))
