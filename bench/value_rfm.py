"""Benchmark: the RFM summary per person vs a pandas groupby and lifetimes; segment preview.

Orders are generated inside DuckDB (a fixed seed; ~N/4 persons with a
skewed number of orders each, 2% refunded), written to a warehouse file, then:

- scrm: ``rfm_summary_expr`` (recency, frequency, net monetary per person) executed by
  DuckDB through ibis, result to pandas;
- pandas: the same summary with ``groupby`` on the orders already in memory;
- lifetimes 0.11.3: ``summary_data_from_transaction_data`` on the same frame
  (bench dependency group only; skipped above ``--lifetimes-max`` rows);
- segment preview: :func:`scrm_lib.segments.definitions.preview` on a 1M-person ``value_persons``
  mart (median of 5 runs; target ≤ 300 ms).

Usage::

    .venv/bin/python bench/value_rfm.py --rows 1000000 10000000

Results go to ``bench/results/value_rfm.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from scrm_lib.config import load_settings
from scrm_lib.engine import open_warehouse
from scrm_lib.value._base import as_of_cut, person_orders, value_config
from scrm_lib.value.rfm import rfm_summary_expr

AS_OF = "2026-10-31"


def make_warehouse(path: Path, rows: int) -> None:
    persons = max(rows // 4, 1)
    con = duckdb.connect(str(path))
    con.execute("SET TimeZone = 'UTC'; SELECT setseed(0.42)")
    con.execute(f"""
        CREATE TABLE orders AS
        SELECT 'tmall' AS platform, 'o' || i AS order_id, '' AS line_id,
               't:' || CAST(floor(pow(random(), 2) * {persons}) AS BIGINT) AS account_id,
               TIMESTAMPTZ '2024-11-01 00:00:00+00'
                 + to_seconds(CAST(random() * 729 * 86400 AS BIGINT)) AS created_at,
               CAST(round(10 + random() * 490, 2) AS DECIMAL(18, 2)) AS amount,
               i % 50 = 0 AS refunded
        FROM range({rows}) t(i)
    """)
    con.execute("""
        CREATE TABLE o2 AS SELECT platform, order_id, line_id, account_id, created_at,
            created_at AS paid_at, amount,
            CASE WHEN refunded THEN amount ELSE 0 END::DECIMAL(18, 2) AS refund_amount,
            CASE WHEN refunded THEN 'refunded' ELSE 'paid' END AS status
        FROM orders;
        DROP TABLE orders; ALTER TABLE o2 RENAME TO orders;
        CREATE TABLE accounts AS SELECT DISTINCT account_id, 'tmall' AS platform FROM orders;
    """)
    con.close()


def timed(fn, repeat: int = 1) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def run_rows(rows: int, workdir: Path, lifetimes_max: int) -> dict:
    path = workdir / f"orders_{rows}.duckdb"
    make_warehouse(path, rows)
    settings = load_settings(workdir)
    cfg = value_config(settings)
    cut = as_of_cut(AS_OF, settings.timezone)
    con = open_warehouse(path)

    def ours() -> pd.DataFrame:
        return con.execute(rfm_summary_expr(person_orders(con, cfg=cfg), cut))

    t_ours, summary = timed(ours)
    raw = duckdb.connect(str(path), read_only=True)
    frame = raw.execute(
        "SELECT account_id, epoch(paid_at) AS ts, (amount - refund_amount)::DOUBLE AS net, "
        "paid_at FROM orders"
    ).df()
    raw.close()

    def pandas_groupby() -> pd.DataFrame:
        f = frame
        bought = f[f["net"] > 0]
        g = bought.groupby("account_id").agg(last=("ts", "max"), frequency=("ts", "size"))
        g["monetary"] = f.groupby("account_id")["net"].sum()
        g["recency_days"] = (cut.cutoff_epoch - g["last"]) // 86400
        return g

    t_pandas, pdf = timed(pandas_groupby)
    assert len(pdf) <= len(summary)
    result = {"rows": rows, "persons": len(summary), "scrm_s": round(t_ours, 3),
              "pandas_s": round(t_pandas, 3)}  # fmt: skip
    if rows <= lifetimes_max:
        try:
            from lifetimes.utils import summary_data_from_transaction_data

            lt = frame[frame["net"] > 0].assign(date=lambda d: d["paid_at"].dt.tz_localize(None))

            def lifetimes_summary() -> pd.DataFrame:
                return summary_data_from_transaction_data(
                    lt, "account_id", "date", monetary_value_col="net",
                    observation_period_end=pd.Timestamp(AS_OF),
                )  # fmt: skip

            t_lt, _ = timed(lifetimes_summary)
            result["lifetimes_s"] = round(t_lt, 3)
        except ImportError:
            result["lifetimes_s"] = None
    con.disconnect()
    path.unlink()
    return result


def preview_bench(workdir: Path, persons: int = 1_000_000) -> dict:
    from scrm_lib.segments.definitions import preview
    from scrm_lib.value.persons import MART, typed

    rng = np.random.default_rng(7)
    codes = ["champions", "important_keep", "important_develop", "lost", "general_keep"]
    df = typed(pd.DataFrame({
        "person_id": [f"p{i}" for i in range(persons)],
        "platform": rng.choice(["tmall", "douyin", "wechat", "youzan"], persons),
        "rfm_segment": rng.choice(codes, persons),
        "layer": rng.choice(["loyal", "one_time", "other"], persons),
        "stage": rng.choice(["new", "growing", "mature", "dormant", "lost"], persons),
        "frequency": rng.integers(0, 20, persons), "actions": rng.integers(0, 30, persons),
        "monetary": rng.gamma(2, 150, persons), "p_alive": rng.random(persons),
        "clv": rng.gamma(2, 100, persons),
    }))  # fmt: skip
    path = workdir / "persons.duckdb"
    con = duckdb.connect(str(path))
    con.register("persons_frame", df)
    con.execute(f"CREATE TABLE {MART} AS SELECT * FROM persons_frame")
    con.close()
    filters = [
        {"column": "rfm_segment", "op": "in", "value": ["champions", "important_keep"]},
        {"column": "p_alive", "op": ">=", "value": 0.5},
        {"column": "clv", "op": ">", "value": 100},
    ]
    wh = open_warehouse(path)
    preview(wh, filters)  # warm-up: first query compiles and loads pages
    t, res = timed(lambda: preview(wh, filters), repeat=5)
    t_cold, _ = timed(lambda: preview(path, filters), repeat=3)  # opens the file each time
    wh.disconnect()
    return {"persons": persons, "matched": res["persons"], "median_ms": round(t * 1000, 1),
            "median_ms_with_open": round(t_cold * 1000, 1), "target_ms": 300}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--lifetimes-max", type=int, default=10_000_000)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    results = {"as_of": AS_OF, "rfm": [], "preview": None}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for rows in args.rows:
            r = run_rows(rows, work, args.lifetimes_max)
            for peer in ("pandas", "lifetimes"):
                if r.get(f"{peer}_s"):
                    r[f"{peer}_ratio"] = round(r[f"{peer}_s"] / r["scrm_s"], 2)
            print(json.dumps(r))
            results["rfm"].append(r)
        results["preview"] = preview_bench(work)
        print(json.dumps(results["preview"]))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "value_rfm.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
