"""Customer lifetime value: the simple LTV formula and the BG/NBD + Gamma-Gamma models.

The engine computes each person's sufficient statistics (repeat purchase
days ``x``, the age of the last one ``t_x``, the age of the person ``T`` and
the mean value of repeat purchases) and groups them: the models are fitted by
numpy/scipy on the driver from the distinct ``(x, t_x, T)`` (and ``(x, m̄)``)
with their counts (:func:`fit_statistics`), never from a row per person.
Purchases on the same local day are one purchase, as in the papers.

- BG/NBD (Fader, Hardie & Lee 2005a): purchases while alive are Poisson with
  a gamma(r, alpha) rate; after each purchase the customer drops out with a
  beta(a, b) probability. Gives P(alive) and expected purchases in a horizon.
- Gamma-Gamma (Fader, Hardie & Lee 2005b; Fader & Hardie 2013): the mean
  spend per purchase is gamma(p, nu) with nu ~ gamma(q, gamma), independent
  of the purchase process. Gives expected spend per future purchase.

The likelihoods are written with scipy (lifetimes is unmaintained; the
pymc-marketing versions need PyMC). Both are validated on CDNOW against the
published fits, see ``tests/value/test_clv.py``.

References
----------
Fader, P. S., Hardie, B. G. S., & Lee, K. L. (2005a). "Counting your
customers" the easy way: An alternative to the Pareto/NBD model. *Marketing
Science*, 24(2), 275-284.

Fader, P. S., Hardie, B. G. S., & Lee, K. L. (2005b). RFM and CLV: Using
iso-value curves for customer base analysis. *Journal of Marketing
Research*, 42(4), 415-430.

Fader, P. S., & Hardie, B. G. S. (2013). The Gamma-Gamma model of monetary
value. http://brucehardie.com/notes/025/

Example
-------
>>> bg = fit_bgnbd([2, 1, 0], [30.43, 1.71, 0.0], [38.86, 38.86, 38.86])  # doctest: +SKIP
>>> bg.expected_purchases(39, 2, 30.43, 38.86)  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from scipy import optimize, special

from scrm_lib.config import Settings, load_settings
from scrm_lib.engine import Warehouse, using
from scrm_lib.value._base import (
    SECONDS_PER_DAY,
    AsOf,
    ValueDataError,
    prepare,
    value_config,
)

logger = logging.getLogger(__name__)

ArrayLike = Any


def _arrays(*cols: ArrayLike) -> list[np.ndarray]:
    out = [np.asarray(c, dtype="float64") for c in cols]
    for a in out:
        if a.shape != out[0].shape:
            raise ValueError("frequency, recency and T must have the same length")
        if not np.isfinite(a).all():
            raise ValueError("frequency, recency and T must be finite numbers (no NaN)")
    return out


def _check_rft(x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> None:
    if len(x) == 0:
        raise ValueDataError("no customers to fit the model on")
    if (x < 0).any() or (x != np.floor(x)).any():
        raise ValueError("frequency must be whole numbers of repeat purchases, 0 or more")
    if (tx < 0).any() or (tx > T + 1e-9).any():
        bad = int(np.argmax((tx < 0) | (tx > T + 1e-9)))
        raise ValueError(f"recency must be between 0 and T (row {bad}: {tx[bad]} vs T {T[bad]})")
    if ((x == 0) & (tx != 0)).any():
        raise ValueError("recency must be 0 for customers with no repeat purchase")


# ---------------------------------------------------------------- BG/NBD


@dataclass(frozen=True)
class BetaGeo:
    """A fitted BG/NBD model (time in the unit of the data it was fitted on).

    Attributes
    ----------
    r, alpha
        Gamma heterogeneity of the purchase rate.
    a, b
        Beta heterogeneity of the dropout probability.
    loglik
        Log-likelihood at the fit; ``n`` customers.
    """

    r: float
    alpha: float
    a: float
    b: float
    loglik: float = float("nan")
    n: int = 0

    def params(self) -> dict[str, float]:
        return {k: v for k, v in asdict(self).items() if k in ("r", "alpha", "a", "b")}

    def _odds_dead(self, x, tx, T) -> np.ndarray:
        # (a / (b + x - 1)) * ((alpha + T) / (alpha + t_x))^(r + x), only for x > 0
        x, tx, T = np.asarray(x, float), np.asarray(tx, float), np.asarray(T, float)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_odds = (
                np.log(self.a)
                - np.log(np.maximum(self.b + x - 1, 1e-300))
                + (self.r + x) * (np.log(self.alpha + T) - np.log(self.alpha + tx))
            )
        return np.where(x > 0, np.exp(np.minimum(log_odds, 700)), 0.0)

    def p_alive(self, x: ArrayLike, tx: ArrayLike, T: ArrayLike) -> np.ndarray:
        """P(alive | x, t_x, T) (FHL 2005a, eq. 11 and appendix)."""
        return 1.0 / (1.0 + self._odds_dead(x, tx, T))

    def expected_purchases(self, t: float, x: ArrayLike, tx: ArrayLike, T: ArrayLike) -> np.ndarray:
        """Expected purchases in ``(T, T + t]`` given ``x, t_x, T`` (FHL 2005a, eq. 10)."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        x, tx, T = np.asarray(x, float), np.asarray(tx, float), np.asarray(T, float)
        z = t / (alpha + T + t)
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
        head = (a + b + x - 1) / (a - 1)
        body = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp
        return head * body / (1 + self._odds_dead(x, tx, T))

    def expected_purchases_new(self, t: ArrayLike) -> np.ndarray:
        """E[X(t)]: purchases of a new customer in a period of length ``t`` (eq. 9)."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        t = np.asarray(t, float)
        hyp = special.hyp2f1(r, b, a + b - 1, t / (alpha + t))
        return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp)


def bgnbd_loglik(params: ArrayLike, x: ArrayLike, tx: ArrayLike, T: ArrayLike) -> np.ndarray:
    """Per-customer BG/NBD log-likelihood (FHL 2005a, eq. 6 as in Hardie's note 004)."""
    r, alpha, a, b = (float(v) for v in params)
    x, tx, T = np.asarray(x, float), np.asarray(tx, float), np.asarray(T, float)
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = (
        special.gammaln(a + b)
        + special.gammaln(b + x)
        - special.gammaln(b)
        - special.gammaln(a + b + x)
    )
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(
            x > 0,
            np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + tx),
            -np.inf,
        )
    return a1 + a2 + np.logaddexp(a3, a4)


