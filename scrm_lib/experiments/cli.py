"""``scrm ab``: list experiments, analyse one, power, assign persons, contamination report.

Example
-------
.. code-block:: bash

    scrm ab list
    scrm ab analyze birthday_msg --metric conversion --json
    scrm ab power --baseline 0.04 --mde 0.012
    scrm ab contamination birthday_msg
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from scrm_lib.cli_common import JsonOpt, WarehouseOpt, out, sub_app
from scrm_lib.config import load_settings

app = sub_app("A/B tests: person-level assignment and analysis (SRM, CUPED, Bayesian, sequential).")
# a lift table squeezed into 80 columns (cron mail, CI logs) is unreadable


def _emit(data: Any) -> None:
    out.print_json(json.dumps(data, ensure_ascii=False, default=_default))


def _default(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return str(v) if not hasattr(v, "item") else v.item()


def _clean(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item"):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _wh(warehouse: Path | None) -> Path:
    return warehouse or load_settings().warehouse


def _fmt(v: float, pct: bool = False) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:+.2%}" if pct else f"{v:.4g}"


@app.command("list")
def list_(warehouse: WarehouseOpt = None, as_json: JsonOpt = False) -> None:
    """Experiments in the warehouse: unit type, arms and units per arm."""
    from scrm_lib.experiments import list_experiments

    df = list_experiments(_wh(warehouse))
    if as_json:
        df = df.astype({"first": str, "last": str})
        _emit(df.to_dict(orient="records"))
        return
    if df.empty:
        out.print("no experiments in the warehouse")
        return
    table = Table("experiment", "unit type", "arm", "units", "first", "last", box=box.SIMPLE_HEAD)
    for r in df.itertuples():
        table.add_row(
            r.experiment, r.unit_type, r.variant, f"{r.units:,}", str(r.first)[:10],
            str(r.last)[:10],
        )  # fmt: skip
    out.print(table)


@app.command()
def analyze(
    experiment: Annotated[str, typer.Argument(help="Experiment name (see `scrm ab list`).")],
    metric: Annotated[
        list[str] | None, typer.Option("--metric", help="conversion, orders, revenue, ...")
    ] = None,
    alpha: Annotated[float, typer.Option(help="Significance level.")] = 0.05,
    correction: Annotated[str, typer.Option(help="holm, bh or none.")] = "holm",
    contamination: Annotated[
        str | None, typer.Option(help="exclude or itt (default from scrm.toml).")
    ] = None,
    population: Annotated[str | None, typer.Option(help="buyers or all.")] = None,
    no_cuped: Annotated[bool, typer.Option("--no-cuped", help="No CUPED adjustment.")] = False,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Analyse an experiment per person: SRM first, then lifts with intervals."""
    from scrm_lib.experiments import analyze_experiment

    if correction not in ("holm", "bh", "none"):
        from scrm_lib.experiments.messages import ExperimentInputError

        raise ExperimentInputError(f"--correction must be holm, bh or none, not {correction!r}")
    r = analyze_experiment(
        _wh(warehouse),
        experiment,
        metrics=metric or None,
        alpha=alpha,
        correction=correction,  # type: ignore[arg-type]
        cuped=not no_cuped,
        contamination=contamination,  # type: ignore[arg-type]
        population=population,  # type: ignore[arg-type]
    )
    if as_json:
        _emit(_clean(r.to_dict()))
        return
    srm = r.srm
    status = "[red]SRM ALARM[/red]" if srm["srm"] else "[green]ok[/green]"
    out.print(
        f"SRM check: {status} (units {dict(zip(srm['arms'], srm['observed'], strict=True))}, "
        f"p = {srm['p_value']:.3g})"
    )
    for m in r.messages:
        out.print(f"[yellow]! {m}[/yellow]")
    table = Table(
        "metric", "arm", "control", "treatment", "lift", "95% CI", "rel. lift", "p (adj.)",
        "P(beat)", box=box.SIMPLE_HEAD, title=f"{experiment}: vs {r.control}",
    )  # fmt: skip
    for row in r.results.itertuples():
        ci = f"[{_fmt(row.absolute_lo)}, {_fmt(row.absolute_hi)}]"
        table.add_row(
            row.metric, row.arm, _fmt(row.control_mean), _fmt(row.treatment_mean),
            _fmt(row.absolute), ci, _fmt(row.relative, pct=True), _fmt(row.p_adjusted),
            _fmt(row.chance_to_beat_control),
        )  # fmt: skip
    out.print(table)


