"""Bayesian read-out: chance to beat control and expected loss.

- Conversions: Beta–Binomial with a Beta(a, b) prior (uniform by default);
  P(p_B > p_A) and the expected loss E[max(p_A − p_B, 0)] of shipping B are
  one-dimensional integrals over the posteriors, computed with
  ``scipy.integrate.quad`` (no sampling noise).
- Means and other metrics: a normal approximation to the difference with a
  flat prior (the estimate and its standard error from the frequentist test).

Example
-------
>>> from scrm_lib.experiments.statistics import ProportionStatistic as P
>>> r = beta_binomial(P(1000, 40), P(1000, 52))
>>> round(r.chance_to_beat_control, 3)
0.899

References
----------
Stucchio (2015), Bayesian A/B testing at VWO (expected loss as the
decision rule). Evan Miller (2015), Formulas for Bayesian A/B testing
(closed form of P(p_B > p_A), used in the tests as the independent check).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from scipy import integrate, stats

from scrm_lib.experiments.messages import NO_UNITS_IN_ARM, ZERO_VARIANCE, ExperimentInputError
from scrm_lib.experiments.statistics import ProportionStatistic


@dataclass(frozen=True)
class BayesianResult:
    """Probability that treatment beats control and the expected loss of each choice."""

    method: str
    chance_to_beat_control: float
    expected_loss_treatment: float  # what choosing treatment costs, on average, if it is worse
    expected_loss_control: float  # what keeping control costs if treatment is better
    control_interval: tuple[float, float] = (math.nan, math.nan)
    treatment_interval: tuple[float, float] = (math.nan, math.nan)
    error: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def beta_binomial(
    control: ProportionStatistic,
    treatment: ProportionStatistic,
    *,
    prior: tuple[float, float] = (1.0, 1.0),
    credible: float = 0.95,
) -> BayesianResult:
    """Beta–Binomial posteriors for two conversion rates.

    Examples
    --------
    >>> r = beta_binomial(ProportionStatistic(100, 10), ProportionStatistic(100, 10))
    >>> round(r.chance_to_beat_control, 6)
    0.5
    """
    if prior[0] <= 0 or prior[1] <= 0:
        raise ExperimentInputError(f"Beta prior parameters must be positive, not {prior}")
    if control.n == 0 or treatment.n == 0:
        return BayesianResult("beta-binomial", math.nan, math.nan, math.nan, error=NO_UNITS_IN_ARM)
    pa = stats.beta(prior[0] + control.sum, prior[1] + control.n - control.sum)
    pb = stats.beta(prior[0] + treatment.sum, prior[1] + treatment.n - treatment.sum)
    # shifted posteriors: ∫_y^1 x f(x) dx = mean · P(X' > y) with X' ~ Beta(a + 1, b)
    pa1 = stats.beta(pa.args[0] + 1, pa.args[1])
    pb1 = stats.beta(pb.args[0] + 1, pb.args[1])
    lo = min(pa.ppf(1e-12), pb.ppf(1e-12))
    hi = max(pa.isf(1e-12), pb.isf(1e-12))
    opts = {"limit": 200, "epsabs": 1e-13, "epsrel": 1e-10, "points": [pa.mean(), pb.mean()]}
    chance = integrate.quad(lambda x: pb.pdf(x) * pa.cdf(x), lo, hi, **opts)[0]
    # E[max(A − B, 0)] = ∫ f_B(y) [mean_A · S_A'(y) − y · S_A(y)] dy
    loss_b = integrate.quad(
        lambda y: pb.pdf(y) * (pa.mean() * pa1.sf(y) - y * pa.sf(y)), lo, hi, **opts
    )[0]
    loss_a = integrate.quad(
        lambda y: pa.pdf(y) * (pb.mean() * pb1.sf(y) - y * pb.sf(y)), lo, hi, **opts
    )[0]
    tail = (1 - credible) / 2
    return BayesianResult(
        "beta-binomial",
        chance_to_beat_control=min(max(chance, 0.0), 1.0),
        expected_loss_treatment=max(loss_b, 0.0),
        expected_loss_control=max(loss_a, 0.0),
        control_interval=(float(pa.ppf(tail)), float(pa.isf(tail))),
        treatment_interval=(float(pb.ppf(tail)), float(pb.isf(tail))),
    )


def gaussian(difference: float, se: float) -> BayesianResult:
    """Normal posterior N(difference, se²) of treatment − control (flat prior).

    Chance to beat = Φ(d / se); expected loss of treatment
    E[max(−D, 0)] = se·φ(d/se) − d·Φ(−d/se), and of control symmetrically.

    Examples
    --------
    >>> round(gaussian(0.0, 1.0).expected_loss_treatment, 6)
    0.398942
    """
    if not (se > 0) or not math.isfinite(difference):
        return BayesianResult("gaussian", math.nan, math.nan, math.nan, error=ZERO_VARIANCE)
    z = difference / se
    loss_b = se * stats.norm.pdf(z) - difference * stats.norm.cdf(-z)
    loss_a = se * stats.norm.pdf(z) + difference * stats.norm.cdf(z)
    return BayesianResult(
        "gaussian",
        chance_to_beat_control=float(stats.norm.cdf(z)),
        expected_loss_treatment=float(loss_b),
        expected_loss_control=float(loss_a),
    )
