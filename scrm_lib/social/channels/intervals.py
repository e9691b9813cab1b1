"""Intervals from sufficient statistics: Wilson for rates, Student's t for means.

The engine aggregates ``(n, k)`` or ``(n, sum, sum of squares)`` per group;
these functions turn them into intervals for every group at once (numpy
arrays in, arrays out), so a table of 400 channels × 24 cohorts costs one call.
statsmodels' ``proportion_confint`` and scipy's ``t.interval`` work on one
sample at a time and on raw values; the tests check these against both.

The quantiles come from ``scipy.special`` (``ndtri``, ``stdtrit``: what
``scipy.stats.norm.ppf`` and ``t.ppf`` compute), not ``scipy.stats``, whose import
alone (about a second) was a fifth of a small brand's ``scrm build``.
"""

from __future__ import annotations

import numpy as np
from scipy import special


def wilson(k: np.ndarray, n: np.ndarray, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of ``k`` successes in ``n`` trials (NaN where ``n`` is 0).

    Examples
    --------
    >>> lo, hi = wilson(np.array([12]), np.array([40]))
    >>> round(float(lo[0]), 4), round(float(hi[0]), 4)
    (0.1807, 0.4543)
    """
    k = np.asarray(k, dtype="float64")
    n = np.asarray(n, dtype="float64")
    z = special.ndtri(0.5 + confidence / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    bad = n <= 0
    return np.where(bad, np.nan, centre - half), np.where(bad, np.nan, centre + half)


def t_interval(
    n: np.ndarray, total: np.ndarray, sumsq: np.ndarray, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and its Student's t interval from ``n``, the sum and the sum of squares.

    Fewer than two values: the mean (or NaN) and no interval.

    Examples
    --------
    >>> m, lo, hi = t_interval(np.array([3]), np.array([6.0]), np.array([14.0]))
    >>> float(m[0]), round(float(lo[0]), 4), round(float(hi[0]), 4)
    (2.0, -0.4841, 4.4841)
    """
    n = np.asarray(n, dtype="float64")
    total = np.asarray(total, dtype="float64")
    sumsq = np.asarray(sumsq, dtype="float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / n
        # the sample variance from the sums; clipped at 0 against rounding
        var = np.clip((sumsq - n * mean**2) / (n - 1), 0.0, None)
        q = special.stdtrit(np.maximum(n - 1, 1), 0.5 + confidence / 2)
        half = q * np.sqrt(var / n)
    few = n < 2
    mean = np.where(n > 0, mean, np.nan)
    return mean, np.where(few, np.nan, mean - half), np.where(few, np.nan, mean + half)
