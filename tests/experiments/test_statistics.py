"""Every statistic against an independent computation on the same numbers.

Sources are named per test: scipy, statsmodels (a second implementation),
or a published closed form. Tolerances are relative 1e-4 (4 significant
digits) or tighter.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import integrate, special, stats
from statsmodels.stats._delta_method import NonlinearDeltaCov
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from scrm_lib.experiments import bayesian, corrections, power, sequential
from scrm_lib.experiments.cluster import cluster_test
from scrm_lib.experiments.cuped import cuped_test
from scrm_lib.experiments.frequentist import (
    StatsConfig,
    mean_test,
    proportion_test,
    ratio_test,
    srm_test,
)
from scrm_lib.experiments.messages import ExperimentInputError
from scrm_lib.experiments.statistics import (
    ClusterStatistic,
    ProportionStatistic,
    RatioStatistic,
    RegressionAdjustedStatistic,
    SampleMeanStatistic,
)

REL = 1e-4


def close(a, b, rel=REL):
    return a == pytest.approx(b, rel=rel, abs=1e-12)


def delta_relative_se(ma, va, mb, vb):
    """statsmodels' numerical delta method for g = mb / ma − 1 (independent of our formula)."""
    nl = NonlinearDeltaCov(
        lambda p: np.atleast_1d(p[1] / p[0] - 1), np.array([ma, mb]), np.diag([va, vb])
    )
    return float(np.sqrt(nl.cov())[0, 0])


# ---------------------------------------------------------------- proportions


def test_two_proportion_z_test_matches_statsmodels():
    """Source: statsmodels proportions_ztest (pooled) and confint_proportions_2indep (wald)."""
    a, b = ProportionStatistic(4800, 192), ProportionStatistic(5100, 265)
    r = proportion_test(a, b)
    z, p = proportions_ztest([265, 192], [5100, 4800])
    assert close(r.statistic, z) and close(r.p_value, p)
    lo, hi = confint_proportions_2indep(265, 5100, 192, 4800, method="wald", compare="diff")
    assert close(r.absolute_ci[0], lo) and close(r.absolute_ci[1], hi)
    se = delta_relative_se(a.mean, a.variance / a.n, b.mean, b.variance / b.n)
    q = stats.norm.ppf(0.975)
    assert close(r.relative, (265 / 5100) / (192 / 4800) - 1)
    assert close(r.relative_ci[0], r.relative - q * se) and close(
        r.relative_ci[1], r.relative + q * se
    )


@pytest.mark.parametrize("alternative", ["greater", "less"])
def test_one_sided_z_test_matches_statsmodels(alternative):
    """Source: statsmodels proportions_ztest with alternative larger / smaller."""
    r = proportion_test(
        ProportionStatistic(3000, 90),
        ProportionStatistic(3000, 120),
        StatsConfig(alternative=alternative),
    )
    _, p = proportions_ztest(
        [120, 90], [3000, 3000], alternative="larger" if alternative == "greater" else "smaller"
    )
    assert close(r.p_value, p)


# ---------------------------------------------------------------- means, ratio


def test_welch_matches_scipy():
    """Source: scipy.stats.ttest_ind(equal_var=False) and its confidence_interval()."""
    rng = np.random.default_rng(1)
    x, y = rng.gamma(2.0, 50.0, 400), rng.gamma(2.2, 50.0, 350)
    r = mean_test(SampleMeanStatistic.from_values(x), SampleMeanStatistic.from_values(y))
    ref = stats.ttest_ind(y, x, equal_var=False)
    ci = ref.confidence_interval(0.95)
    assert close(r.statistic, ref.statistic) and close(r.p_value, ref.pvalue)
    assert close(r.df, ref.df)
    assert close(r.absolute_ci[0], ci.low) and close(r.absolute_ci[1], ci.high)
    se = delta_relative_se(x.mean(), x.var(ddof=1) / x.size, y.mean(), y.var(ddof=1) / y.size)
    q = stats.t.ppf(0.975, ref.df)
    assert close(r.relative_ci[1] - r.relative, q * se)


def test_ratio_metric_matches_statsmodels_delta_method():
    """Source: statsmodels NonlinearDeltaCov on the mean vector and numpy's covariance matrix."""
    rng = np.random.default_rng(2)
    out = []
    for shift in (0.0, 5.0):
        orders = rng.poisson(1.2, 800)
        revenue = orders * rng.gamma(3.0, 30.0 + shift, 800)
        out.append((revenue, orders.astype(float)))
    stats_ = [RatioStatistic.from_values(m, d) for m, d in out]
    r = ratio_test(*stats_)
    ses = []
    for m, d in out:
        cov = np.cov(np.vstack([m, d]), ddof=1) / m.size
        nl = NonlinearDeltaCov(
            lambda p: np.atleast_1d(p[0] / p[1]), np.array([m.mean(), d.mean()]), cov
        )
        ses.append(float(np.sqrt(nl.cov())[0, 0]))
    assert close(r.absolute, out[1][0].sum() / out[1][1].sum() - out[0][0].sum() / out[0][1].sum())
    assert close(r.se, math.hypot(*ses))