@app.command()
def power(
    baseline: Annotated[float, typer.Option(help="Control rate (proportion) or mean.")],
    mde: Annotated[
        float | None, typer.Option(help="Absolute effect to detect (gives sample size).")
    ] = None,
    n: Annotated[
        float | None, typer.Option(help="Units per arm (gives minimum detectable effect).")
    ] = None,
    sd: Annotated[float | None, typer.Option(help="Standard deviation (mean metrics).")] = None,
    alpha: Annotated[float, typer.Option(help="Significance level.")] = 0.05,
    power_target: Annotated[float, typer.Option("--power", help="Target power.")] = 0.8,
    cuped_r2: Annotated[float, typer.Option(help="Variance explained by covariates.")] = 0.0,
    icc: Annotated[float, typer.Option(help="Intra-cluster correlation.")] = 0.0,
    cluster_size: Annotated[float, typer.Option(help="Persons per cluster.")] = 1.0,
    as_json: JsonOpt = False,
) -> None:
    """Sample size (give --mde) or minimum detectable effect (give --n)."""
    from scrm_lib.experiments.messages import ExperimentInputError
    from scrm_lib.experiments.power import minimum_detectable_effect, sample_size

    metric = "mean" if sd is not None else "proportion"
    kw = dict(
        baseline=baseline, metric=metric, sd=sd, alpha=alpha, power_target=power_target,
        cuped_r2=cuped_r2, icc=icc, cluster_size=cluster_size,
    )  # fmt: skip
    if (mde is None) == (n is None):
        raise ExperimentInputError("give exactly one of --mde (sample size) or --n (MDE)")
    if mde is not None:
        res = sample_size(mde=mde, **kw)
        text = f"{res['n_control']:,} per arm ({res['total']:,} in total)"
        if "clusters_per_arm" in res:
            text += f"; {res['clusters_per_arm']:,} clusters per arm"
    else:
        res = {"mde": minimum_detectable_effect(n, **kw), "n_per_arm": n}
        text = f"minimum detectable effect: {res['mde']:.4g} (absolute) with {n:,.0f} per arm"
    if as_json:
        _emit(_clean({**res, "metric": metric}))
    else:
        out.print(text)


@app.command()
def assign(
    experiment: Annotated[str, typer.Argument(help="Experiment name (salt).")],
    persons_file: Annotated[
        Path, typer.Option("--persons", help="Text/CSV file: one person_id a line.")
    ],
    arms: Annotated[str, typer.Option(help="Arms and weights, e.g. A=1,B=1.")] = "A=1,B=1",
    holdout: Annotated[float, typer.Option(help="Experiment holdout share.")] = 0.0,
    global_holdout: Annotated[float, typer.Option(help="Global holdout share.")] = 0.0,
    out_file: Annotated[Path | None, typer.Option("--out", help="Write CSV here.")] = None,
    log: Annotated[
        bool, typer.Option("--log", help="Record exposures in the state store.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Assign persons to arms by salted hash (deterministic), with holdouts."""

    from scrm_lib.errors import InputFileError
    from scrm_lib.experiments import assign as run
    from scrm_lib.experiments import log_exposures
    from scrm_lib.experiments.messages import ExperimentInputError

    if not persons_file.exists():
        raise InputFileError(persons_file, "no such file")
    ids = [line.split(",")[0].strip() for line in persons_file.read_text("utf-8").splitlines()]
    ids = [i for i in ids if i and i != "person_id"]
    try:
        weights = {k.strip(): float(v) for k, v in (p.split("=") for p in arms.split(","))}
    except ValueError:
        raise ExperimentInputError(f"--arms {arms!r}: write arms as A=1,B=1") from None
    df = run(ids, experiment=experiment, weights=weights, holdout=holdout,
             global_holdout=global_holdout)  # fmt: skip
    if out_file:
        from scrm_lib.access.privacy import write_export

        write_export(df, out_file, fmt="csv")
    logged = log_exposures(df) if log else 0
    counts = df["variant"].value_counts().to_dict()
    if as_json:
        _emit({"experiment": experiment, "persons": len(df), "per_variant": counts,
               "logged": logged, "out": str(out_file) if out_file else None})  # fmt: skip
    else:
        out.print(f"{experiment}: {len(df):,} persons → {counts}")


@app.command()
def contamination(
    experiment: Annotated[str, typer.Argument(help="Experiment name.")],
    warehouse: WarehouseOpt = None,
    limit: Annotated[int, typer.Option(help="Rows to show.")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """Persons whose accounts (or groups) landed in more than one arm."""
    from scrm_lib.experiments import contamination_report, list_experiments
    from scrm_lib.experiments.messages import ExperimentInputError

    wh = _wh(warehouse)
    known = set(list_experiments(wh)["experiment"])
    if experiment not in known:
        raise ExperimentInputError(f"no experiment {experiment!r}; found {sorted(known)}")
    df = contamination_report(wh, experiment)
    if as_json:
        _emit({"experiment": experiment, "persons": len(df),
               "rows": df.astype({"ts": str}).to_dict(orient="records")})  # fmt: skip
        return
    out.print(f"{experiment}: {len(df):,} persons with units in more than one arm")
    table = Table("person", "units", "arms", "first arm", box=box.SIMPLE_HEAD)
    for r in df.head(limit).itertuples():
        table.add_row(r.person_id, str(r.n_units), r.variants, r.first_variant)
    out.print(table)
