"""Cluster-randomized experiments: randomize by group chat or salesperson (导购).

When whole clusters are assigned, persons in a cluster share the treatment
and their outcomes are correlated; a person-level test then understates the
variance. :func:`cluster_test` compares arm means (persons pooled per arm)
with a cluster-robust (sandwich) variance, reports the observed design
effect and the intra-cluster correlation (ICC, one-way ANOVA estimator with
arms as fixed effects).

The variance is statsmodels' / Stata's CR1 for the regression
``y ~ treatment`` with clusters: Σ_c (Y_c − ȳ N_c)² / N² per arm, times
G/(G−1)·(N−1)/(N−2), with a t distribution on G − 1 degrees of freedom.

Example
-------
>>> from scrm_lib.experiments.statistics import ClusterStatistic as C
>>> a = C.from_values([0, 1, 0, 0, 1, 0], ["g1", "g1", "g2", "g2", "g3", "g3"])
>>> b = C.from_values([1, 1, 0, 1, 1, 0], ["g4", "g4", "g5", "g5", "g6", "g6"])
>>> r = cluster_test(a, b)
>>> round(r.absolute, 4), r.df
(0.3333, 5)

References
----------
Cameron & Miller (2015), A practitioner's guide to cluster-robust inference,
J. Human Resources 50(2). Donner & Klar (2000), Design and analysis of
cluster randomization trials in health research (ICC, design effect).
"""

from __future__ import annotations

import math

from scrm_lib.experiments.frequentist import Comparison, StatsConfig, failed, finish
from scrm_lib.experiments.messages import NO_UNITS_IN_ARM, TOO_FEW_CLUSTERS, ZERO_VARIANCE
from scrm_lib.experiments.statistics import ClusterStatistic

METHOD = "cluster-robust (CR1)"


def icc_anova(*arms: ClusterStatistic) -> float:
    """Intra-cluster correlation, one-way ANOVA estimator with arms as fixed effects.

    ICC = (MSB − MSW) / (MSB + (n0 − 1) MSW), n0 = (N − Σ_arm Σ_c N_c² / N_arm) / (G − arms).
    """
    n = sum(s.n for s in arms)
    g = sum(s.k for s in arms)
    if g - len(arms) <= 0 or n - g <= 0:
        return math.nan
    ssw = sum(s.sum_squares - s.cluster_sum_squares_over_size for s in arms)
    ssb = sum(s.cluster_sum_squares_over_size - s.sum**2 / s.n for s in arms if s.n)
    msw = ssw / (n - g)
    msb = ssb / (g - len(arms))
    n0 = (n - sum(s.cluster_size_squares / s.n for s in arms if s.n)) / (g - len(arms))
    den = msb + (n0 - 1) * msw
    return (msb - msw) / den if den > 0 else math.nan


def cluster_test(
    control: ClusterStatistic,
    treatment: ClusterStatistic,
    config: StatsConfig | None = None,
) -> Comparison:
    """Difference in per-person means with cluster-robust standard errors.

    ``details``: ``clusters_control``, ``clusters_treatment``, ``design_effect``
    (cluster-robust variance / person-level variance), ``icc`` and
    ``mean_cluster_size``.

    Examples
    --------
    >>> a = ClusterStatistic.from_values([0, 1, 1, 1, 0, 0], ["g1", "g1", "g2", "g2", "g3", "g3"])
    >>> cluster_test(a, a).error is None
    True
    """
    config = config or StatsConfig()
    a, b = control, treatment
    n = (a.n, b.n)
    if a.n == 0 or b.n == 0:
        return failed(METHOD, NO_UNITS_IN_ARM, n)
    means = (a.mean, b.mean)
    if a.k < 2 or b.k < 2:
        return failed(METHOD, TOO_FEW_CLUSTERS, n, means)
    big_n, g = a.n + b.n, a.k + b.k
    factor = g / (g - 1) * (big_n - 1) / (big_n - 2)
    va = a.residual_sum_of_squares / a.n**2 * factor
    vb = b.residual_sum_of_squares / b.n**2 * factor
    if va + vb <= 0:
        return failed(METHOD, ZERO_VARIANCE, n, means)
    iid = a.person_variance / a.n + b.person_variance / b.n
    return finish(
        METHOD,
        n=n,
        means=means,
        var_of_means=(va, vb),
        config=config,
        df=g - 1,
        details={
            "clusters_control": a.k,
            "clusters_treatment": b.k,
            "mean_cluster_size": big_n / g,
            "design_effect": (va + vb) / iid if iid > 0 else math.nan,
            "icc": icc_anova(a, b),
        },
    )