def _codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values and each row's index into them."""
    return np.unique(values, return_inverse=True)


class _BgnbdLoglik:
    """The per-row BG/NBD log-likelihood of fixed data, for many parameter vectors.

    The optimizer evaluates the likelihood about a thousand times on the same
    rows. Its gamma functions depend on the row only through ``x`` (a few
    dozen repeat counts), and its logs only through ``t_x`` or ``T`` (whole
    days): each is computed per distinct value and gathered, leaving one
    ``logaddexp`` per row (about 3× faster at 200k rows than
    :func:`bgnbd_loglik`, which it equals to rounding; see the tests).
    """

    def __init__(self, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> None:
        (self.xu, self.xi), (self.txu, self.txi), (self.Tu, self.Ti) = (
            _codes(x), _codes(tx), _codes(T)
        )  # fmt: skip

    def __call__(self, params: ArrayLike) -> np.ndarray:
        r, alpha, a, b = (float(v) for v in params)
        xu = self.xu
        per_x = (
            special.gammaln(r + xu) - special.gammaln(r) + r * np.log(alpha)
            + special.gammaln(a + b) + special.gammaln(b + xu) - special.gammaln(b)
            - special.gammaln(a + b + xu)
        )  # fmt: skip
        rx = r + xu
        with np.errstate(divide="ignore", invalid="ignore"):
            drop = np.where(xu > 0, np.log(a) - np.log(np.maximum(b + xu - 1, 1e-300)), -np.inf)
        xi = self.xi
        rxi = rx[xi]
        a3 = -rxi * np.log(alpha + self.Tu)[self.Ti]
        a4 = drop[xi] - rxi * np.log(alpha + self.txu)[self.txi]
        return per_x[xi] + np.logaddexp(a3, a4)


class _GammaGammaLoglik:
    """The per-row Gamma-Gamma log-likelihood of fixed data, for many parameter vectors.

    As :class:`_BgnbdLoglik`: the gamma functions per distinct ``x``, the logs
    of the data once, one log per row and evaluation.
    """

    def __init__(self, x: np.ndarray, m: np.ndarray) -> None:
        self.xu, self.xi = _codes(x)
        self.x, self.mx = x, m * x
        self.log_m, self.x_log_x = np.log(m), x * np.log(x)

    def __call__(self, params: ArrayLike) -> np.ndarray:
        p, q, g = (float(v) for v in params)
        per_x = special.gammaln(p * self.xu + q) - special.gammaln(p * self.xu)
        px = p * self.x
        return (
            per_x[self.xi] - special.gammaln(q) + q * np.log(g) + (px - 1) * self.log_m
            + p * self.x_log_x - (px + q) * np.log(g + self.mx)
        )  # fmt: skip


def _fit(negll, start: np.ndarray) -> optimize.OptimizeResult:
    # Positive parameters: optimize their logs; Nelder-Mead first (robust from a poor
    # start), then L-BFGS-B to polish.
    res = optimize.minimize(negll, np.log(start), method="Nelder-Mead",
                            options={"maxiter": 4000, "xatol": 1e-8, "fatol": 1e-10})  # fmt: skip
    res2 = optimize.minimize(negll, res.x, method="L-BFGS-B")
    best = res2 if res2.fun <= res.fun else res
    if not np.isfinite(best.fun):
        raise ValueDataError("the model did not converge on these data")
    return best


def fit_bgnbd(
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    *,
    penalizer: float = 0.0,
    weights: ArrayLike | None = None,
) -> BetaGeo:
    """Fit BG/NBD by maximum likelihood.

    Parameters
    ----------
    frequency
        Repeat purchases ``x`` per customer (purchases after the first).
    recency
        Age at the last purchase ``t_x`` (0 when ``x == 0``), in any time unit.
    T
        Age at the end of observation, same unit.
    penalizer
        L2 penalty on the parameters (0: plain maximum likelihood).
    weights
        Customers per row (default one each): rows of distinct ``(x, t_x, T)`` with
        their counts, as the engine groups them (:func:`fit_statistics`), fit as the
        customers themselves would.

    Returns
    -------
    BetaGeo

    Examples
    --------
    >>> s = pd.read_csv("tests/data/cdnow/cdnow_customers_summary.csv")  # doctest: +SKIP
    >>> fit_bgnbd(s.frequency, s.recency, s["T"]).params()  # doctest: +SKIP
    {'r': 0.243, 'alpha': 4.414, 'a': 0.793, 'b': 2.426}
    """
    x, tx, T, w = _arrays(frequency, recency, T, *_weights(weights, frequency))
    _check_rft(x, tx, T)
    if penalizer < 0:
        raise ValueError(f"penalizer must be 0 or more, not {penalizer!r}")
    scale = max(float(T.max()), 1e-9)  # fit on a unit scale, then rescale alpha
    # (x, t_x, T) is a sufficient statistic and, in whole days, repeats a lot (everyone
    # without a repeat purchase who arrived on one day): the likelihood is a sum over
    # persons, so each distinct row is evaluated once and weighted by its count
    rows, where = np.unique(np.column_stack([x, tx, T]), axis=0, return_inverse=True)
    weight = np.bincount(where.ravel(), weights=w)
    ux, utx, uT = rows.T

    n = float(weight.sum())
    loglik = _BgnbdLoglik(ux, utx / scale, uT / scale)

    def negll(logp: np.ndarray) -> float:
        # per person, so the optimizer's absolute tolerances mean the same at any size
        p = np.exp(logp)
        value = -(weight * loglik(p)).sum()
        return float((value + penalizer * (p**2).sum()) / n) if np.isfinite(value) else 1e300

    res = _fit(negll, np.array([1.0, 1.0, 1.0, 1.0]))
    r, alpha, a, b = np.exp(res.x)
    alpha *= scale
    ll = float((weight * bgnbd_loglik([r, alpha, a, b], ux, utx, uT)).sum())
    return BetaGeo(float(r), float(alpha), float(a), float(b), ll, round(n))


def _weights(weights: ArrayLike | None, like: ArrayLike) -> list[np.ndarray]:
    """``[weights]`` as checked floats (one per row by default), for :func:`_arrays`."""
    if weights is None:
        return [np.ones(len(np.asarray(like)))]
    w = np.asarray(weights, dtype="float64")
    if (w <= 0).any():
        raise ValueError("weights count customers: each must be above 0")
    return [w]


# ---------------------------------------------------------------- Gamma-Gamma


@dataclass(frozen=True)
class GammaGamma:
    """A fitted Gamma-Gamma spend model: ``p``, ``q``, ``gamma`` (Fader & Hardie 2013)."""

    p: float
    q: float
    gamma: float
    loglik: float = float("nan")
    n: int = 0

    def params(self) -> dict[str, float]:
        return {"p": self.p, "q": self.q, "gamma": self.gamma}

    def mean_spend(self) -> float:
        """E(M) for a customer picked at random: ``p * gamma / (q - 1)``."""
        return self.p * self.gamma / (self.q - 1) if self.q > 1 else float("inf")

    def expected_spend(self, x: ArrayLike, mbar: ArrayLike) -> np.ndarray:
        """E(M | x, m̄): expected spend per purchase given ``x`` purchases averaging ``m̄``.

        A customer with no purchases (``x == 0``) gets the population mean.
        """
        x, m = np.asarray(x, float), np.asarray(mbar, float)
        cond = self.p * (self.gamma + x * m) / (self.p * x + self.q - 1)
        return np.where(x > 0, cond, self.mean_spend())


def gamma_gamma_loglik(params: ArrayLike, x: ArrayLike, mbar: ArrayLike) -> np.ndarray:
    """Per-customer log-likelihood of ``m̄`` given ``x`` (Fader & Hardie 2013, eq. 3)."""
    p, q, g = (float(v) for v in params)
    x, m = np.asarray(x, float), np.asarray(mbar, float)
    return (
        special.gammaln(p * x + q)
        - special.gammaln(p * x)
        - special.gammaln(q)
        + q * np.log(g)
        + (p * x - 1) * np.log(m)
        + p * x * np.log(x)
        - (p * x + q) * np.log(g + m * x)
    )


def fit_gamma_gamma(
    frequency: ArrayLike, monetary: ArrayLike, *, weights: ArrayLike | None = None
) -> GammaGamma:
    """Fit Gamma-Gamma on customers with at least one repeat purchase.

    Parameters
    ----------
    frequency
        Repeat purchases ``x`` (only customers with ``x > 0`` may be passed).
    monetary
        Mean value of those repeat purchases (strictly positive).
    weights
        Customers per row (default one each), as for :func:`fit_bgnbd`.

    Examples
    --------
    >>> fit_gamma_gamma([1, 2, 3, 1], [20.0, 35.0, 50.0, 12.0]).p > 0  # doctest: +SKIP
    True
    """
    x, m, w = _arrays(frequency, monetary, *_weights(weights, frequency))
    if w.sum() < 2:
        raise ValueDataError("Gamma-Gamma needs at least two customers with repeat purchases")
    if (x <= 0).any():
        raise ValueError("Gamma-Gamma is fitted on customers with repeat purchases only (x > 0)")
    if (m <= 0).any():
        raise ValueError("monetary values must be above 0 for Gamma-Gamma")
    n = float(w.sum())
    weighted = weights is not None
    scale = float(np.average(m, weights=w if weighted else None))
    loglik = _GammaGammaLoglik(x, m / scale)

    def negll(logp: np.ndarray) -> float:
        ll = loglik(np.exp(logp))
        value = -((w * ll).sum() / n if weighted else ll.mean())  # per person, as BG/NBD
        return float(value) if np.isfinite(value) else 1e300

    res = _fit(negll, np.array([1.0, 1.0, 1.0]))
    p, q, g = np.exp(res.x)
    g *= scale
    ll = float((w * gamma_gamma_loglik([p, q, g], x, m)).sum())
    return GammaGamma(float(p), float(q), float(g), ll, round(n))


# ---------------------------------------------------------------- from the warehouse


def rft_expr(orders: ir.Table, as_of: AsOf, utc_offset_s: int) -> ir.Table:
    """Per person: ``frequency`` (repeat purchase days), ``recency``, ``T`` in days, ``monetary``.

    ``monetary`` is the mean net value of the repeat purchase days (0 without
    repeat), the Gamma-Gamma input; ``first_value`` the first day's value.
    """
    o = orders.filter((orders.ts < as_of.cutoff_epoch) & (orders.net > 0))
    o = o.mutate(day=((o.ts + utc_offset_s) // SECONDS_PER_DAY).cast("int64"))
    days = o.group_by(["person_id", "day"]).aggregate(value=o.net.sum())
    first = days.group_by("person_id").aggregate(first_day=days.day.min(), last_day=days.day.max())
    j = days.inner_join(first, "person_id")
    end_day = (as_of.cutoff_epoch + utc_offset_s) // SECONDS_PER_DAY - 1
    repeat = j.day > j.first_day
    per = j.group_by("person_id").aggregate(
        frequency=repeat.sum().cast("int64"),
        recency=(j.last_day - j.first_day).max().cast("float64"),
        T=(end_day - j.first_day).max().cast("float64"),
        repeat_value=j.value.sum(where=repeat),
        first_value=j.value.sum(where=~repeat),
    )
    return per.select(
        "person_id",
        "frequency",
        "recency",
        "T",
        monetary=ibis.ifelse(
            per.frequency > 0, per.repeat_value / per.frequency.cast("float64"), 0.0
        ),
        first_value=per.first_value,
    )


def _utc_offset(settings: Settings, day: dt.date) -> int:
    from zoneinfo import ZoneInfo

    noon = dt.datetime.combine(day, dt.time(12), ZoneInfo(settings.timezone))
    return int(noon.utcoffset().total_seconds())


def summary(
    warehouse: Warehouse = None,
    *,
    as_of: str | dt.date | None = None,
    settings: Settings | None = None,
    **overrides: Any,
) -> pd.DataFrame:
    """Per-person ``frequency, recency, T`` (days) and ``monetary``: the model inputs.

    Examples
    --------
    >>> summary("data/warehouse/scrm.duckdb").head()  # doctest: +SKIP
    """
    with using(warehouse) as con:
        expr, attrs = _summary_expr(con, as_of, settings, overrides)
        df = con.execute(expr.order_by("person_id"))
    df.attrs.update(attrs)
    return df


def _summary_expr(
    con: Any, as_of: Any, settings: Settings | None, overrides: dict[str, Any]
) -> tuple[ir.Table, dict[str, Any]]:
    """:func:`rft_expr` of ``con``'s counted orders, and the frame's ``attrs``."""
    settings, _, cut, orders, excluded = prepare(con, as_of, settings, overrides)
    expr = rft_expr(orders, cut, _utc_offset(settings, cut.date))
    return expr, {"as_of": cut.date.isoformat(), "excluded_orders": excluded}


#: Columns of :func:`fit_statistics`' frames: the model inputs and how many persons share them.
BGNBD_STATISTICS = ("frequency", "recency", "T")
GAMMA_GAMMA_STATISTICS = ("frequency", "monetary")


def fit_statistics(con: Any, rft: ir.Table) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The models' inputs as the engine groups them: distinct ``frequency, recency, T`` with
    ``persons`` (BG/NBD), and distinct ``frequency, monetary`` of the repeat buyers with
    ``persons`` (Gamma-Gamma), each sorted by its columns.

    A few thousand rows whatever the number of persons (whole days, a few dozen repeat
    counts), so only these reach the driver for the fit. Sorted as :func:`fit_bgnbd` sorts
    its rows, so the fit adds the same terms in the same order as on one row per person.

    Examples
    --------
    >>> rows, spends = fit_statistics(con, rft_expr(orders, cut, 8 * 3600))  # doctest: +SKIP
    """
    repeat = rft.filter(rft.frequency > 0)
    out = []
    for t, keys in ((rft, BGNBD_STATISTICS), (repeat, GAMMA_GAMMA_STATISTICS)):
        grouped = t.group_by(list(keys)).aggregate(persons=t.count())
        out.append(con.execute(grouped.order_by(list(keys))))
    return out[0], out[1]


#: Fewest customers BG/NBD is fitted on. Its four parameters from a shop's first
#: handful of buyers run to the bounds (r ≈ 7·10⁶ on three Tmall buyers) and score one
#: purchase as 28 expected ones; with 30 the fit is at least pinned by the data.
MIN_CLV_CUSTOMERS = 30
#: Fewest customers with a repeat purchase: without them the dropout rate (a, b) and
#: the purchase rate cannot be told apart.
MIN_CLV_REPEATERS = 5


def check_fittable(frequency: ArrayLike, weights: ArrayLike | None = None) -> None:
    """Refuse (with the counts) data too small for BG/NBD, before any fit.

    Raises
    ------
    ValueDataError
        Fewer than :data:`MIN_CLV_CUSTOMERS` customers or fewer than
        :data:`MIN_CLV_REPEATERS` with a repeat purchase.

    Examples
    --------
    >>> check_fittable([0, 1, 2])
    Traceback (most recent call last):
    ...
    scrm_lib.value._base.ValueDataError: CLV needs at least 30 customers to fit BG/NBD (3 here)
    """
    x = np.asarray(frequency, dtype=float)
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=float)
    n = round(float(w.sum()))
    if n < MIN_CLV_CUSTOMERS:
        raise ValueDataError(
            f"CLV needs at least {MIN_CLV_CUSTOMERS} customers to fit BG/NBD ({n} here)"
        )
    repeat = round(float(w[x > 0].sum()))
    if repeat < MIN_CLV_REPEATERS:
        raise ValueDataError(
            f"CLV needs at least {MIN_CLV_REPEATERS} customers with a repeat purchase "
            f"to fit BG/NBD ({repeat} of {n} here)"
        )


def clv(
    warehouse: Warehouse = None,
    *,
    as_of: str | dt.date | None = None,
    horizon_days: int | None = None,
    settings: Settings | None = None,
    **overrides: Any,
) -> pd.DataFrame:
    """P(alive), expected purchases and spend over a horizon, and CLV per person.

    Fits BG/NBD on every person with a purchase and Gamma-Gamma on those with
    a repeat purchase (time in days), then scores each person:
    ``clv = expected_purchases(horizon) * expected_spend``, discounted at
    ``clv_discount_rate_annual`` over the horizon's midpoint. ``ltv_simple``
    is the person's average order value × purchases per year (over their
    observed life, counted as at least one year) × ``lifespan_years``.

    Returns
    -------
    pandas.DataFrame
        ``person_id, frequency, recency, T, monetary, p_alive,
        expected_purchases, expected_spend, clv, ltv_simple``; the fitted
        models in ``df.attrs["bgnbd"]`` and ``df.attrs["gamma_gamma"]``.

    Raises
    ------
    ValueDataError
        No purchase before the reference date, or too few customers or repeat
        buyers to fit (:func:`check_fittable`): a shop's first export.

    Examples
    --------
    >>> df = clv("data/warehouse/scrm.duckdb", horizon_days=180)  # doctest: +SKIP
    >>> df.sort_values("clv", ascending=False).head()  # doctest: +SKIP
    """
    settings = settings or load_settings()
    cfg = value_config(settings, **overrides)
    horizon = cfg["clv_horizon_days"] if horizon_days is None else horizon_days
    if not isinstance(horizon, int) or horizon <= 0:
        raise ValueError(f"horizon_days must be a whole number of days above 0, not {horizon!r}")
    with using(warehouse) as con:
        expr, attrs = _summary_expr(con, as_of, settings, overrides)
        # the fit's statistics and the scored rows read the persons' statistics once
        rft = expr.cache()
        try:
            rows, spends = fit_statistics(con, rft)
            if rows.empty:
                raise ValueDataError("no person has a purchase before the reference date")
            check_fittable(rows["frequency"], rows["persons"])
            bg = fit_bgnbd(*(rows[c] for c in BGNBD_STATISTICS), weights=rows["persons"])
            gg = None
            if spends["persons"].sum() >= 2:
                gg = fit_gamma_gamma(*(spends[c] for c in GAMMA_GAMMA_STATISTICS),
                                     weights=spends["persons"])  # fmt: skip
            # the scores are per person: the one per-person read
            df = con.execute(rft.order_by("person_id"))
        finally:
            rft.release()
    df.attrs.update(attrs)
    x, tx, T = (df[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    if gg is not None:
        spend = gg.expected_spend(x, df["monetary"].to_numpy(float))
    else:
        spend = (df["first_value"].to_numpy(float)).copy()
    # no repeat purchase yet: the model's population mean spend (or the first order's value)
    expected = bg.expected_purchases(horizon, x, tx, T)
    discount = (1 + cfg["clv_discount_rate_annual"]) ** (-(horizon / 2) / 365.0)
    out = df[["person_id", "frequency", "recency", "T", "monetary"]].copy()
    out["p_alive"] = bg.p_alive(x, tx, T)
    out["expected_purchases"] = expected
    out["expected_spend"] = spend
    out["clv"] = (expected * spend * discount).round(2)
    purchases = x + 1
    total = df["first_value"].to_numpy(float) + df["monetary"].to_numpy(float) * x
    years = np.maximum(T / 365.0, 1.0)
    out["ltv_simple"] = (total / purchases * (purchases / years) * cfg["lifespan_years"]).round(2)
    out.attrs.update(
        df.attrs,
        horizon_days=horizon,
        bgnbd=bg.params() | {"loglik": bg.loglik, "n": bg.n},
        gamma_gamma=(gg.params() | {"loglik": gg.loglik, "n": gg.n}) if gg else None,
    )
    return out


def simple_ltv(
    warehouse: Warehouse = None,
    *,
    as_of: str | dt.date | None = None,
    settings: Settings | None = None,
    **overrides: Any,
) -> dict[str, float]:
    """The simple LTV = average order value × purchase frequency × lifespan.

    Over the 365 days up to ``as_of``: average order value = net GMV /
    purchases; purchase frequency = purchases per buying person;
    lifespan = ``lifespan_years`` (configuration).

    Examples
    --------
    >>> simple_ltv("data/warehouse/scrm.duckdb")["ltv"]  # doctest: +SKIP
    """
    with using(warehouse) as con:
        _, cfg, cut, orders, _ = prepare(con, as_of, settings, overrides)
        start = cut.cutoff_epoch - 365 * SECONDS_PER_DAY
        o = orders.filter((orders.ts >= start) & (orders.ts < cut.cutoff_epoch) & (orders.net > 0))
        row = con.execute(
            o.aggregate(gmv=o.net.sum(), purchases=o.count(), persons=o.person_id.nunique())
        ).iloc[0]
    purchases, persons = int(row["purchases"]), int(row["persons"])
    aov = float(row["gmv"]) / purchases if purchases else 0.0
    freq = purchases / persons if persons else 0.0
    return {
        "as_of": cut.date.isoformat(),
        "aov": round(aov, 2),
        "purchase_frequency": round(freq, 4),
        "lifespan_years": float(cfg["lifespan_years"]),
        "ltv": round(aov * freq * cfg["lifespan_years"], 2),
        "persons": persons,
    }