# ---------------------------------------------------------------- CUPED


def test_cuped_matches_ancova_and_welch_on_adjusted_values():
    """Source: statsmodels OLS y ~ treatment + x1 + x2 (theta, estimate); scipy Welch on y − θx."""
    rng = np.random.default_rng(3)
    n = 600
    x = rng.normal(100, 20, (2 * n, 2))
    t = np.repeat([0, 1], n)
    y = 0.6 * x[:, 0] + 0.3 * x[:, 1] + 2.5 * t + rng.normal(0, 10, 2 * n)
    a = RegressionAdjustedStatistic.from_values(y[t == 0], x[t == 0])
    b = RegressionAdjustedStatistic.from_values(y[t == 1], x[t == 1])
    r = cuped_test(a, b)
    ols = sm.OLS(y, sm.add_constant(np.column_stack([t, x]))).fit()
    assert close(r.absolute, ols.params[1])
    assert np.allclose(r.details["theta"], ols.params[2:], rtol=REL)
    adj = y - x @ ols.params[2:]
    ref = stats.ttest_ind(adj[t == 1], adj[t == 0], equal_var=False)
    assert close(r.p_value, ref.pvalue) and close(r.statistic, ref.statistic)
    raw = stats.ttest_ind(y[t == 1], y[t == 0], equal_var=False)
    reduction = 1 - (ref.statistic / raw.statistic) ** 2 * (raw.statistic / ref.statistic) ** 2 * (
        (adj[t == 0].var(ddof=1) / n + adj[t == 1].var(ddof=1) / n)
        / (y[t == 0].var(ddof=1) / n + y[t == 1].var(ddof=1) / n)
    )
    assert close(r.details["variance_reduction"], reduction)
    assert r.details["variance_reduction"] > 0.5


# ---------------------------------------------------------------- clusters


def _clustered(seed=4, k=30):
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(2 * k):
        size = int(rng.integers(5, 40))
        base = 0.05 + (0.05 if c >= k else 0.0) + rng.normal(0, 0.04)
        y = (rng.random(size) < min(max(base, 0.0), 1.0)).astype(float)
        rows.append(pd.DataFrame({"y": y, "cluster": f"g{c}", "t": int(c >= k)}))
    return pd.concat(rows, ignore_index=True)


def test_cluster_robust_matches_statsmodels_cr1():
    """Source: statsmodels OLS y ~ t with cov_type='cluster' (CR1) and use_t=True."""
    df = _clustered()
    a = ClusterStatistic.from_values(df.y[df.t == 0], df.cluster[df.t == 0].tolist())
    b = ClusterStatistic.from_values(df.y[df.t == 1], df.cluster[df.t == 1].tolist())
    r = cluster_test(a, b)
    fit = smf.ols("y ~ t", df).fit(cov_type="cluster", cov_kwds={"groups": df.cluster}, use_t=True)
    assert close(r.absolute, fit.params["t"])
    assert close(r.se, fit.bse["t"])
    assert close(r.p_value, fit.pvalues["t"])
    lo, hi = fit.conf_int().loc["t"]
    assert close(r.absolute_ci[0], lo) and close(r.absolute_ci[1], hi)
    iid = smf.ols("y ~ t", df).fit(cov_type="HC0")
    assert r.details["design_effect"] == pytest.approx((fit.bse["t"] / iid.bse["t"]) ** 2, rel=0.01)


def test_icc_matches_anova_mean_squares_from_statsmodels():
    """Source: statsmodels anova_lm (y ~ C(t) + C(cluster)) mean squares, ANOVA ICC formula."""
    df = _clustered(seed=5)
    a = ClusterStatistic.from_values(df.y[df.t == 0], df.cluster[df.t == 0].tolist())
    b = ClusterStatistic.from_values(df.y[df.t == 1], df.cluster[df.t == 1].tolist())
    with warnings.catch_warnings():
        # clusters are nested in arms: the design is rank-deficient, type-I sums still hold
        warnings.simplefilter("ignore")
        table = sm.stats.anova_lm(smf.ols("y ~ C(t) + C(cluster)", df).fit(), typ=1)
    sizes = df.groupby(["t", "cluster"]).size()
    g, n = len(sizes), len(df)
    # statsmodels counts G − 1 df for nested clusters; between clusters within arms has G − 2
    msb = table.loc["C(cluster)", "sum_sq"] / (g - 2)
    msw = table.loc["Residual", "mean_sq"]
    n0 = (n - sum((s**2).sum() / s.sum() for _, s in sizes.groupby(level=0))) / (g - 2)
    expected = (msb - msw) / (msb + (n0 - 1) * msw)
    assert close(cluster_test(a, b).details["icc"], expected)


