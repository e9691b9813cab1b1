"""Per-person experiment data from the warehouse, computed in the engine.

An experiment's assignments (``assignments``: experiment, unit_type
account|group, unit_id, variant, ts) are lifted to persons through
:func:`scrm_lib.warehouse.steps.person_map` (OneID, or one person per account):

- per-account experiments: a person's accounts may land in different arms
  (contamination); :func:`contamination` lists those persons, and the
  analysis either excludes them or analyses intention-to-treat by the arm of
  the person's first exposure;
- per-group experiments (group chat = cluster): the members of each group at
  assignment time, from ``group_join`` / ``group_leave`` events.

Outcomes are orders in ``[first exposure, + window_days)``; pre-period
covariates (CUPED) are orders in the ``pre_days`` before it. Everything is
an ibis expression; only per-arm sums reach Python
(:func:`sufficient_statistics`).

Configuration lives in ``scrm.toml``:

.. code-block:: toml

    [experiments.birthday_msg]
    window_days = 7          # outcome window after the first exposure
    control = "A"
    contamination = "exclude"  # or "itt"
    population = "buyers"    # or "all": persons with an order in the lookback before exposure
    lookback_days = 365
    pre_days = 90            # CUPED covariates window
    statuses = ["paid", "refunded", "cancelled", "pending"]  # orders that count as conversion

Example
-------
>>> cfg = experiment_config("birthday_msg", {})
>>> cfg.window_days, cfg.contamination
(7, 'exclude')
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import pandas as pd

from scrm_lib.experiments.messages import ExperimentInputError

Contamination = Literal["exclude", "itt"]
Population = Literal["all", "buyers"]

#: metric name → kind; ratio metrics name their numerator and denominator
METRICS: dict[str, str] = {
    "conversion": "proportion",
    "orders": "mean",
    "revenue": "mean",
    "revenue_per_order": "ratio:revenue/orders",
}
STATUSES = ("paid", "refunded", "cancelled", "pending")


@dataclass(frozen=True)
class ExperimentConfig:
    """How an experiment is read from the warehouse (defaults; ``[experiments.NAME]`` overrides)."""

    name: str
    window_days: int = 7
    control: str | None = None  # default: "control", "A" or the first arm alphabetically
    contamination: Contamination = "exclude"
    population: Population = "buyers"
    lookback_days: int = 365
    pre_days: int = 90
    statuses: tuple[str, ...] = STATUSES
    metrics: tuple[str, ...] = ("conversion", "orders", "revenue", "revenue_per_order")
    guardrails: tuple[str, ...] = ()
    weights: dict[str, float] = field(default_factory=dict)
    tuning_n: int = 5000


def experiment_config(name: str, extra: dict[str, Any] | None = None) -> ExperimentConfig:
    """The experiment's settings: defaults overridden by ``[experiments.<name>]`` in scrm.toml.

    Examples
    --------
    >>> experiment_config("x", {"experiments": {"x": {"window_days": 3}}}).window_days
    3
    """
    section = ((extra or {}).get("experiments") or {}).get(name) or {}
    known = {f.name for f in fields(ExperimentConfig)} - {"name"}
    unknown = set(section) - known
    if unknown:
        raise ExperimentInputError(
            f"[experiments.{name}]: unknown keys {sorted(unknown)}; known: {sorted(known)}"
        )
    values = dict(section)
    for key in ("statuses", "metrics", "guardrails"):
        if key in values:
            values[key] = tuple(values[key])
    cfg = ExperimentConfig(name=name, **values)
    if cfg.contamination not in ("exclude", "itt"):
        raise ExperimentInputError(
            f"[experiments.{name}] contamination must be exclude or itt, not {cfg.contamination!r}"
        )
    if cfg.population not in ("all", "buyers"):
        raise ExperimentInputError(
            f"[experiments.{name}] population must be all or buyers, not {cfg.population!r}"
        )
    if cfg.window_days <= 0:
        raise ExperimentInputError(f"[experiments.{name}] window_days must be > 0")
    bad = [m for m in (*cfg.metrics, *cfg.guardrails) if m not in METRICS]
    if bad:
        raise ExperimentInputError(f"unknown metrics {bad}; known: {sorted(METRICS)}")
    return cfg


def list_experiments(con: Any) -> pd.DataFrame:
    """Experiments in the warehouse: unit type, arms, units per arm, first and last exposure."""
    if "assignments" not in con.list_tables():
        return pd.DataFrame(
            columns=["experiment", "unit_type", "variant", "units", "first", "last"]
        )
    a = con.table("assignments")
    out = (
        a.group_by("experiment", "unit_type", "variant")
        .agg(units=a.unit_id.nunique(), first=a.ts.min(), last=a.ts.max())
        .order_by("experiment", "variant")
        .execute()
    )
    return out


def _assignments(con: Any, experiment: str) -> ir.Table:
    a = con.table("assignments")
    a = a.filter(a.experiment == experiment)
    return a


def _group_members(con: Any, a: ir.Table) -> ir.Table:
    """Accounts in each assigned group at its assignment time (join before, no leave since)."""
    e = con.table("events")
    e = e.filter(e.type.isin(["group_join", "group_leave"]))
    e = e.mutate(chat_id=e.attributes.cast("json")["chat_id"].str)
    j = a.join(e, a.unit_id == e.chat_id).filter(lambda t: t.ts_right <= t.ts)
    last = j.group_by("unit_id", "account_id", "variant", "ts").agg(
        last_join=j.ts_right.max(where=j.type == "group_join"),
        last_leave=j.ts_right.max(where=j.type == "group_leave"),
    )
    last = last.filter(last.last_join.notnull())
    last = last.filter(last.last_leave.isnull() | (last.last_leave < last.last_join))
    return last.select(account_id="account_id", variant="variant", ts="ts", cluster="unit_id")


def exposures(con: Any, experiment: str) -> ir.Table:
    """Every (person, unit) exposure: person_id, variant, ts, cluster (group id or null)."""
    from scrm_lib.warehouse.steps import person_map

    a = _assignments(con, experiment)
    accounts = a.filter(a.unit_type != "group").select(
        account_id="unit_id", variant="variant", ts="ts", cluster=ibis.null("string")
    )
    units = accounts.union(_group_members(con, a.filter(a.unit_type == "group")))
    pm = person_map(con)
    j = units.left_join(pm, units.account_id == pm.account_id)
    return j.select(
        person_id=ibis.coalesce(j.person_id, j.account_id),
        account_id=j.account_id,
        variant=j.variant,
        ts=j.ts,
        cluster=j.cluster,
    )


def persons(con: Any, experiment: str) -> ir.Table:
    """One row per exposed person: first exposure, first arm, arms seen, contaminated, cluster."""
    x = exposures(con, experiment)
    first = x.group_by("person_id").agg(
        ts=x.ts.min(),
        first_variant=x.variant.argmin(x.ts),
        n_variants=x.variant.nunique(),
        n_units=x.count(),
        variants=x.variant.collect(distinct=True),
    )
    # the cluster a person is analysed in: the first group (by id) of their first arm
    xc = x.filter(x.cluster.notnull())
    cl = xc.group_by("person_id", "variant").agg(cluster=xc.cluster.min())
    out = first.left_join(
        cl, (first.person_id == cl.person_id) & (first.first_variant == cl.variant)
    )
    return out.select(
        "person_id",
        "ts",
        "first_variant",
        "n_variants",
        "n_units",
        "variants",
        "cluster",
        contaminated=out.n_variants > 1,
    )


def contamination(con: Any, experiment: str) -> pd.DataFrame:
    """Persons whose accounts (or groups) landed in more than one arm.

    Columns: person_id, n_units, variants (sorted, joined by ``+``), first_variant, ts.
    """
    p = persons(con, experiment)
    p = p.filter(p.contaminated)
    df = p.select("person_id", "n_units", "variants", "first_variant", "ts").execute()
    df["variants"] = df["variants"].map(lambda v: "+".join(sorted(v)))
    return df.sort_values("person_id").reset_index(drop=True)


def person_metrics(con: Any, cfg: ExperimentConfig) -> ir.Table:
    """Per analysed person: arm, cluster, outcome metrics and pre-period covariates (lazy).

    Columns: person_id, arm, ts, cluster, conversion, orders, revenue,
    pre_orders, pre_revenue, contaminated.
    """
    p = persons(con, cfg.name)
    if cfg.contamination == "exclude":
        p = p.filter(~p.contaminated)
    p = p.mutate(arm=p.first_variant)
    from scrm_lib.warehouse.steps import person_map

    pm = person_map(con)
    o = con.table("orders")
    o = o.join(pm, o.account_id == pm.account_id).select(
        person_id=pm.person_id,
        order_id=o.order_id,
        platform=o.platform,
        created_at=o.created_at,
        status=o.status,
        net=(o.amount.cast("float64") - o.refund_amount.cast("float64").fill_null(0.0)),
    )
    j = p.join(o, p.person_id == o.person_id, how="left")
    day = ibis.interval(days=1)
    in_win = (
        (j.created_at >= j.ts)
        & (j.created_at < j.ts + cfg.window_days * day)
        & j.status.isin(list(cfg.statuses))
    )
    paid = j.status != "cancelled"
    pre = (j.created_at < j.ts) & (j.created_at >= j.ts - cfg.pre_days * day) & paid
    look = (j.created_at < j.ts) & (j.created_at >= j.ts - cfg.lookback_days * day) & paid
    order_key = j.platform.concat(":", j.order_id)
    agg = j.group_by("person_id", "arm", "ts", "cluster", "contaminated").agg(
        orders=order_key.nunique(where=in_win),
        revenue=j.net.sum(where=in_win & paid).fill_null(0.0),
        pre_orders=order_key.nunique(where=pre),
        pre_revenue=j.net.sum(where=pre).fill_null(0.0),
        lookback_orders=order_key.nunique(where=look),
    )
    if cfg.population == "buyers":
        agg = agg.filter(agg.lookback_orders > 0)
    return agg.mutate(
        conversion=(agg.orders > 0).cast("int64"),
        orders=agg.orders.cast("float64"),
        pre_orders=agg.pre_orders.cast("float64"),
    )


def sufficient_statistics(
    t: ir.Table,
    *,
    arm: str,
    metrics: list[str],
    ratios: dict[str, tuple[str, str]] | None = None,
    covariates: list[str] | None = None,
    by: list[str] | None = None,
    cluster: str | None = None,
) -> pd.DataFrame:
    """Per arm (and ``by`` groups): n and the sums every test needs, aggregated in the engine.

    Columns: ``n``; per metric ``m``: ``m__sum``, ``m__ss``, ``m__min``, ``m__max``;
    per covariate ``x``: ``x__sum``, ``x__ss``, ``m__x__sp`` (Σ m·x) and
    ``x__y__sp`` between covariates; per ratio: ``num__den__sp``. With
    ``cluster``: ``k`` and per metric ``m__csq`` (Σ Y_c²), ``m__cyn`` (Σ Y_c N_c),
    ``m__cqn`` (Σ Y_c²/N_c), and ``csize_sq`` (Σ N_c²).
    """
    keys = [arm, *(by or [])]
    cov = list(covariates or [])
    aggs: dict[str, Any] = {"n": t.count()}
    cols = list(dict.fromkeys([*metrics, *cov]))
    for m in cols:
        c = t[m].cast("float64")
        aggs[f"{m}__sum"] = c.sum()
        aggs[f"{m}__ss"] = (c * c).sum()
        aggs[f"{m}__min"] = c.min()
        aggs[f"{m}__max"] = c.max()
    for m in metrics:
        for x in cov:
            aggs[f"{m}__{x}__sp"] = (t[m].cast("float64") * t[x].cast("float64")).sum()
    for i, x in enumerate(cov):
        for y in cov[i:]:
            aggs[f"{x}__{y}__sp"] = (t[x].cast("float64") * t[y].cast("float64")).sum()
    for num, den in (ratios or {}).values():
        aggs[f"{num}__{den}__sp"] = (t[num].cast("float64") * t[den].cast("float64")).sum()
    out = t.group_by(keys).agg(**aggs).execute()
    if cluster is not None:
        c = t.group_by([*keys, cluster]).agg(
            nc=t.count(), **{f"{m}__yc": t[m].cast("float64").sum() for m in metrics}
        )
        caggs: dict[str, Any] = {"k": c.count(), "csize_sq": (c.nc * c.nc).sum()}
        for m in metrics:
            y = c[f"{m}__yc"]
            caggs[f"{m}__csq"] = (y * y).sum()
            caggs[f"{m}__cyn"] = (y * c.nc).sum()
            caggs[f"{m}__cqn"] = (y * y / c.nc).sum()
        out = out.merge(c.group_by(keys).agg(**caggs).execute(), on=keys, how="left")
    return out.sort_values(keys).reset_index(drop=True)


def daily_looks(t: ir.Table, *, arm: str, metric: str, time: str = "ts") -> pd.DataFrame:
    """Per arm and day of first exposure: n, sum, sum of squares (for sequential read-outs)."""
    c = t[metric].cast("float64")
    day = t[time].cast("date")
    g = t.group_by([t[arm].name(arm), day.name("day")]).agg(
        n=t.count(), sum=c.sum(), ss=(c * c).sum()
    )
    return g.order_by("day").execute()
