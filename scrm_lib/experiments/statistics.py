"""Sufficient statistics per arm: what the engine computes, what the tests consume.

Every test in this package works from a few sums per arm (``n``, ``sum``,
``sum_squares`` and cross-products), never from the rows themselves, so the
warehouse aggregates in SQL and only a handful of numbers reach Python. Each
statistic is a frozen dataclass that validates itself on creation; build one
from raw per-unit values with its ``from_values`` class method.

Example
-------
>>> s = ProportionStatistic(n=1000, sum=52)
>>> round(s.mean, 3), round(s.variance, 6)
(0.052, 0.049296)
>>> SampleMeanStatistic.from_values([1.0, 2.0, 3.0]).variance
1.0
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from scrm_lib.experiments.messages import ExperimentInputError


def _check_count(name: str, value: float) -> None:
    if not math.isfinite(value) or value < 0:
        raise ExperimentInputError(f"{name} must be a finite count >= 0, not {value!r}")


def _check_finite(name: str, value: float) -> None:
    if not math.isfinite(value):
        raise ExperimentInputError(f"{name} must be a finite number, not {value!r}")


def _values(values: Any, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float).ravel()
    if not np.isfinite(arr).all():
        raise ExperimentInputError(f"{name}: values must be finite (found NaN or infinity)")
    return arr


@dataclass(frozen=True)
class ProportionStatistic:
    """A conversion metric: ``sum`` of ``n`` units converted (each unit 0 or 1).

    Raises ``ExperimentInputError`` for negative counts or conversions above
    exposures.
    """

    n: int
    sum: float

    def __post_init__(self) -> None:
        _check_count("n (units)", self.n)
        _check_count("conversions", self.sum)
        if self.sum > self.n:
            raise ExperimentInputError(
                f"conversions ({self.sum:g}) exceed units ({self.n:g}): counts must be per unit"
            )

    @classmethod
    def from_values(cls, values: Any) -> ProportionStatistic:
        """From per-unit 0/1 (or True/False) outcomes."""
        arr = _values(values, "conversion")
        if not np.isin(arr, (0.0, 1.0)).all():
            raise ExperimentInputError("conversion values must be 0 or 1")
        return cls(n=int(arr.size), sum=float(arr.sum()))

    @property
    def sum_squares(self) -> float:
        return self.sum

    @property
    def mean(self) -> float:
        return self.sum / self.n if self.n else 0.0

    @property
    def variance(self) -> float:
        """Per-unit variance p(1 - p) (the binomial MLE, as in the z-test)."""
        return self.mean * (1.0 - self.mean)


@dataclass(frozen=True)
class SampleMeanStatistic:
    """A continuous metric per unit (revenue per person): ``n``, ``sum``, ``sum_squares``."""

    n: int
    sum: float
    sum_squares: float

    def __post_init__(self) -> None:
        _check_count("n (units)", self.n)
        _check_finite("sum", self.sum)
        _check_count("sum of squares", self.sum_squares)
        # Cauchy-Schwarz: n * sum_squares >= sum^2; allow rounding from SQL decimals
        if self.n and self.sum**2 > self.n * self.sum_squares * (1 + 1e-9) + 1e-9:
            raise ExperimentInputError(
                f"sum of squares {self.sum_squares:g} is too small for n={self.n} and "
                f"sum={self.sum:g}: not the sums of one set of values"
            )

    @classmethod
    def from_values(cls, values: Any) -> SampleMeanStatistic:
        arr = _values(values, "values")
        return cls(n=int(arr.size), sum=float(arr.sum()), sum_squares=float((arr**2).sum()))

    @property
    def mean(self) -> float:
        return self.sum / self.n if self.n else 0.0

    @property
    def variance(self) -> float:
        """Per-unit sample variance (n - 1 denominator)."""
        if self.n <= 1:
            return 0.0
        return max((self.sum_squares - self.sum**2 / self.n) / (self.n - 1), 0.0)


def _covariance(n: int, sum_a: float, sum_b: float, sum_ab: float) -> float:
    if n <= 1:
        return 0.0
    return (sum_ab - sum_a * sum_b / n) / (n - 1)


@dataclass(frozen=True)
class RatioStatistic:
    """A ratio metric (revenue per order): numerator ``m`` and denominator ``d`` per unit.

    The estimate is ``sum(m) / sum(d)``; its variance comes from the delta
    method (Deng, Knoblich & Lu 2018, "Applying the delta method in metric
    analytics", KDD).
    """

    n: int
    m: SampleMeanStatistic
    d: SampleMeanStatistic
    m_d_sum_of_products: float

    def __post_init__(self) -> None:
        _check_count("n (units)", self.n)
        if self.m.n != self.n or self.d.n != self.n:
            raise ExperimentInputError("ratio metric: numerator and denominator need the same n")

    @classmethod
    def from_values(cls, numerator: Any, denominator: Any) -> RatioStatistic:
        m, d = _values(numerator, "numerator"), _values(denominator, "denominator")
        if m.shape != d.shape:
            raise ExperimentInputError("ratio metric: numerator and denominator differ in length")
        return cls(
            n=int(m.size),
            m=SampleMeanStatistic.from_values(m),
            d=SampleMeanStatistic.from_values(d),
            m_d_sum_of_products=float((m * d).sum()),
        )

    @property
    def mean(self) -> float:
        return self.m.sum / self.d.sum if self.d.sum else 0.0

    @property
    def covariance(self) -> float:
        return _covariance(self.n, self.m.sum, self.d.sum, self.m_d_sum_of_products)

    @property
    def variance(self) -> float:
        """Per-unit variance of the linearized ratio; divide by n for the estimate's."""
        if self.n <= 1 or self.d.mean == 0:
            return 0.0
        r = self.mean
        v = self.m.variance - 2 * r * self.covariance + r**2 * self.d.variance
        return max(v, 0.0) / self.d.mean**2


@dataclass(frozen=True)
class RegressionAdjustedStatistic:
    """An outcome ``post`` with one or more pre-period covariates ``pre`` (CUPED).

    ``post_pre_sum_of_products[j]`` is sum(y * x_j) and
    ``pre_pre_sum_of_products[j][k]`` is sum(x_j * x_k) over the arm's units.
    """

    n: int
    post: SampleMeanStatistic
    pre: tuple[SampleMeanStatistic, ...]
    post_pre_sum_of_products: tuple[float, ...]
    pre_pre_sum_of_products: tuple[tuple[float, ...], ...]

    def __post_init__(self) -> None:
        _check_count("n (units)", self.n)
        k = len(self.pre)
        if k == 0:
            raise ExperimentInputError("CUPED needs at least one pre-period covariate")
        if len(self.post_pre_sum_of_products) != k or len(self.pre_pre_sum_of_products) != k:
            raise ExperimentInputError("CUPED: one cross-product per covariate is needed")
        if any(s.n != self.n for s in (self.post, *self.pre)):
            raise ExperimentInputError("CUPED: outcome and covariates need the same n")

    @classmethod
    def from_values(cls, post: Any, pre: Any) -> RegressionAdjustedStatistic:
        """``post``: outcome per unit; ``pre``: one covariate (1-D) or several (n × k)."""
        y = _values(post, "outcome")
        x = np.asarray(pre, dtype=float)
        x = x.reshape(-1, 1) if x.ndim == 1 else x
        if x.shape[0] != y.size or not np.isfinite(x).all():
            raise ExperimentInputError("CUPED: covariates must be finite, one row per unit")
        return cls(
            n=int(y.size),
            post=SampleMeanStatistic.from_values(y),
            pre=tuple(SampleMeanStatistic.from_values(x[:, j]) for j in range(x.shape[1])),
            post_pre_sum_of_products=tuple(float(v) for v in y @ x),
            pre_pre_sum_of_products=tuple(tuple(float(v) for v in row) for row in x.T @ x),
        )

    def centered(self) -> tuple[float, np.ndarray, np.ndarray]:
        """Centered sums of squares and products within the arm: (S_yy, S_xy, S_xx)."""
        n = self.n
        sx = np.array([p.sum for p in self.pre])
        syy = self.post.sum_squares - self.post.sum**2 / n if n else 0.0
        sxy = np.array(self.post_pre_sum_of_products) - sx * self.post.sum / n if n else sx * 0
        sxx = np.array(self.pre_pre_sum_of_products) - np.outer(sx, sx) / n if n else None
        return syy, sxy, sxx

    @property
    def mean(self) -> float:
        return self.post.mean

    @property
    def pre_means(self) -> np.ndarray:
        return np.array([p.mean for p in self.pre])


@dataclass(frozen=True)
class ClusterStatistic:
    """An outcome per person in an arm randomized by cluster (group chat, salesperson).

    Person-level sums (``n``, ``sum``, ``sum_squares``) plus cluster-level
    sums: ``k`` clusters, sum over clusters of Y_c², N_c², Y_c·N_c and Y_c²/N_c, where
    Y_c is the cluster's outcome total and N_c its number of persons. That is
    all the cluster-robust variance and the intra-cluster correlation need.
    """

    k: int
    n: int
    sum: float
    sum_squares: float
    cluster_sum_squares: float  # Σ Y_c²
    cluster_size_squares: float  # Σ N_c²
    cluster_sum_size_products: float  # Σ Y_c N_c
    cluster_sum_squares_over_size: float  # Σ Y_c² / N_c (between-cluster sum of squares)

    def __post_init__(self) -> None:
        _check_count("clusters", self.k)
        _check_count("n (persons)", self.n)
        if self.k > self.n:
            raise ExperimentInputError(f"more clusters ({self.k}) than persons ({self.n})")
        _check_finite("sum", self.sum)
        _check_count("sum of squares", self.sum_squares)
        _check_count("Σ cluster size²", self.cluster_size_squares)

    @classmethod
    def from_values(cls, values: Any, clusters: Sequence[Any]) -> ClusterStatistic:
        y = _values(values, "values")
        if len(clusters) != y.size:
            raise ExperimentInputError("clusters: one cluster id per value is needed")
        _, inverse = np.unique(np.asarray(clusters, dtype=object).astype(str), return_inverse=True)
        yc = np.bincount(inverse, weights=y)
        nc = np.bincount(inverse).astype(float)
        return cls(
            k=int(nc.size),
            n=int(y.size),
            sum=float(y.sum()),
            sum_squares=float((y**2).sum()),
            cluster_sum_squares=float((yc**2).sum()),
            cluster_size_squares=float((nc**2).sum()),
            cluster_sum_size_products=float((yc * nc).sum()),
            cluster_sum_squares_over_size=float((yc**2 / nc).sum()),
        )

    @property
    def mean(self) -> float:
        return self.sum / self.n if self.n else 0.0

    @property
    def person_variance(self) -> float:
        """Per-person sample variance, ignoring clusters."""
        if self.n <= 1:
            return 0.0
        return max((self.sum_squares - self.sum**2 / self.n) / (self.n - 1), 0.0)

    @property
    def residual_sum_of_squares(self) -> float:
        """Σ_c (Y_c − ȳ N_c)²: the core of the cluster-robust (sandwich) variance."""
        r = self.mean
        return max(
            self.cluster_sum_squares
            - 2 * r * self.cluster_sum_size_products
            + r**2 * self.cluster_size_squares,
            0.0,
        )


Statistic = (
    ProportionStatistic
    | SampleMeanStatistic
    | RatioStatistic
    | RegressionAdjustedStatistic
    | ClusterStatistic
)
