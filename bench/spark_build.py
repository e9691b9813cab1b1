"""Benchmark: one sample built on DuckDB and on Spark, step by step, in one run.

Usage::

    .venv/bin/python bench/spark_build.py --exports bench/work/100000/sample/exports

The same exports are built (``scrm build`` as a user runs it, each in a fresh
home) on three targets: DuckDB; Spark ``local[2]``; and a Spark standalone
cluster started on this machine from the classes the pyspark package ships (a
master and two workers of one core each, the test suite's cluster). For each:
wall time, the build's timings (parse, stage, transform, each step) from its
log, and the peak memory of everything the build ran — its process tree, and
on the cluster the workers' executors too — sampled every half second.

Results go to ``bench/results/spark_build_<persons>.json``; ``bench/table.py``
renders them with the per-step throughput and a projection for a cluster of N
executors (the Spark parts divided among them, the driver's parts as they are).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from measure import machine

from scrm_lib.engine.spark import driver_memory

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "work"
RESULTS = ROOT / "bench" / "results"
PY = sys.executable
TARGETS = ("duckdb", "local", "cluster")


class PeakMemory:
    """Highest summed RSS of some process trees, sampled in a thread until stopped."""

    def __init__(self, roots: list[int], every: float = 0.5) -> None:
        self.roots, self.every, self.peak = roots, every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _total(self) -> int:
        import psutil

        seen, total = set(), 0
        for root in self.roots:
            try:
                procs = [psutil.Process(root), *psutil.Process(root).children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
            for p in procs:
                if p.pid in seen:
                    continue
                seen.add(p.pid)
                with contextlib.suppress(psutil.NoSuchProcess):
                    total += p.memory_info().rss
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._total())
            self._stop.wait(self.every)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join()


def build_on(target: str, exports: Path, home: Path, master: str | None,
             watch: list[int]) -> dict[str, Any]:  # fmt: skip
    """Build ``exports`` in a fresh ``home`` on ``target``; its time, memory and log."""
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    env = {**os.environ, "SCRM_HOME": str(home), "CI": "true"}
    for name in ("SCRM_WAREHOUSE", "SCRM_ENGINE", "SCRM_SPARK_MASTER"):
        env.pop(name, None)
    warehouse = home / ("scrm.duckdb" if target == "duckdb" else "lake")
    cmd = [PY, "-m", "scrm_lib.cli", "build", "--raw", str(exports), "--warehouse", str(warehouse)]
    if master is not None:
        cmd += ["--engine", "spark", "--master", master]
    start = time.perf_counter()
    with (home / "build.log").open("w") as log:
        proc = subprocess.Popen(cmd, cwd=home, env=env, stdout=log, stderr=log)
        with PeakMemory([proc.pid, *watch]) as peak:
            code = proc.wait()
    seconds = round(time.perf_counter() - start, 2)
    if code != 0:
        raise RuntimeError(f"{target}: scrm build exited {code}; see {home / 'build.log'}")
    out = subprocess.run(
        [PY, "-m", "scrm_lib.cli", "status", "--json", "--warehouse", str(warehouse)],
        cwd=home, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    status = json.loads(out.stdout)
    timings = (status.get("last_build") or {}).get("timings") or {}
    if isinstance(timings, str):
        timings = json.loads(timings)
    return {
        "master": master,
        "seconds": seconds,
        "peak_rss_mib": round(peak.peak / 2**20, 1),
        "timings": timings,
        "steps": {s["step"]: s["seconds"] for s in status.get("steps") or []},
        "runs": status.get("runs"),
        "tables": status.get("tables"),
    }


def run(exports: Path, persons: int, targets: list[str], merge: bool = False) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from tests.spark_cluster import StandaloneCluster

    work = WORK / f"spark_build_{persons}"
    result: dict[str, Any] = {
        "persons": persons,
        "exports": str(exports),
        "export_mib": round(sum(f.stat().st_size for f in exports.iterdir()) / 2**20, 1),
        "machine": machine(load_average_at_start=os.getloadavg()[0]),
        "targets": {},
    }
    path = RESULTS / f"spark_build_{persons}.json"
    if merge and path.exists():
        # targets measured in an earlier run stay, each with the machine it ran on: a
        # 1M-person build per target takes an hour or more on two cores
        earlier = json.loads(path.read_text())
        if earlier.get("exports") == result["exports"]:
            for name, out in earlier.get("targets", {}).items():
                if name not in targets:
                    result["targets"][name] = {"machine": earlier["machine"], **out}
    for target in targets:
        if target == "cluster":
            cluster = StandaloneCluster(work / "cluster", workers=2, cores=1, memory="3g")
            cluster.start()
            try:
                out = build_on(target, exports, work / target, cluster.master_url,
                               cluster.daemon_pids)  # fmt: skip
                out["cluster"] = {"workers": 2, "cores_each": 1, "memory_each": "3g",
                                  "startup_seconds": round(cluster.startup_seconds, 2)}  # fmt: skip
            finally:
                cluster.stop()
        else:
            master = None if target == "duckdb" else "local[2]"
            out = build_on(target, exports, work / target, master, [])
        out["driver_memory"] = driver_memory()
        result["targets"][target] = out
        print(target, out["seconds"], "s", out["peak_rss_mib"], "MiB", flush=True)
    rows = {t: r["tables"] for t, r in result["targets"].items()}
    first = next(iter(rows.values()), None)
    # the same rows in every table on every target, or the comparison means nothing
    result["same_row_counts"] = all(r == first for r in rows.values())
    result["machine"]["load_average_at_end"] = os.getloadavg()[0]
    RESULTS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exports", type=Path, required=True)
    parser.add_argument(
        "--persons",
        type=int,
        required=True,
        help="persons the exports were generated for (names the results)",
    )
    parser.add_argument("--targets", nargs="+", choices=TARGETS, default=list(TARGETS))
    parser.add_argument(
        "--merge", action="store_true",
        help="keep the other targets of an earlier run on the same exports in the results",
    )  # fmt: skip
    args = parser.parse_args()
    run(args.exports.resolve(), args.persons, args.targets, merge=args.merge)


if __name__ == "__main__":
    main()
