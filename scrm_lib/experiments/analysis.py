"""Analyse an experiment: SRM first, then every metric per arm against control.

Two entry points, one code path:

- :func:`analyze` takes raw per-unit rows (a DataFrame with an arm column and
  metric columns) or summary statistics per arm (columns ``arm, metric, n,
  sum[, sum_squares]``);
- :func:`analyze_experiment` reads an experiment from the warehouse
  (persons after OneID, contamination handled, outcomes from orders) via
  :mod:`.metrics`.

Raw rows are aggregated to sufficient statistics in DuckDB (the same
aggregation the warehouse path runs), then each metric gets its test:
two-proportion z-test for 0/1 metrics, Welch for means, the delta method for
ratios, CUPED when covariates are given, cluster-robust errors when a
cluster column is given; plus a Bayesian read-out and an always-valid
sequential p-value. P-values are adjusted (Holm or Benjamini–Hochberg)
across all arms × metrics × segments.

Example
-------
>>> import pandas as pd
>>> df = pd.DataFrame({"arm": ["A"] * 4 + ["B"] * 4, "conversion": [0, 1, 0, 0, 1, 1, 0, 1]})
>>> r = analyze(df, metrics=["conversion"])
>>> r.srm["srm"], list(r.results["arm"])
(False, ['B'])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import ibis
import pandas as pd

from scrm_lib.engine import using
from scrm_lib.experiments import bayesian, corrections, sequential
from scrm_lib.experiments.cluster import cluster_test
from scrm_lib.experiments.cuped import cuped_test
from scrm_lib.experiments.frequentist import (
    Comparison,
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

Kind = Literal["proportion", "mean", "ratio"]
Correction = Literal["holm", "bh", "none"]


@dataclass
class ExperimentResult:
    """SRM check, one row per arm × metric (× segment), and the messages to show first."""

    srm: dict
    results: pd.DataFrame
    messages: list[str] = field(default_factory=list)
    alpha: float = 0.05
    control: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict:
        res = self.results.astype(object).where(self.results.notna(), None)
        return {
            "srm": self.srm,
            "control": self.control,
            "alpha": self.alpha,
            "messages": self.messages,
            "info": self.info,
            "results": res.to_dict(orient="records"),
        }


def _pick_control(arms: list[str], control: str | None) -> str:
    if control is not None:
        if control not in arms:
            raise ExperimentInputError(f"control arm {control!r} is not one of {arms}")
        return control
    for name in ("control", "Control", "A", "No E-Mail"):
        if name in arms:
            return name
    return sorted(arms)[0]


def _kind(row: pd.Series, metric: str, kinds: dict[str, str]) -> str:
    if metric in kinds:
        return kinds[metric]
    lo, hi = row.get(f"{metric}__min"), row.get(f"{metric}__max")
    binary = row[f"{metric}__sum"] == row[f"{metric}__ss"]
    return "proportion" if (lo is not None and lo >= 0 and hi <= 1 and binary) else "mean"


def _stat(row: pd.Series, metric: str, kind: str, *, ratios, covariates, cluster):
    n = int(row["n"])
    if cluster:
        return ClusterStatistic(
            k=int(row["k"]),
            n=n,
            sum=float(row[f"{metric}__sum"]),
            sum_squares=float(row[f"{metric}__ss"]),
            cluster_sum_squares=float(row[f"{metric}__csq"]),
            cluster_size_squares=float(row["csize_sq"]),
            cluster_sum_size_products=float(row[f"{metric}__cyn"]),
            cluster_sum_squares_over_size=float(row[f"{metric}__cqn"]),
        )
    if kind.startswith("ratio"):
        num, den = ratios[metric]
        return RatioStatistic(
            n=n,
            m=SampleMeanStatistic(n, float(row[f"{num}__sum"]), float(row[f"{num}__ss"])),
            d=SampleMeanStatistic(n, float(row[f"{den}__sum"]), float(row[f"{den}__ss"])),
            m_d_sum_of_products=float(row[f"{num}__{den}__sp"]),
        )
    if covariates:
        cov = list(covariates)

        def sp(x, y):
            key = f"{x}__{y}__sp" if f"{x}__{y}__sp" in row else f"{y}__{x}__sp"
            return float(row[key])

        return RegressionAdjustedStatistic(
            n=n,
            post=SampleMeanStatistic(n, float(row[f"{metric}__sum"]), float(row[f"{metric}__ss"])),
            pre=tuple(
                SampleMeanStatistic(n, float(row[f"{x}__sum"]), float(row[f"{x}__ss"])) for x in cov
            ),
            post_pre_sum_of_products=tuple(float(row[f"{metric}__{x}__sp"]) for x in cov),
            pre_pre_sum_of_products=tuple(tuple(sp(x, y) for y in cov) for x in cov),
        )
    if kind == "proportion":
        return ProportionStatistic(n=n, sum=float(row[f"{metric}__sum"]))
    return SampleMeanStatistic(n, float(row[f"{metric}__sum"]), float(row[f"{metric}__ss"]))


def _compare(a, b, config: StatsConfig) -> Comparison:
    if isinstance(a, ClusterStatistic):
        return cluster_test(a, b, config)
    if isinstance(a, RegressionAdjustedStatistic):
        return cuped_test(a, b, config)
    if isinstance(a, RatioStatistic):
        return ratio_test(a, b, config)
    if isinstance(a, ProportionStatistic):
        return proportion_test(a, b, config)
    return mean_test(a, b, config)


def _from_summary(df: pd.DataFrame, arm: str) -> tuple[pd.DataFrame, list[str]]:
    """Summary rows (arm, metric, n, sum[, sum_squares]) → the wide sufficient-statistics frame."""
    need = {arm, "metric", "n", "sum"}
    missing = need - set(df.columns)
    if missing:
        raise ExperimentInputError(f"summary statistics need columns {sorted(missing)}")
    if (df["n"] < 0).any() or ((df["sum"] < 0).any() and "sum_squares" not in df):
        raise ExperimentInputError("summary statistics: negative counts")
    rows: dict[str, dict] = {}
    metrics = list(dict.fromkeys(df["metric"]))
    for r in df.itertuples(index=False):
        d = rows.setdefault(getattr(r, arm), {arm: getattr(r, arm), "n": r.n})
        if d["n"] != r.n:
            raise ExperimentInputError(f"arm {getattr(r, arm)!r}: metrics disagree on n")
        ss = getattr(r, "sum_squares", None)
        binary = ss is None or (isinstance(ss, float) and math.isnan(ss))
        d[f"{r.metric}__sum"] = r.sum
        d[f"{r.metric}__ss"] = r.sum if binary else ss
        d[f"{r.metric}__min"] = 0.0 if binary else None
        d[f"{r.metric}__max"] = 1.0 if binary else None
    return pd.DataFrame(list(rows.values())), metrics


def analyze(
    data: pd.DataFrame,
    *,
    arm: str = "arm",
    metrics: list[str] | None = None,
    control: str | None = None,
    kinds: dict[str, Kind] | None = None,
    ratios: dict[str, tuple[str, str]] | None = None,
    covariates: list[str] | None = None,
    cluster: str | None = None,
    segment: str | None = None,
    guardrails: list[str] | None = None,
    weights: dict[str, float] | None = None,
    alpha: float = 0.05,
    correction: Correction = "holm",
    winsorize: float | None = None,
    tuning_n: int = sequential.DEFAULT_TUNING_N,
    _table: Any = None,
) -> ExperimentResult:
    """Every metric per arm against control, SRM first.

    Parameters
    ----------
    data
        Raw rows (one per unit: ``arm`` column plus metric columns) or summary
        statistics (columns ``arm, metric, n, sum`` and ``sum_squares`` for
        non-binary metrics).
    metrics
        Metric columns (default: every numeric column except covariates).
    control
        The control arm (default ``control``, ``A`` or the first arm).
    kinds
        Force a metric's kind; otherwise 0/1 columns are proportions.
    ratios
        Ratio metrics as ``{"revenue_per_order": ("revenue", "orders")}``.
    covariates
        Pre-period columns for CUPED (raw rows only).
    cluster
        Cluster column (group chat, salesperson): cluster-robust analysis.
    segment
        Also break every result down by this column (same corrections).
    guardrails
        Metrics that must not get worse: flagged when significantly below control.
    weights
        Planned split per arm for the SRM check (default equal).
    alpha, correction
        Significance level; Holm, Benjamini–Hochberg or none across all comparisons.
    winsorize
        Cap each continuous metric at this quantile of the pooled data (e.g. 0.99).
    tuning_n
        Sequential test: total units where the confidence sequence is tightest.

    Returns
    -------
    ExperimentResult
        ``srm`` (always run), ``results`` (one row per arm × metric × segment)
        and ``messages`` (SRM alarm, error codes) to show first.

    Examples
    --------
    >>> s = pd.DataFrame({"arm": ["A", "B"], "metric": "conversion", "n": [1000, 1000],
    ...                   "sum": [40, 55]})
    >>> round(float(analyze(s).results.loc[0, "absolute"]), 3)
    0.015
    """
    config = StatsConfig(alpha=alpha)
    ratios = dict(ratios or {})
    kinds = dict(kinds or {})
    if not isinstance(data, pd.DataFrame):
        raise ExperimentInputError("data must be a pandas DataFrame (rows or summary statistics)")
    if arm not in data.columns and _table is None:
        raise ExperimentInputError(f"no arm column {arm!r}; columns: {list(data.columns)}")
    summary = _table is None and {"metric", "n", "sum"} <= set(data.columns)
    if summary:
        if covariates or cluster or segment:
            raise ExperimentInputError("CUPED, clusters and segments need raw per-unit rows")
        wide, found = _from_summary(data, arm)
        metrics = metrics or found
        overall = wide
        seg_tables: list[tuple[str, pd.DataFrame]] = []
    else:
        if _table is None:
            if data.empty:
                raise ExperimentInputError("no rows to analyse")
            data = data.copy()
            data[arm] = data[arm].astype(str)
        cols = list(data.columns) if _table is None else list(_table.columns)
        skip = {arm, cluster, segment, *(covariates or [])}
        metrics = metrics or [
            c for c in cols if c not in skip and (_table is not None or _numeric(data[c]))
        ]
        base = [m for m in metrics if m not in ratios]
        for num, den in ratios.values():
            base += [num, den]
        base = list(dict.fromkeys(base))
        missing = [c for c in [*base, *(covariates or [])] if c not in cols]
        if missing:
            raise ExperimentInputError(f"unknown metric columns {missing}; columns: {cols}")
        if winsorize is not None and _table is None:
            data = _winsorize(data, [m for m in base if not _binary(data[m])], winsorize)
        table = _table if _table is not None else ibis.memtable(data)
        kw = dict(arm=arm, metrics=base, ratios=ratios, covariates=covariates, cluster=cluster)
        from scrm_lib.experiments.metrics import sufficient_statistics

        overall = sufficient_statistics(table, **kw)
        seg_tables = []
        if segment:
            seg = sufficient_statistics(table, by=[segment], **kw)
            seg_tables = [(str(v), g) for v, g in seg.groupby(segment, sort=True)]
    arms = [str(a) for a in overall[arm]]
    if len(arms) < 2:
        # a first export: the assigned accounts are not (yet) in the warehouse, or only
        # one arm has units; there is nothing to compare, say so instead of failing
        raise ExperimentInputError(
            f"the analysis needs units in at least two arms; found {arms or 'none'} "
            "(are the assigned accounts in the warehouse?)"
        )
    ctrl = _pick_control(arms, control)
    if weights:
        unknown = set(weights) - set(arms)
        if unknown:
            raise ExperimentInputError(f"weights name unknown arms {sorted(unknown)}; arms: {arms}")
    srm = srm_test(
        dict(zip(arms, overall["n"].astype(int), strict=True)),
        {a: (weights or {}).get(a, 0.0 if weights else 1.0) for a in arms},
    )
    messages = []
    if srm["srm"]:
        messages.append(
            f"SAMPLE RATIO MISMATCH: units per arm {srm['observed']} do not fit the planned "
            f"split (p = {srm['p_value']:.2g}); the assignment or logging is broken, "
            "do not trust the lifts"
        )
    rows = []
    for seg_name, frame in [("(all)", overall), *seg_tables]:
        frame = frame.set_index(frame[arm].astype(str))
        if ctrl not in frame.index:
            continue
        c_row = frame.loc[ctrl]
        for metric in metrics:
            kind = "ratio" if metric in ratios else _kind(c_row, metric, kinds)
            for a in frame.index:
                if a == ctrl:
                    continue
                use_cov = covariates if kind != "ratio" and not cluster else None
                sa = _stat(c_row, metric, kind, ratios=ratios, covariates=use_cov, cluster=cluster)
                sb = _stat(frame.loc[a], metric, kind, ratios=ratios, covariates=use_cov,
                           cluster=cluster)  # fmt: skip
                res = _compare(sa, sb, config)
                if kind == "proportion" and not cluster and not use_cov:
                    bay = bayesian.beta_binomial(sa, sb)
                else:
                    bay = bayesian.gaussian(res.absolute, res.se)
                seq = sequential.msprt(
                    res.absolute, res.se**2, n=res.n_control + res.n_treatment, alpha=alpha,
                    tuning_n=tuning_n,
                )  # fmt: skip
                row = {"segment": seg_name, "metric": metric, "kind": kind, "arm": a,
                       "control": ctrl, **res.to_dict()}  # fmt: skip
                row.update(
                    chance_to_beat_control=bay.chance_to_beat_control,
                    expected_loss=bay.expected_loss_treatment,
                    sequential_p_value=seq.p_value,
                    sequential_lo=seq.ci[0],
                    sequential_hi=seq.ci[1],
                    guardrail=metric in (guardrails or []),
                )
                rows.append(row)
                if res.error:
                    messages.append(f"{metric} {a} vs {ctrl} ({seg_name}): {res.message}")
    results = pd.DataFrame(rows)
    if not results.empty:
        results["p_adjusted"] = corrections.adjust(results["p_value"].tolist(), method=correction)
        results["significant"] = results["p_adjusted"] < alpha
        bad = results["guardrail"] & results["significant"] & (results["absolute"] < 0)
        results["guardrail_failed"] = bad
        for r in results[bad].itertuples():
            messages.append(f"GUARDRAIL {r.metric}: {r.arm} is significantly worse than {ctrl}")
    return ExperimentResult(
        srm=srm, results=results, messages=messages, alpha=alpha, control=ctrl,
        info={"correction": correction, "arms": arms},
    )  # fmt: skip


def _numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)


def _binary(s: pd.Series) -> bool:
    return bool(s.dropna().isin([0, 1]).all())


def _winsorize(df: pd.DataFrame, cols: list[str], q: float) -> pd.DataFrame:
    if not 0.5 < q < 1:
        raise ExperimentInputError(f"winsorize must be a quantile between 0.5 and 1, not {q!r}")
    for c in cols:
        df[c] = df[c].clip(upper=df[c].quantile(q))
    return df


# ---------------------------------------------------------------- warehouse


def analyze_experiment(
    warehouse: Any,
    experiment: str,
    *,
    metrics: list[str] | None = None,
    alpha: float = 0.05,
    correction: Correction = "holm",
    cuped: bool = True,
    contamination: Literal["exclude", "itt"] | None = None,
    population: Literal["all", "buyers"] | None = None,
    window_days: int | None = None,
    segment: str | None = None,
    settings: Any = None,
) -> ExperimentResult:
    """Analyse a warehouse experiment per person (after OneID).

    Parameters
    ----------
    warehouse
        Path of the DuckDB warehouse or an open ibis connection.
    experiment
        Name in ``assignments.experiment``.
    metrics
        Subset of conversion, orders, revenue, revenue_per_order (default: the config's).
    cuped
        Adjust with pre-period orders and revenue (``pre_days`` before exposure).
    contamination, population, window_days
        Override ``[experiments.<name>]`` in scrm.toml for this call.
    segment
        ``"cluster"`` to break down by group, or none.

    Examples
    --------
    >>> r = analyze_experiment("data/warehouse/scrm.duckdb", "birthday_msg")  # doctest: +SKIP
    >>> r.results[["metric", "arm", "absolute", "absolute_lo", "absolute_hi"]]  # doctest: +SKIP
    """
    from scrm_lib.config import load_settings
    from scrm_lib.experiments import metrics as M

    settings = settings or load_settings()
    cfg = M.experiment_config(experiment, settings.extra)
    over = {
        k: v
        for k, v in {
            "contamination": contamination, "population": population, "window_days": window_days,
        }.items()
        if v is not None
    }  # fmt: skip
    if over:
        cfg = M.experiment_config(
            experiment,
            {"experiments": {experiment: {**_section(settings.extra, experiment), **over}}},
        )
    with using(warehouse) as con:
        return _analyze_on(con, experiment, cfg, metrics=metrics, alpha=alpha,
                           correction=correction, cuped=cuped, segment=segment)  # fmt: skip


def _analyze_on(
    con: Any,
    experiment: str,
    cfg: Any,
    *,
    metrics: list[str] | None,
    alpha: float,
    correction: Correction,
    cuped: bool,
    segment: str | None,
) -> ExperimentResult:
    """:func:`analyze_experiment` on an open connection."""
    from scrm_lib.experiments import metrics as M

    known = M.list_experiments(con)
    if experiment not in set(known["experiment"]):
        names = sorted(set(known["experiment"]))
        raise ExperimentInputError(f"no experiment {experiment!r} in the warehouse; found {names}")
    unit_type = str(known.loc[known["experiment"] == experiment, "unit_type"].iloc[0])
    wanted = list(metrics or cfg.metrics)
    bad = [m for m in wanted if m not in M.METRICS]
    if bad:
        raise ExperimentInputError(f"unknown metrics {bad}; known: {sorted(M.METRICS)}")
    table = M.person_metrics(con, cfg)
    dropped = []
    if unit_type == "group":  # ratio metrics have no cluster-robust version here
        dropped = [m for m in wanted if ":" in M.METRICS[m]]
        wanted = [m for m in wanted if m not in dropped]
    ratios = {
        m: tuple(M.METRICS[m].split(":")[1].split("/")) for m in wanted if ":" in M.METRICS[m]
    }
    kinds = {m: M.METRICS[m] for m in wanted if m not in ratios}
    cluster = "cluster" if unit_type == "group" else None
    result = analyze(
        pd.DataFrame(columns=["arm"]),
        arm="arm",
        metrics=wanted,
        control=cfg.control,
        kinds=kinds,
        ratios=ratios,
        covariates=["pre_orders", "pre_revenue"] if cuped and not cluster else None,
        cluster=cluster,
        segment=segment,
        guardrails=list(cfg.guardrails),
        weights=cfg.weights or None,
        alpha=alpha,
        correction=correction,
        tuning_n=cfg.tuning_n,
        _table=table,
    )
    contaminated = M.contamination(con, experiment)
    if dropped:
        result.messages.append(f"not analysed for a cluster-randomized experiment: {dropped}")
    result.info.update(
        experiment=experiment,
        unit_type=unit_type,
        contamination_policy=cfg.contamination,
        contaminated_persons=len(contaminated),
        population=cfg.population,
        window_days=cfg.window_days,
    )
    if len(contaminated):
        what = "excluded" if cfg.contamination == "exclude" else "analysed by first exposure"
        result.messages.append(
            f"{len(contaminated)} persons had units in more than one arm ({what}); "
            "see `scrm ab contamination`"
        )
    return result


def _section(extra: dict, name: str) -> dict:
    return dict(((extra or {}).get("experiments") or {}).get(name) or {})


def sequential_readout(
    warehouse: Any,
    experiment: str,
    *,
    metric: str = "conversion",
    alpha: float = 0.05,
    settings: Any = None,
) -> pd.DataFrame:
    """Daily looks (by day of first exposure): cumulative lift, always-valid p and CI."""
    from scrm_lib.config import load_settings
    from scrm_lib.experiments import metrics as M

    settings = settings or load_settings()
    cfg = M.experiment_config(experiment, settings.extra)
    with using(warehouse) as con:
        days = M.daily_looks(M.person_metrics(con, cfg), arm="arm", metric=metric)
    if days.empty:
        return pd.DataFrame(columns=["day", "n", "estimate", "p_value", "ci_lo", "ci_hi"])
    arms = sorted(days["arm"].unique())
    ctrl = _pick_control(arms, cfg.control)
    wide = days.pivot_table(index="day", columns="arm", values=["n", "sum", "ss"], aggfunc="sum")
    cum = wide.fillna(0).cumsum()
    out = []
    for treat in (a for a in arms if a != ctrl):
        looks, days_kept = [], []
        for day, r in cum.iterrows():
            na, nb = r[("n", ctrl)], r[("n", treat)]
            if na < 2 or nb < 2:
                continue
            a = SampleMeanStatistic(int(na), r[("sum", ctrl)], r[("ss", ctrl)])
            b = SampleMeanStatistic(int(nb), r[("sum", treat)], r[("ss", treat)])
            looks.append((na + nb, b.mean - a.mean, a.variance / na + b.variance / nb))
            days_kept.append(day)
        rows = sequential.monitor(looks, alpha=alpha, tuning_n=cfg.tuning_n)
        for day, row in zip(days_kept, rows, strict=True):
            out.append({"day": day, "arm": treat, **row})
    return pd.DataFrame(out)


def list_experiments(warehouse: Any = None) -> pd.DataFrame:
    """Experiments in the warehouse with units per arm (path or connection)."""
    from scrm_lib.experiments.metrics import list_experiments as listed

    with using(warehouse) as con:
        return listed(con)


def contamination_report(warehouse: Any, experiment: str) -> pd.DataFrame:
    """Persons whose accounts (or groups) landed in more than one arm."""
    from scrm_lib.experiments.metrics import contamination

    with using(warehouse) as con:
        return contamination(con, experiment)
