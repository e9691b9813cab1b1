"""CUPED: variance reduction with pre-period covariates (Deng, Xu, Kohavi & Walker 2013).

The adjusted outcome is ``y − θ·(x − x̄)`` with one ``θ`` for both arms: the
within-arm pooled least-squares slope, so the adjusted difference equals the
treatment coefficient of the regression ``y ~ treatment + x`` (ANCOVA) and
stays unbiased under randomization. The test on the adjusted means is
Welch's; the result reports the variance reduction achieved.

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(2, 500)); y = x + rng.normal(size=(2, 500)) * 0.5
>>> from scrm_lib.experiments.statistics import RegressionAdjustedStatistic as R
>>> r = cuped_test(R.from_values(y[0], x[0]), R.from_values(y[1] + 0.1, x[1]))
>>> bool(r.details["variance_reduction"] > 0.7)
True

References
----------
Deng, Xu, Kohavi & Walker (2013), Improving the sensitivity of online
controlled experiments by utilizing pre-experiment data, WSDM.
"""

from __future__ import annotations

import numpy as np

from scrm_lib.experiments.frequentist import Comparison, StatsConfig, failed, finish, welch_df
from scrm_lib.experiments.messages import (
    NO_UNITS_IN_ARM,
    SINGULAR_COVARIATES,
    TOO_FEW_UNITS,
    ZERO_VARIANCE,
    ExperimentInputError,
)
from scrm_lib.experiments.statistics import RegressionAdjustedStatistic

METHOD = "CUPED (Welch on adjusted means)"


def pooled_theta(
    control: RegressionAdjustedStatistic, treatment: RegressionAdjustedStatistic
) -> np.ndarray | None:
    """The within-arm pooled regression slope(s) of the outcome on the covariates."""
    _, sxy_a, sxx_a = control.centered()
    _, sxy_b, sxx_b = treatment.centered()
    sxx, sxy = sxx_a + sxx_b, sxy_a + sxy_b
    if np.linalg.matrix_rank(sxx) < sxx.shape[0] or np.allclose(sxx, 0):
        return None
    return np.linalg.solve(sxx, sxy)


def cuped_test(
    control: RegressionAdjustedStatistic,
    treatment: RegressionAdjustedStatistic,
    config: StatsConfig | None = None,
) -> Comparison:
    """Welch's t-test on CUPED-adjusted means; ``details`` holds theta and the variance reduction.

    Examples
    --------
    >>> a = RegressionAdjustedStatistic.from_values([1.0, 2.0, 4.0], [1.0, 2.0, 3.0])
    >>> b = RegressionAdjustedStatistic.from_values([2.0, 4.0, 5.0], [1.0, 2.0, 3.0])
    >>> round(cuped_test(a, b).absolute, 4)
    1.3333
    """
    config = config or StatsConfig()
    a, b = control, treatment
    if len(a.pre) != len(b.pre):
        raise ExperimentInputError("CUPED: both arms need the same covariates")
    n = (a.n, b.n)
    if a.n == 0 or b.n == 0:
        return failed(METHOD, NO_UNITS_IN_ARM, n)
    if a.n < 2 or b.n < 2:
        return failed(METHOD, TOO_FEW_UNITS, n, (a.mean, b.mean))
    theta = pooled_theta(a, b)
    if theta is None:
        return failed(METHOD, SINGULAR_COVARIATES, n, (a.mean, b.mean))
    # centre on the pooled covariate mean so adjusted means stay on the outcome's scale
    x_all = (a.pre_means * a.n + b.pre_means * b.n) / (a.n + b.n)
    means, var_adj, var_raw = [], [], []
    for s in (a, b):
        syy, sxy, sxx = s.centered()
        resid = syy - 2 * theta @ sxy + theta @ sxx @ theta
        means.append(s.post.mean - float(theta @ (s.pre_means - x_all)))
        var_adj.append(max(resid, 0.0) / (s.n - 1) / s.n)
        var_raw.append(s.post.variance / s.n)
    if sum(var_adj) <= 0:
        return failed(METHOD, ZERO_VARIANCE, n, (a.mean, b.mean))
    raw = sum(var_raw)
    return finish(
        METHOD,
        n=n,
        means=(means[0], means[1]),
        var_of_means=(var_adj[0], var_adj[1]),
        config=config,
        df=welch_df(var_adj[0], var_adj[1], a.n, b.n),
        details={
            "theta": [float(t) for t in theta],
            "variance_reduction": 1 - sum(var_adj) / raw if raw > 0 else 0.0,
            "unadjusted_control_mean": a.mean,
            "unadjusted_treatment_mean": b.mean,
        },
    )