# ---------------------------------------------------------------- SRM, corrections


def test_srm_matches_scipy_chisquare():
    """Source: scipy.stats.chisquare with expected counts from the planned weights."""
    r = srm_test({"A": 21330, "B": 21306, "C": 21364}, [1, 1, 1])
    ref = stats.chisquare([21330, 21306, 21364])
    assert close(r["chi2"], ref.statistic) and close(r["p_value"], ref.pvalue)
    r2 = srm_test({"A": 900, "B": 2100}, {"A": 0.3, "B": 0.7})
    ref2 = stats.chisquare([900, 2100], [900.0, 2100.0])
    assert close(r2["p_value"], ref2.pvalue) and not r2["srm"]


@pytest.mark.parametrize("method,sm_name", [("holm", "holm"), ("bh", "fdr_bh")])
def test_corrections_match_statsmodels(method, sm_name):
    """Source: statsmodels.stats.multitest.multipletests."""
    p = [0.001, 0.04, 0.03, 0.2, 0.012, 0.5, 0.049]
    assert np.allclose(corrections.adjust(p, method=method), multipletests(p, method=sm_name)[1])


# ---------------------------------------------------------------- Bayesian


def evan_miller_chance(a_conv, a_n, b_conv, b_n):
    """Evan Miller (2015), 'Formulas for Bayesian A/B testing': P(p_B > p_A), uniform prior."""
    aa, ba, ab, bb = a_conv + 1, a_n - a_conv + 1, b_conv + 1, b_n - b_conv + 1
    total = 0.0
    for i in range(ab):
        total += math.exp(
            special.betaln(aa + i, ba + bb)
            - math.log(bb + i)
            - special.betaln(1 + i, bb)
            - special.betaln(aa, ba)
        )
    return total


def test_chance_to_beat_matches_evan_miller_closed_form():
    """Source: Evan Miller's closed form (published formula), computed independently here."""
    for counts in ((40, 1000, 52, 1000), (192, 4800, 265, 5100), (3, 50, 1, 60)):
        r = bayesian.beta_binomial(
            ProportionStatistic(counts[1], counts[0]), ProportionStatistic(counts[3], counts[2])
        )
        assert close(r.chance_to_beat_control, evan_miller_chance(*counts))


def test_expected_loss_matches_2d_integration():
    """Source: scipy.integrate.dblquad of max(p_A − p_B, 0) over the two Beta posteriors."""
    r = bayesian.beta_binomial(ProportionStatistic(1000, 40), ProportionStatistic(1000, 52))
    fa, fb = stats.beta(41, 961), stats.beta(53, 949)
    ref, _ = integrate.dblquad(
        lambda pa, pb: (pa - pb) * fa.pdf(pa) * fb.pdf(pb),
        0,
        0.2,
        lambda pb: pb,
        0.2,
        epsabs=1e-12,
    )
    assert close(r.expected_loss_treatment, ref)


def test_gaussian_loss_matches_quadrature():
    """Source: scipy.integrate.quad of max(−D, 0) under N(d, se²)."""
    d, se = 0.8, 1.3
    r = bayesian.gaussian(d, se)
    ref = integrate.quad(lambda x: -x * stats.norm.pdf(x, d, se), -np.inf, 0)[0]
    assert close(r.expected_loss_treatment, ref)
    assert close(r.chance_to_beat_control, stats.norm.sf(0, d, se))


# ---------------------------------------------------------------- power


def test_sample_size_matches_statsmodels_normal_ind_power():
    """Source: statsmodels NormalIndPower.solve_power with es = mde / sqrt(mean arm variance)."""
    p1, p2 = 0.04, 0.052
    es = (p2 - p1) / math.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / 2)
    ref = NormalIndPower().solve_power(effect_size=es, alpha=0.05, power=0.8, ratio=1.0)
    assert close(power.sample_size(baseline=p1, mde=p2 - p1)["n_per_arm"], ref)
    ref_m = NormalIndPower().solve_power(effect_size=5 / 50, alpha=0.05, power=0.9, ratio=2.0)
    got = power.sample_size(baseline=100, mde=5, metric="mean", sd=50, power_target=0.9, ratio=2)
    assert close(got["n_per_arm"], ref_m)


