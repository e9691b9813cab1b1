"""``scrm value``: RFM segments, CLV, KPIs against targets and lifecycle, from the warehouse.

Example
-------
.. code-block:: bash

    scrm value rfm --as-of 2026-10-31
    scrm value clv --horizon-days 180 --top 20 --json
    scrm value kpis --weeks 8
    scrm value lifecycle
"""

from __future__ import annotations

from typing import Annotated

import typer

from scrm_lib.cli_common import JsonOpt, WarehouseOpt, emit_json, out, records, show, sub_app

app = sub_app("Customer value: RFM segments, CLV, KPIs against targets, lifecycle.")

AsOfOpt = Annotated[
    str | None, typer.Option("--as-of", help="Reference date YYYY-MM-DD (default: last order).")
]


@app.command("rfm")
def rfm_cmd(
    as_of: AsOfOpt = None,
    warehouse: WarehouseOpt = None,
    concentration: Annotated[
        bool, typer.Option(help="Also show the share of sales from the top 10%.")
    ] = True,
    as_json: JsonOpt = False,
) -> None:
    """The eight RFM segments: persons, GMV share and recommended action."""
    from scrm_lib.value.rfm import concentration as top_share
    from scrm_lib.value.rfm import segment_summary

    seg = segment_summary(warehouse, as_of=as_of)
    conc = top_share(warehouse, as_of=as_of) if concentration else None
    cols = ["zh", "en", "persons", "person_share", "gmv", "gmv_share", "action"]
    if as_json:
        data = {"as_of": seg.attrs["as_of"], "segments": records(seg[["segment", *cols]])}
        if conc is not None:
            data["top10_share"] = conc.attrs["top10_share"]
        emit_json(data)
        return
    show(seg[cols], f"RFM segments as of {seg.attrs['as_of']}",
         {"person_share": ".1%", "gmv_share": ".1%", "gmv": ",.0f"})  # fmt: skip
    if conc is not None:
        out.print(f"top 10% of customers: {conc.attrs['top10_share']:.1%} of net sales")


@app.command("clv")
def clv_cmd(
    as_of: AsOfOpt = None,
    horizon_days: Annotated[int | None, typer.Option(help="CLV horizon in days.")] = None,
    top: Annotated[int, typer.Option(help="How many persons to list, highest CLV first.")] = 10,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """BG/NBD + Gamma-Gamma fit, P(alive) and CLV per person; the simple LTV."""
    from scrm_lib.value.clv import clv, simple_ltv

    df = clv(warehouse, as_of=as_of, horizon_days=horizon_days)
    simple = simple_ltv(warehouse, as_of=as_of)
    best = df.sort_values(["clv", "person_id"], ascending=[False, True]).head(top)
    if as_json:
        emit_json({
            "as_of": df.attrs["as_of"], "horizon_days": df.attrs["horizon_days"],
            "bgnbd": df.attrs["bgnbd"], "gamma_gamma": df.attrs["gamma_gamma"],
            "simple_ltv": simple, "persons": len(df), "total_clv": float(df["clv"].sum()),
            "mean_p_alive": float(df["p_alive"].mean()), "top": records(best),
        })  # fmt: skip
        return
    bg, gg = df.attrs["bgnbd"], df.attrs["gamma_gamma"]
    out.print(f"as of {df.attrs['as_of']}, horizon {df.attrs['horizon_days']} days, "
              f"{len(df):,} persons")  # fmt: skip
    out.print("BG/NBD " + ", ".join(f"{k}={v:.4g}" for k, v in bg.items()))
    if gg:
        out.print("Gamma-Gamma " + ", ".join(f"{k}={v:.4g}" for k, v in gg.items()))
    out.print(f"total CLV {df['clv'].sum():,.0f} CNY; mean P(alive) {df['p_alive'].mean():.2f}")
    out.print(
        f"simple LTV {simple['ltv']:,.2f} = AOV {simple['aov']:,.2f} × "
        f"{simple['purchase_frequency']:.2f} × {simple['lifespan_years']:g} years"
    )
    cols = ["person_id", "frequency", "monetary", "p_alive", "expected_purchases", "clv"]
    fmt = {"p_alive": ".2f", "expected_purchases": ".2f", "clv": ",.2f"}
    show(best[cols], f"top {top} by CLV", fmt)


@app.command("kpis")
def kpis_cmd(
    as_of: AsOfOpt = None,
    weeks: Annotated[int, typer.Option(help="Weekly series length (0: none).")] = 0,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The CRM KPIs against their targets (and a weekly series with --weeks)."""
    from scrm_lib.value.kpis import kpis, weekly

    df = kpis(warehouse, as_of=as_of)
    series = weekly(warehouse, as_of=as_of, weeks=weeks) if weeks else None
    if as_json:
        data = {"as_of": df.attrs["as_of"], "kpis": records(df)}
        if series is not None:
            data["weekly"] = records(series)
        emit_json(data)
        return
    shown = df.copy()
    shown["met"] = shown["met"].map({True: "✓", False: "✗", None: ""})
    show(shown[["zh", "en", "value", "target", "met"]], f"KPIs as of {df.attrs['as_of']}",
         {"value": ".3f", "target": ".2f"})  # fmt: skip
    if series is not None:
        wide = series.pivot_table(index="week_end", columns="kpi", values="value").reset_index()
        show(wide, "weekly", dict.fromkeys(wide.columns[1:], ".3f"))


@app.command("lifecycle")
def lifecycle_cmd(
    as_of: AsOfOpt = None,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Lifecycle stages, the repurchase window now, replenishment cycles and who is due."""
    from scrm_lib.value.lifecycle import (
        due_for_replenishment,
        replenishment_cycles,
        repurchase_window,
        stage_summary,
    )

    stages = stage_summary(warehouse, as_of=as_of)
    window = repurchase_window(warehouse, as_of=as_of)
    cycles = replenishment_cycles(warehouse, as_of=as_of)
    due = due_for_replenishment(warehouse, as_of=as_of)
    if as_json:
        emit_json({
            "as_of": stages.attrs["as_of"], "stages": records(stages),
            "repurchase_window": {"days": window.attrs["window"], "persons": len(window)},
            "replenishment_cycles": records(cycles), "due_for_replenishment": len(due),
        })  # fmt: skip
        return
    show(stages, f"lifecycle as of {stages.attrs['as_of']}", {"gmv": ",.0f"})
    lo, hi = window.attrs["window"]
    out.print(f"in the repurchase window (day {lo}-{hi} after a first order): {len(window):,}")
    show(cycles, "replenishment cycles (median days between purchases)")
    out.print(f"due for replenishment now: {len(due):,} person-categories")
