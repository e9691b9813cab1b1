"""Sequential monitoring that stays valid under continuous peeking.

The mixture sequential probability ratio test (mSPRT) with a normal mixing
distribution: for an estimate D with variance V (of the estimate) and a
mixing variance τ², the likelihood ratio is

    Λ = sqrt(V / (V + τ²)) · exp(τ² D² / (2 V (V + τ²))),

the always-valid p-value is the running minimum of min(1, 1/Λ), and the
matching confidence sequence is D ± sqrt(V (V + τ²) / τ² · log((V + τ²) / (V α²))).
Both hold at every look simultaneously, so a read-out can be checked daily
and stopped whenever it is significant.

τ² is set from a tuning sample size n* (the total units at which the
boundary is tightest, Howard et al. 2021 eq. for the normal mixture):
τ² = σ² / ρ with ρ = n* / (2 log(1/α) + log(1 + 2 log(1/α))) and σ² = n·V
the per-unit variance. Choose n* before looking (the planned sample size);
a data-dependent n* voids the guarantee.

Example
-------
>>> r = msprt(0.01, 0.004**2, n=20000, alpha=0.05, tuning_n=20000)
>>> r.p_value > 0.05 > r.fixed_p_value
True

References
----------
Johari, Koomen, Pekelis & Walsh (2017), Peeking at A/B tests, KDD.
Howard, Ramdas, McAuliffe & Sekhon (2021), Time-uniform, nonparametric,
nonasymptotic confidence sequences, Annals of Statistics 49(2).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from scrm_lib.experiments.messages import ZERO_VARIANCE, ExperimentInputError

DEFAULT_TUNING_N = 5000


@dataclass(frozen=True)
class SequentialResult:
    """One look: always-valid p-value and confidence sequence for the difference."""

    estimate: float
    variance: float
    p_value: float  # always-valid at this look (not yet the running minimum)
    ci: tuple[float, float]
    fixed_p_value: float  # the naive fixed-horizon z-test p-value at this look, for contrast
    error: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def mixing_variance(per_unit_variance: float, *, alpha: float, tuning_n: float) -> float:
    """τ² for the normal mixture, tightest around ``tuning_n`` units (Howard et al. 2021)."""
    if tuning_n <= 0:
        raise ExperimentInputError(f"tuning_n must be positive, not {tuning_n!r}")
    la = math.log(1 / alpha)
    rho = tuning_n / (2 * la + math.log(1 + 2 * la))
    return per_unit_variance / rho


def msprt(
    estimate: float,
    variance: float,
    *,
    n: float,
    alpha: float = 0.05,
    tuning_n: float = DEFAULT_TUNING_N,
) -> SequentialResult:
    """Always-valid p-value and confidence sequence for one look.

    Parameters
    ----------
    estimate, variance
        The difference (treatment − control) and the variance of that estimate.
    n
        Units so far (both arms): with ``variance`` it gives the per-unit variance.
    alpha
        Error rate held over all looks.
    tuning_n
        Total units at which the boundary is tightest (fix it in advance).

    Examples
    --------
    >>> round(msprt(0.0, 1e-4, n=1000).p_value, 3)
    1.0
    """
    if not 0 < alpha < 1:
        raise ExperimentInputError(f"alpha must be between 0 and 1, not {alpha!r}")
    if not (variance > 0) or not math.isfinite(estimate):
        nan = math.nan
        return SequentialResult(estimate, variance, nan, (nan, nan), nan, error=ZERO_VARIANCE)
    tau2 = mixing_variance(variance * n, alpha=alpha, tuning_n=tuning_n)
    v = variance
    log_lr = 0.5 * math.log(v / (v + tau2)) + tau2 * estimate**2 / (2 * v * (v + tau2))
    p = min(1.0, math.exp(-log_lr))
    half = math.sqrt(v * (v + tau2) / tau2 * math.log((v + tau2) / (v * alpha**2)))
    fixed = 2 * stats.norm.sf(abs(estimate) / math.sqrt(v))
    return SequentialResult(estimate, v, p, (estimate - half, estimate + half), float(fixed))


def monitor(
    looks: Iterable[tuple[float, float, float]],
    *,
    alpha: float = 0.05,
    tuning_n: float = DEFAULT_TUNING_N,
) -> list[dict]:
    """A sequence of looks ``(n, estimate, variance)``: running-min p-values, intersected CIs.

    Examples
    --------
    >>> rows = monitor([(1000, 0.01, 1e-4), (2000, 0.012, 5e-5)])
    >>> rows[1]["p_value"] <= rows[0]["p_value"]
    True
    """
    out: list[dict] = []
    p_run, lo_run, hi_run = 1.0, -math.inf, math.inf
    for n, est, var in looks:
        r = msprt(est, var, n=n, alpha=alpha, tuning_n=tuning_n)
        if r.error is None:
            p_run = min(p_run, r.p_value)
            lo_run, hi_run = max(lo_run, r.ci[0]), min(hi_run, r.ci[1])
        out.append(
            {
                "n": n,
                "estimate": est,
                "p_value": p_run,
                "ci_lo": lo_run,
                "ci_hi": hi_run,
                "fixed_p_value": r.fixed_p_value,
                "significant": p_run < alpha,
            }
        )
    return out


def looks_from_arrays(
    control: np.ndarray, treatment: np.ndarray, *, steps: Iterable[int]
) -> list[tuple[float, float, float]]:
    """Looks after the first k units of each arm, for each k in ``steps`` (raw values in order)."""
    out = []
    for k in steps:
        a, b = control[:k], treatment[:k]
        if len(a) < 2 or len(b) < 2:
            continue
        var = a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b)
        out.append((len(a) + len(b), float(b.mean() - a.mean()), float(var)))
    return out