def test_cuped_and_cluster_power_scale_the_variance():
    """Source: NormalIndPower with the variance scaled by (1 − R²) and by 1 + (m − 1)·ICC."""
    base = dict(baseline=100, mde=5, metric="mean", sd=50)
    ref = NormalIndPower().solve_power(effect_size=5 / (50 * math.sqrt(0.6)), alpha=0.05, power=0.8)
    assert close(power.sample_size(**base, cuped_r2=0.4)["n_per_arm"], ref)
    deff = 1 + 19 * 0.05
    ref_c = NormalIndPower().solve_power(
        effect_size=5 / (50 * math.sqrt(deff)), alpha=0.05, power=0.8
    )
    got = power.sample_size(**base, icc=0.05, cluster_size=20)
    assert close(got["n_per_arm"], ref_c) and got["clusters_per_arm"] == math.ceil(ref_c / 20)
    mde = power.minimum_detectable_effect(
        got["n_per_arm"], **{k: v for k, v in base.items() if k != "mde"}, icc=0.05, cluster_size=20
    )
    assert close(mde, 5)


# ---------------------------------------------------------------- sequential


def test_msprt_matches_numerical_mixture_likelihood_ratio():
    """Source: the mixture likelihood ratio ∫ N(D; θ, V)/N(D; 0, V) dN(θ; 0, τ²) by quadrature,
    and the confidence-sequence edge found by root finding on it."""
    d, v, n, alpha = 0.012, 0.004**2, 20000, 0.05
    r = sequential.msprt(d, v, n=n, alpha=alpha, tuning_n=8000)
    tau2 = sequential.mixing_variance(v * n, alpha=alpha, tuning_n=8000)

    def lr(x):
        def f(th):
            expo = (th * x - th**2 / 2) / v - th**2 / (2 * tau2)
            return math.exp(expo) / math.sqrt(2 * math.pi * tau2)

        return integrate.quad(f, -0.2, 0.2, points=[0, x], epsabs=0, epsrel=1e-12, limit=200)[0]

    assert close(r.p_value, min(1.0, 1 / lr(d)))
    from scipy.optimize import brentq

    edge = brentq(lambda x: lr(x) - 1 / alpha, 1e-9, 0.05)
    assert close(r.ci[1] - d, edge)


def test_aa_peeking_sequential_holds_alpha_naive_does_not():
    """A/A simulation (seeded): 20 looks at growing samples. Naive repeated z-tests reject far
    more often than alpha; the mSPRT always-valid p-value stays at or below alpha."""
    rng = np.random.default_rng(20261125)
    sims, n_max, alpha = 400, 2000, 0.05
    steps = np.linspace(100, n_max, 20).astype(int)
    naive = seq = 0
    for _ in range(sims):
        a, b = rng.normal(0, 1, n_max), rng.normal(0, 1, n_max)
        k = steps
        ca, cb = np.cumsum(a)[k - 1], np.cumsum(b)[k - 1]
        qa, qb = np.cumsum(a * a)[k - 1], np.cumsum(b * b)[k - 1]
        va = (qa - ca**2 / k) / (k - 1) / k
        vb = (qb - cb**2 / k) / (k - 1) / k
        est, var = cb / k - ca / k, va + vb
        naive += bool((2 * stats.norm.sf(np.abs(est) / np.sqrt(var)) < alpha).any())
        rows = sequential.monitor(zip(2 * k, est, var, strict=True), alpha=alpha, tuning_n=2000)
        seq += rows[-1]["significant"]
    # binomial simulation error at 400 runs: sd ≈ 0.011 around 0.05
    assert naive / sims > 0.12
    assert seq / sims <= alpha + 2 * math.sqrt(alpha * (1 - alpha) / sims)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda: ProportionStatistic(100, 120), "exceed units"),
        (lambda: ProportionStatistic(-5, 0), "units\\) must be"),
        (lambda: SampleMeanStatistic(3, 10.0, 1.0), "sum of squares"),
        (lambda: ProportionStatistic.from_values([0, 1, 2]), "0 or 1"),
        (lambda: srm_test({"A": 10, "B": -1}), "negative"),
        (lambda: srm_test({"A": 10, "B": 12}, {"A": 1, "Z": 1}), "unknown arms"),
        (lambda: StatsConfig(alpha=1.5), "alpha"),
        (lambda: corrections.adjust([0.1], method="bonferroni"), "holm, bh or none"),
    ],
)
def test_bad_input_raises_a_clear_message(make, message):
    with pytest.raises(ExperimentInputError, match=message):
        make()


def test_edge_cases_return_error_codes():
    z = SampleMeanStatistic.from_values([5.0, 5.0, 5.0])
    assert mean_test(z, z).error == "ZERO_VARIANCE"
    assert mean_test(SampleMeanStatistic(0, 0, 0), z).error == "NO_UNITS_IN_ARM"
    assert (
        proportion_test(ProportionStatistic(10, 0), ProportionStatistic(10, 0)).error
        == "ZERO_VARIANCE"
    )
    r = proportion_test(ProportionStatistic(100, 0), ProportionStatistic(100, 5))
    assert r.error == "ZERO_BASELINE" and math.isnan(r.relative) and r.p_value < 0.05
    assert "zero variance" in mean_test(z, z).message
