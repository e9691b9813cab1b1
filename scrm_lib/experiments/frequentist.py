"""Frequentist tests of one treatment arm against control, from sufficient statistics.

Each test takes two statistics (control first) and a :class:`StatsConfig`
and returns a :class:`Comparison` with the absolute lift (treatment minus
control), the relative lift (treatment / control − 1, its interval from the
delta method) and a p-value. Edge cases come back as ``error`` codes
(:mod:`scrm_lib.experiments.messages`) with NaN numbers, never as exceptions.

- :func:`proportion_test`: two-proportion z-test (pooled standard error for the
  test statistic, unpooled Wald interval for the difference);
- :func:`mean_test`: Welch's t-test (unequal variances, Welch–Satterthwaite df);
- :func:`ratio_test`: ratio metrics (revenue per order) by the delta method.

CUPED lives in :mod:`.cuped`, cluster-randomized tests in :mod:`.cluster`.

Example
-------
>>> from scrm_lib.experiments.statistics import ProportionStatistic as P
>>> r = proportion_test(P(n=10000, sum=400), P(n=10000, sum=520))
>>> round(r.absolute, 4), round(r.relative, 2), r.p_value < 0.001
(0.012, 0.3, True)

References
----------
Deng, Knoblich & Lu (2018), Applying the delta method in metric analytics, KDD.
Welch (1947), The generalization of Student's problem, Biometrika 34.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from scipy import stats

from scrm_lib.experiments.messages import (
    NO_UNITS_IN_ARM,
    TOO_FEW_UNITS,
    ZERO_BASELINE,
    ZERO_VARIANCE,
    ExperimentInputError,
    describe,
)
from scrm_lib.experiments.statistics import (
    ProportionStatistic,
    RatioStatistic,
    SampleMeanStatistic,
)

Alternative = Literal["two-sided", "greater", "less"]
NAN = float("nan")


@dataclass(frozen=True)
class StatsConfig:
    """Options every test shares.

    Parameters
    ----------
    alpha
        Significance level; intervals have coverage 1 − alpha.
    alternative
        ``"two-sided"``, ``"greater"`` (treatment above control) or ``"less"``.
    """

    alpha: float = 0.05
    alternative: Alternative = "two-sided"

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ExperimentInputError(f"alpha must be between 0 and 1, not {self.alpha!r}")
        if self.alternative not in ("two-sided", "greater", "less"):
            raise ExperimentInputError(
                f"alternative must be two-sided, greater or less, not {self.alternative!r}"
            )


@dataclass(frozen=True)
class Comparison:
    """One comparison of treatment with control."""

    method: str
    n_control: int
    n_treatment: int
    control_mean: float
    treatment_mean: float
    absolute: float = NAN
    absolute_ci: tuple[float, float] = (NAN, NAN)
    relative: float = NAN
    relative_ci: tuple[float, float] = (NAN, NAN)
    se: float = NAN
    statistic: float = NAN
    p_value: float = NAN
    df: float | None = None
    error: str | None = None
    #: method-specific numbers: variance reduction (CUPED), design effect and ICC (clusters)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def message(self) -> str:
        return describe(self.error)

    def significant(self, alpha: float = 0.05) -> bool:
        return bool(self.error is None and self.p_value < alpha)

    def to_dict(self) -> dict[str, Any]:
        """Flat, JSON-friendly (intervals as ``*_lo`` / ``*_hi``)."""
        out = {
            "method": self.method,
            "n_control": self.n_control,
            "n_treatment": self.n_treatment,
            "control_mean": self.control_mean,
            "treatment_mean": self.treatment_mean,
            "absolute": self.absolute,
            "absolute_lo": self.absolute_ci[0],
            "absolute_hi": self.absolute_ci[1],
            "relative": self.relative,
            "relative_lo": self.relative_ci[0],
            "relative_hi": self.relative_ci[1],
            "se": self.se,
            "statistic": self.statistic,
            "p_value": self.p_value,
            "df": self.df,
            "error": self.error,
        }
        out.update(self.details)
        return out


def _dist(df: float | None):
    return stats.norm if df is None else stats.t(df)


def _interval(estimate: float, se: float, q: float, alternative: Alternative) -> tuple:
    if alternative == "greater":
        return (estimate - q * se, math.inf)
    if alternative == "less":
        return (-math.inf, estimate + q * se)
    return (estimate - q * se, estimate + q * se)


def finish(
    method: str,
    *,
    n: tuple[int, int],
    means: tuple[float, float],
    var_of_means: tuple[float, float],
    config: StatsConfig,
    df: float | None = None,
    se_test: float | None = None,
    details: dict[str, Any] | None = None,
) -> Comparison:
    """Lifts, intervals and p-value from two arm means and the variances of those means.

    ``se_test`` replaces the standard error in the test statistic only (the
    pooled one of the two-proportion z-test); intervals always use the
    unpooled standard error.
    """
    (ma, mb), (va, vb) = means, var_of_means
    diff = mb - ma
    se = math.sqrt(va + vb)
    dist = _dist(df)
    a = config.alpha
    q = dist.ppf(1 - a / 2) if config.alternative == "two-sided" else dist.ppf(1 - a)
    z = diff / (se_test if se_test is not None else se)
    if config.alternative == "greater":
        p = dist.sf(z)
    elif config.alternative == "less":
        p = dist.cdf(z)
    else:
        p = 2 * dist.sf(abs(z))
    result = Comparison(
        method=method,
        n_control=int(n[0]),
        n_treatment=int(n[1]),
        control_mean=ma,
        treatment_mean=mb,
        absolute=diff,
        absolute_ci=_interval(diff, se, q, config.alternative),
        se=se,
        statistic=z,
        p_value=float(p),
        df=df,
        details=details or {},
    )
    if ma == 0:
        return replace(result, error=ZERO_BASELINE)
    rel = mb / ma - 1
    # delta method for g(ma, mb) = mb / ma − 1 with independent arms
    rel_se = math.sqrt(vb / ma**2 + mb**2 * va / ma**4)
    return replace(result, relative=rel, relative_ci=_interval(rel, rel_se, q, config.alternative))


def failed(method: str, code: str, n: tuple[int, int], means=(NAN, NAN), **kw) -> Comparison:
    """A result that carries only counts, means and the reason no test was possible."""
    return Comparison(
        method=method,
        n_control=int(n[0]),
        n_treatment=int(n[1]),
        control_mean=means[0],
        treatment_mean=means[1],
        error=code,
        **kw,
    )


def proportion_test(
    control: ProportionStatistic,
    treatment: ProportionStatistic,
    config: StatsConfig | None = None,
) -> Comparison:
    """Two-proportion z-test with absolute and relative lift intervals.

    The test statistic uses the pooled proportion (the classic z-test, as
    ``statsmodels.stats.proportion.proportions_ztest``); the interval for the
    difference is the unpooled Wald interval; the relative lift interval
    comes from the delta method.

    Examples
    --------
    >>> r = proportion_test(ProportionStatistic(5000, 200), ProportionStatistic(5000, 260))
    >>> round(r.p_value, 4)
    0.0042
    """
    config = config or StatsConfig()
    a, b = control, treatment
    n = (a.n, b.n)
    if a.n == 0 or b.n == 0:
        return failed("two-proportion z-test", NO_UNITS_IN_ARM, n)
    means = (a.mean, b.mean)
    pooled = (a.sum + b.sum) / (a.n + b.n)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / a.n + 1 / b.n))
    if se_pooled == 0:
        return failed("two-proportion z-test", ZERO_VARIANCE, n, means)
    return finish(
        "two-proportion z-test",
        n=n,
        means=means,
        var_of_means=(a.variance / a.n, b.variance / b.n),
        config=config,
        se_test=se_pooled,
    )


def welch_df(va: float, vb: float, na: int, nb: int) -> float:
    """Welch–Satterthwaite degrees of freedom; ``va``, ``vb`` are variances of the means."""
    den = (va**2 / (na - 1) if na > 1 else 0.0) + (vb**2 / (nb - 1) if nb > 1 else 0.0)
    return (va + vb) ** 2 / den if den > 0 else math.inf


def mean_test(
    control: SampleMeanStatistic,
    treatment: SampleMeanStatistic,
    config: StatsConfig | None = None,
) -> Comparison:
    """Welch's t-test for a continuous metric (revenue per person).

    Examples
    --------
    >>> a = SampleMeanStatistic.from_values([1.0, 2.0, 3.0, 4.0])
    >>> b = SampleMeanStatistic.from_values([3.0, 4.0, 5.0, 7.0])
    >>> round(mean_test(a, b).p_value, 4)
    0.0837
    """
    config = config or StatsConfig()
    a, b = control, treatment
    n = (a.n, b.n)
    if a.n == 0 or b.n == 0:
        return failed("Welch t-test", NO_UNITS_IN_ARM, n)
    means = (a.mean, b.mean)
    if a.n < 2 or b.n < 2:
        return failed("Welch t-test", TOO_FEW_UNITS, n, means)
    va, vb = a.variance / a.n, b.variance / b.n
    if va + vb <= 0:
        return failed("Welch t-test", ZERO_VARIANCE, n, means)
    return finish(
        "Welch t-test",
        n=n,
        means=means,
        var_of_means=(va, vb),
        config=config,
        df=welch_df(va, vb, a.n, b.n),
    )


def ratio_test(
    control: RatioStatistic,
    treatment: RatioStatistic,
    config: StatsConfig | None = None,
) -> Comparison:
    """A ratio metric (sum of numerators / sum of denominators) by the delta method.

    Units are the randomization units (persons), so the ratio's variance
    accounts for the correlation between a person's orders and revenue.

    Examples
    --------
    >>> a = RatioStatistic.from_values([10.0, 0.0, 30.0, 20.0], [1, 0, 2, 1])
    >>> round(a.mean, 2)
    15.0
    """
    config = config or StatsConfig()
    a, b = control, treatment
    n = (a.n, b.n)
    if a.n == 0 or b.n == 0:
        return failed("delta method (ratio)", NO_UNITS_IN_ARM, n)
    means = (a.mean, b.mean)
    if a.n < 2 or b.n < 2:
        return failed("delta method (ratio)", TOO_FEW_UNITS, n, means)
    if a.d.sum == 0 or b.d.sum == 0:
        return failed("delta method (ratio)", ZERO_BASELINE, n, means)
    va, vb = a.variance / a.n, b.variance / b.n
    if va + vb <= 0:
        return failed("delta method (ratio)", ZERO_VARIANCE, n, means)
    return finish("delta method (ratio)", n=n, means=means, var_of_means=(va, vb), config=config)


def srm_test(
    observed: dict[str, int] | list[int],
    weights: dict[str, float] | list[float] | None = None,
    *,
    threshold: float = 0.001,
) -> dict[str, Any]:
    """Sample-ratio mismatch: chi-square goodness of fit of units per arm to the planned split.

    A p-value below ``threshold`` (0.001, the usual SRM alarm) means the
    assignment or the logging is broken and lifts should not be trusted.

    Examples
    --------
    >>> srm_test({"A": 5000, "B": 5400})["srm"]
    True
    """
    if isinstance(observed, dict):
        names = list(observed)
        counts = np.array([observed[k] for k in names], dtype=float)
        if isinstance(weights, dict):
            unknown = set(weights) - set(names)
            if unknown:
                raise ExperimentInputError(f"SRM weights name unknown arms: {sorted(unknown)}")
            w = np.array([float(weights.get(k, 0.0)) for k in names])
        else:
            w = None if weights is None else np.asarray(weights, dtype=float)
    else:
        counts = np.asarray(observed, dtype=float)
        names = [str(i) for i in range(counts.size)]
        w = None if weights is None else np.asarray(weights, dtype=float)
    if counts.size < 2:
        raise ExperimentInputError("SRM check needs at least two arms")
    if (counts < 0).any():
        raise ExperimentInputError(f"negative unit counts: {counts.tolist()}")
    if w is None:
        w = np.ones(counts.size)
    if w.size != counts.size or (w < 0).any() or w.sum() <= 0:
        raise ExperimentInputError(f"SRM weights must be one non-negative number per arm: {w}")
    total = counts.sum()
    if total == 0:
        return {
            "arms": names,
            "observed": counts.astype(int).tolist(),
            "expected": [0] * len(names),
            "chi2": NAN,
            "p_value": NAN,
            "srm": False,
            "error": NO_UNITS_IN_ARM,
        }
    expected = total * w / w.sum()
    chi2 = float((((counts - expected) ** 2) / np.where(expected > 0, expected, 1)).sum())
    p = float(stats.chi2.sf(chi2, counts.size - 1))
    return {
        "arms": names,
        "observed": counts.astype(int).tolist(),
        "expected": expected.tolist(),
        "chi2": chi2,
        "p_value": p,
        "srm": bool(p < threshold),
        "error": None,
    }
