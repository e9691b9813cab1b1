"""Benchmark: the full build (canonical tables + identity, value, churn steps) of a big sample.

Usage: ``python bench/identity_stitch.py --home /tmp/id1m [--persons 1000000] [--truth DIR]``

``--home`` is an SCRM_HOME whose ``data/raw`` (and parse cache) is ready, e.g.
a generated 1M-person sample after ``scrm ingest``. Runs ``scrm build`` (every
step) as a child process, samples its resident memory (and stops it above
``--kill-gib``, so a regression cannot take the machine down), and writes wall
time, peak RSS and the build's own per-step timings (``builds.timings``) to
``bench/results/identity_stitch_<N>.json`` (``_1m`` for a million).
The acceptance target of the OneID issue: peak RSS under 8 GiB on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import psutil
from measure import machine

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def run_build(home: Path, kill_gib: float) -> dict:
    env = {**os.environ, "SCRM_HOME": str(home), "SCRM_LOG_LEVEL": "INFO", "CI": "true"}
    env.pop("SCRM_WAREHOUSE", None)
    log = (home / "identity_stitch_bench.log").open("w")
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "scrm_lib.cli", "build"], cwd=home, env=env, stdout=log, stderr=log
    )
    sampled = {"peak": 0, "killed": False}

    def watch() -> None:
        p = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                rss = p.memory_info().rss
            except psutil.NoSuchProcess:
                return
            sampled["peak"] = max(sampled["peak"], rss)
            if rss > kill_gib * 2**30:
                sampled["killed"] = True
                proc.kill()
                return
            time.sleep(0.25)

    threading.Thread(target=watch, daemon=True).start()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    return {
        "seconds": round(seconds, 1),
        "peak_rss_gib": round(usage.ru_maxrss / 2**20, 2),  # ru_maxrss is KiB on Linux
        "sampled_peak_rss_gib": round(sampled["peak"] / 2**30, 2),
        "returncode": code,
        "killed_by_watchdog": sampled["killed"],
    }


def build_facts(home: Path) -> dict:
    db = duckdb.connect(str(home / "data" / "warehouse" / "scrm.duckdb"), read_only=True)
    try:
        timings = json.loads(
            db.execute("SELECT timings FROM builds ORDER BY started_at DESC LIMIT 1").fetchone()[0]
        )
        rows = {
            t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("accounts", "person_accounts", "persons", "identity_edges", "value_persons")
        }
    finally:
        db.close()
    return {"timings": timings, "rows": rows}


def accuracy(home: Path, truth: Path) -> dict:
    """Pairwise and B-cubed scores plus the recall ceiling, rounded (after the timed build)."""
    from scrm_lib.engine import duckdb_connect
    from scrm_lib.identity.evaluate import evaluate

    con = duckdb_connect(home / "data" / "warehouse" / "scrm.duckdb", read_only=True)
    try:
        scores = evaluate(con, truth)
    finally:
        con.disconnect()
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in scores.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--kill-gib", type=float, default=12.0)
    ap.add_argument("--truth", type=Path, help="ground-truth folder: also score the persons")
    args = ap.parse_args()
    measured = run_build(args.home.resolve(), args.kill_gib)
    out = {
        "persons": args.persons,
        "machine": machine(),
        "build": measured,
        "target_peak_rss_gib": 8.0,
        "within_target": measured["returncode"] == 0 and measured["peak_rss_gib"] < 8.0,
    }
    if measured["returncode"] == 0:
        out.update(build_facts(args.home.resolve()))
        if args.truth:
            out["accuracy_vs_truth"] = accuracy(args.home.resolve(), args.truth)
    name = "1m" if args.persons == 1_000_000 else str(args.persons)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"identity_stitch_{name}.json").write_text(json.dumps(out, indent=2) + "\n")
    json.dump(out, sys.stdout, indent=2)


if __name__ == "__main__":
    main()
