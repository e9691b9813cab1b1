"""Benchmark: churn scoring of 1M persons (features in DuckDB, calibrated trees, reasons).

A synthetic warehouse is generated inside DuckDB (fixed seed): per person
about 3 orders, 4 events, 3 touches and 0.5 messages over two years, with
a buy-till-you-die flavour (a person's activity stops at a random day). A
model is trained once with ``scrm_lib.churn.backtest.train`` on a 20,000
person warehouse made the same way; then a child process scores the big
one with :func:`scrm_lib.churn.scoring.score` (features for everyone,
probabilities, the 30-day rule, reasons for the ``explain_top`` = 5,000
costliest early-warning persons; CLV read from a stand-in ``value_persons`` mart, as
in a built warehouse, since fitting BG/NBD belongs to the value step). Wall time and
peak RSS of that child are measured with ``os.wait4``; stage timings come from the child.

Usage::

    .venv/bin/python bench/churn_score.py --persons 1000000

Results go to ``bench/results/churn_score.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.measure import machine, measure  # noqa: E402

SQL = """
SELECT setseed(0.42);
CREATE TABLE p AS
SELECT i, 'acc:' || i AS account_id,
       TIMESTAMPTZ '2024-11-01 00:00:00+00' + to_seconds(CAST(random() * 500 * 86400 AS BIGINT))
           AS t0,
       CAST(100 + random() * 630 AS INTEGER) AS life_days
FROM range({n}) r(i);
CREATE TABLE accounts AS
SELECT account_id, 'tmall' AS platform, account_id AS native_id, NULL::VARCHAR AS display_name,
       t0 AS first_seen, CASE WHEN random() < 0.3 THEN 'QR1' END AS channel_code,
       'bench' AS source_file
FROM p;
CREATE TABLE orders AS
SELECT 'tmall' AS platform, 'o' || p.i || '_' || k AS order_id, '' AS line_id, p.account_id,
       ts AS created_at, ts AS paid_at, CAST(20 + random() * 400 AS DECIMAL(18, 2)) AS amount,
       CAST(0 AS DECIMAL(18, 2)) AS shipping, CAST(0 AS DECIMAL(18, 2)) AS refund_amount,
       'paid' AS status, NULL AS status_raw, NULL AS items, NULL AS category, 1 AS quantity,
       NULL AS shop, NULL AS channel_code, NULL AS influencer_id, NULL AS traffic_source,
       NULL AS groupbuy_id, 'bench' AS source_file, 0 AS source_line
FROM p, LATERAL (
    SELECT k, p.t0 + to_seconds(CAST(random() * p.life_days * 86400 AS BIGINT)) AS ts
    FROM range(CAST(1 + random() * 5 AS INTEGER)) r(k)
) WHERE ts < TIMESTAMPTZ '2026-10-31 15:00:00+00';
CREATE TABLE events AS
SELECT 'e' || p.i || '_' || k AS event_id, p.account_id, ts,
       (['page_view', 'cart_add', 'share', 'group_join', 'group_leave',
         'wecom_customer_deleted_staff', 'wecom_follow'])[1 + CAST(floor(random() * 7) AS INT)]
           AS type,
       NULL AS attributes, 'bench' AS source_file
FROM p, LATERAL (
    SELECT k, p.t0 + to_seconds(CAST(random() * (p.life_days + 30) * 86400 AS BIGINT)) AS ts
    FROM range(CAST(random() * 8 AS INTEGER)) r(k)
) WHERE ts < TIMESTAMPTZ '2026-10-31 15:00:00+00';
CREATE TABLE touches AS
SELECT 't' || p.i || '_' || k AS touch_id, p.account_id, ts, 'sms' AS channel, 'c' AS campaign,
       random() < 0.2 AS opened, random() < 0.05 AS clicked, 'bench' AS source_file
FROM p, LATERAL (
    SELECT k, TIMESTAMPTZ '2024-11-01 00:00:00+00'
              + to_seconds(CAST(random() * 729 * 86400 AS BIGINT)) AS ts
    FROM range(CAST(random() * 6 AS INTEGER)) r(k)
);
CREATE TABLE messages AS
SELECT 'm' || p.i AS message_id, p.account_id,
       p.t0 + to_seconds(CAST(random() * p.life_days * 86400 AS BIGINT)) AS ts,
       'wecom_private' AS channel, NULL AS room_id,
       CASE WHEN random() < 0.5 THEN 'in' ELSE 'out' END AS direction, NULL AS staff_id,
       NULL AS text, 'bench' AS source_file
