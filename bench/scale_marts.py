"""Benchmark: how the value marts grow with the order table, 100k → 1M → 10M orders, with a fit.

For each size a warehouse with every canonical table (schemas from
:data:`scrm_lib.schema.TABLES`) holds a synthetic order table made inside
DuckDB (the generator of ``bench/value_rfm.py``: ~N/4 buyers, a skewed number
of orders each, 2% refunded) and its accounts; the other tables are empty.
Each size runs in its own process (peak memory is that process's own),
timing:

- ``rfm_summary``: :func:`scrm_lib.value.rfm.rfm_summary_expr` to pandas;
- ``value_persons``: the value build step's whole mart
  (:func:`scrm_lib.value.persons.person_value_frame`: RFM, layers, lifecycle
  stage, platform, channel, and the BG/NBD + Gamma-Gamma fit on the engine's
  sufficient statistics);
- ``duckdb_floor``: the plain DuckDB group-by of ``bench/value_rfm.py`` on the
  same file, for scale.

The fit: ``seconds ≈ a · rows^b`` (least squares on the logs), so ``b`` near 1
is linear growth; the same for peak memory (MiB), and the projection to 100M
orders that the fit implies. Results go to ``bench/results/scale_marts.json``.

Usage::

    .venv/bin/python bench/scale_marts.py                      # 100k, 1M, 10M
    .venv/bin/python bench/scale_marts.py --rows 100000 1000000
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import Clock, machine, measure, run_part

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "work"
RESULTS = ROOT / "bench" / "results"
AS_OF = "2026-10-31"
PROJECT_TO = 100_000_000


def make_warehouse(path: Path, rows: int) -> None:
    """Every canonical table, empty but ``orders`` (``rows`` synthetic rows) and ``accounts``."""
    import duckdb
    from value_rfm import make_warehouse as synthetic_orders

    from scrm_lib.engine import duckdb_connect
    from scrm_lib.schema import TABLES

    raw = path.with_name(path.stem + ".raw.duckdb")
    synthetic_orders(raw, rows)
    con = duckdb_connect(path)
    for name, schema in TABLES.items():
        con.create_table(name, schema=schema, overwrite=True)
    con.disconnect()
    db = duckdb.connect(str(path))
    db.execute(f"ATTACH '{raw}' AS raw (READ_ONLY)")
    db.execute("""
        INSERT INTO orders (platform, order_id, line_id, account_id, created_at, paid_at,
                            amount, refund_amount, status, source_file, source_line)
        SELECT platform, order_id, line_id, account_id, created_at, paid_at, amount,
               refund_amount, status, 'synthetic', 0 FROM raw.orders;
        INSERT INTO accounts (account_id, platform, native_id, first_seen, source_file)
        SELECT a.account_id, a.platform, a.account_id, min(o.created_at), 'synthetic'
        FROM raw.accounts a JOIN raw.orders o USING (account_id) GROUP BY ALL;
    """)
    db.execute("DETACH raw")
    db.close()
    raw.unlink()


def part(path: Path, report: Path) -> None:
    """One size, in this process (``--part``)."""
    from value_rfm import floor_sql

    from scrm_lib.config import load_settings
    from scrm_lib.engine import open_warehouse
    from scrm_lib.value._base import as_of_cut, person_orders, value_config
    from scrm_lib.value.persons import person_value_frame
    from scrm_lib.value.rfm import rfm_summary_expr

    def work(clock: Clock) -> dict[str, Any]:
        settings = load_settings(path.parent)
        cfg = value_config(settings)
        con = open_warehouse(path)
        cut = as_of_cut(AS_OF, settings.timezone)
        floor = clock("duckdb_floor", lambda: con.con.sql(floor_sql(cut.cutoff_epoch)).df())
        summary = clock(
            "rfm_summary", lambda: con.execute(rfm_summary_expr(person_orders(con, cfg=cfg), cut))
        )
        df, meta = clock(
            "value_persons", lambda: person_value_frame(con, as_of=AS_OF, settings=settings)
        )
        return {
            "persons": len(summary),
            "floor_rows": len(floor),
            "value_persons_rows": len(df),
            "clv_fitted": "clv_error" not in meta,
        }

    run_part(work, report)


def fit(xs: list[float], ys: list[float]) -> dict[str, float] | None:
    """``y ≈ a · x^b`` by least squares on the logs; None with fewer than two points."""
    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys, strict=True) if x > 0 and y > 0]
    if len(pts) < 2:
        return None
    n = len(pts)
    mx, my = sum(p[0] for p in pts) / n, sum(p[1] for p in pts) / n
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    b = sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx
    a = math.exp(my - b * mx)
    return {"a": a, "b": round(b, 3), "at_100m": round(a * PROJECT_TO**b, 1)}


def run(rows: list[int], results: Path = RESULTS, work: Path = WORK) -> dict[str, Any]:
    started = machine(shared_with_other_jobs=True)
    sizes = []
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="scale_marts_", dir=work) as td:
        tmp = Path(td)
        for n in rows:
            path = tmp / f"orders_{n}" / "scrm.duckdb"
            path.parent.mkdir()
            make_warehouse(path, n)
            report = tmp / f"report_{n}.json"
            m = measure(
                [sys.executable, str(Path(__file__).resolve()), "--part", str(path), str(report)],
                cwd=str(ROOT),
            )
            inside = json.loads(report.read_text())
            sizes.append({"orders": n, "peak_rss_mib": m.peak_rss_mib, **inside})
            print(json.dumps(sizes[-1]), flush=True)
            path.unlink()
    started["load_average_at_end"] = round(os.getloadavg()[0], 2)
    xs = [s["orders"] for s in sizes]
    growth = {
        step: fit(xs, [s["seconds"][step] for s in sizes])
        for step in ("rfm_summary", "value_persons", "duckdb_floor")
    }
    growth["peak_rss_mib"] = fit(xs, [s["peak_rss_mib"] for s in sizes])
    # the fit over the whole range hides a fixed cost that dominates the small sizes:
    # the exponent between neighbouring sizes shows where growth becomes linear
    growth["between_sizes"] = [
        {
            "from": a["orders"], "to": b["orders"],
            **{step: round(math.log(b["seconds"][step] / a["seconds"][step])
                           / math.log(b["orders"] / a["orders"]), 3)
               for step in ("rfm_summary", "value_persons", "duckdb_floor")},
        }
        for a, b in itertools.pairwise(sizes)
    ]  # fmt: skip
    result = {
        "what": "value marts on a synthetic order table (bench/value_rfm.py's generator) in a "
        "warehouse with every canonical table; one process per size",
        "as_of": AS_OF,
        "machine": started,
        "sizes": sizes,
        "growth": growth,
        "projected_to_orders": PROJECT_TO,
    }
    results.mkdir(parents=True, exist_ok=True)
    (results / "scale_marts.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000])
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--part", nargs=2, metavar=("WAREHOUSE", "REPORT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.part:
        part(Path(args.part[0]), Path(args.part[1]))
        return
    out = run(args.rows, args.results, args.work)
    print(json.dumps(out["growth"], indent=2))


if __name__ == "__main__":
    main()