FROM p WHERE random() < 0.5;
DROP TABLE p;
"""


def make_warehouse(path: Path, persons: int) -> dict[str, int]:
    """The synthetic warehouse (reused when it exists); row counts per table."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        con = duckdb.connect(str(tmp))
        con.execute(SQL.format(n=persons))
        con.close()
        tmp.rename(path)
    con = duckdb.connect(str(path))
    try:
        # a built warehouse has the value mart (CLV per person) from the value step; the
        # BG/NBD fit behind it is the value step's cost, not scoring's: stand in for it
        con.execute(
            "CREATE TABLE IF NOT EXISTS value_persons AS SELECT account_id AS person_id, "
            "round(random() * 1000, 2) AS clv, round(random() * 2000, 2) AS monetary FROM accounts"
        )
        return {
            t: con.sql(f"select count(*) from {t}").fetchone()[0]
            for t in ("accounts", "orders", "events", "touches", "messages", "value_persons")
        }
    finally:
        con.close()


def phase_score(home: Path, warehouse: Path, out: Path) -> None:
    """Child process: score everything, write stage timings to ``out``."""
    from scrm_lib.churn import scoring
    from scrm_lib.churn.config import churn_config
    from scrm_lib.churn.features import compute_features
    from scrm_lib.churn.model import load_model
    from scrm_lib.config import load_settings
    from scrm_lib.engine import open_warehouse
    from scrm_lib.value._base import as_of_cut, default_as_of

    settings = load_settings(home)
    cfg = churn_config(settings)
    model, card = load_model(settings=settings)
    con = open_warehouse(warehouse)
    t = {}
    start = time.perf_counter()
    cut = as_of_cut(default_as_of(con, settings.timezone), settings.timezone)
    feats = compute_features(con, cut, settings=settings, cfg=cfg)
    t["features_s"] = round(time.perf_counter() - start, 2)
    value = scoring._value(con, cut.date, settings)
    t["clv_s"] = round(time.perf_counter() - start - t["features_s"], 2)
    s1 = time.perf_counter()
    plain = scoring.score_frame(model, feats, value, cfg=cfg, reasons=False)
    t["predict_s"] = round(time.perf_counter() - s1, 2)
    s2 = time.perf_counter()
    full = scoring.score_frame(model, feats, value, cfg=cfg, reasons=True)
    t["predict_and_reasons_s"] = round(time.perf_counter() - s2, 2)
    t["total_s"] = round(time.perf_counter() - start, 2)
    t["persons_scored"] = len(plain)
    t["early_warning"] = int(full["early_warning"].sum())
    t["explained"] = int(full["reasons"].notna().sum())
    t["model_version"] = card["version"]
    out.write_text(json.dumps(t))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--train-persons", type=int, default=20_000)
    ap.add_argument("--phase", default="all", choices=["all", "score"])
    ap.add_argument("--home", type=Path)
    ap.add_argument("--warehouse", type=Path)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    if args.phase == "score":
        phase_score(args.home, args.warehouse, args.out)
        return

    work = HERE / "work" / "churn"
    big = work / f"persons_{args.persons}.duckdb"
    small = work / f"persons_{args.train_persons}.duckdb"
    t0 = time.perf_counter()
    rows = make_warehouse(big, args.persons)
    make_warehouse(small, args.train_persons)
    gen_s = round(time.perf_counter() - t0, 1)

    home = work / "home"
    from scrm_lib.churn.backtest import train
    from scrm_lib.config import load_settings

    t1 = time.perf_counter()
    card = train(small, settings=load_settings(home))
    train_s = round(time.perf_counter() - t1, 1)

    stages = work / "stages.json"
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--phase", "score", "--home", str(home),
           "--warehouse", str(big), "--out", str(stages)]  # fmt: skip
    m = measure(cmd, cwd=str(HERE.parent), env=env)
    result = {
        "benchmark": "churn_score",
        "persons": args.persons,
        "rows": rows,
        "machine": machine(),
        "generate_s": gen_s,
        "train": {
            "persons": args.train_persons,
            "seconds": train_s,
            "model_roc_auc": card["backtest"]["metrics"]["model"]["roc_auc"],
        },
        "score": {"wall_s": m.seconds, "peak_rss_mib": m.peak_rss_mib}
        | json.loads(stages.read_text()),
    }
    out = HERE / "results" / "churn_score.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
