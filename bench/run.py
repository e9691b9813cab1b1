"""Benchmark: generate, ingest and build at several sizes, against a naive pandas load.

Usage: ``uv run python bench/run.py [--persons 100000 1000000]``

Each step runs as its own process (the way a user runs it), measured for
wall time and peak memory. Results go to ``bench/results/pipeline_<N>.json``;
``bench/table.py`` (``make bench`` runs it last) writes README's tables from them.

Then the channels benchmark (``bench/channels.py``: attribution, channel
value and funnel vs plain SQL and pandas) at ``--channels-persons``; results
in ``bench/results/channels_<N>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from measure import machine, measure

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "work"
RESULTS = ROOT / "bench" / "results"
PY = sys.executable


def run_size(persons: int, exports: Path | None = None) -> dict:
    load_at_start = os.getloadavg()[0]
    home = WORK / str(persons)
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    if exports is not None:
        # the same seeded exports, generated before: the generator is not what is measured
        (home / "sample").mkdir()
        (home / "sample" / "exports").symlink_to(exports.resolve())
    env = {**os.environ, "SCRM_HOME": str(home), "CI": "true"}
    env.pop("SCRM_WAREHOUSE", None)
    scrm = [PY, "-m", "scrm_lib.cli"]
    steps = {}
    failures: dict[str, str] = {}
    with (home / "bench.log").open("w") as log:
        if exports is None:
            steps["generate"] = measure(
                [*scrm, "generate", "--persons", str(persons), "--seed", "1", "--out", "sample"],
                cwd=str(home),
                env=env,
                log=log,
            )
        steps["ingest"] = measure(
            [*scrm, "ingest", "sample/exports"], cwd=str(home), env=env, log=log
        )
        # the data-foundation target: canonical tables, then the whole build with its steps
        steps["build"] = measure(
            [*scrm, "build", "--steps", "none"], cwd=str(home), env=env, log=log
        )
        try:
            steps["build_with_steps"] = measure([*scrm, "build"], cwd=str(home), env=env, log=log)
        except RuntimeError as exc:  # recorded, not fatal: the table build is the target here
            failures["build_with_steps"] = str(exc)
        steps["peer_pandas_load"] = measure(
            [PY, str(ROOT / "bench" / "peer_pandas_load.py"), "sample/exports", "peer.duckdb"],
            cwd=str(home),
            env=env,
            log=log,
        )
    status = json.loads(
        subprocess.run(
            [*scrm, "status", "--json"],
            cwd=home,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    export_bytes = sum(f.stat().st_size for f in (home / "sample/exports").glob("*"))
    scrm_seconds = steps["ingest"].seconds + steps["build"].seconds
    peer = steps["peer_pandas_load"].seconds
    whole = steps.get("build_with_steps")
    result = {
        "persons": persons,
        # other jobs on the machine slow every step: the load is part of the result
        "machine": machine(
            load_average_at_start=load_at_start, load_average_at_end=os.getloadavg()[0]
        ),
        "export_mib": round(export_bytes / 2**20, 1),
        "rows": status.get("tables", {}),
        "steps": {k: vars(v) for k, v in steps.items()},
        "ingest_plus_build_seconds": round(scrm_seconds, 1),
        "ratio_to_peer": round(scrm_seconds / peer, 2),
        # the acceptance figure: exports to a published warehouse with every build step
        "ingest_plus_build_with_steps_seconds": (
            round(steps["ingest"].seconds + whole.seconds, 1) if whole else None
        ),
        "ratio_with_steps_to_peer": (
            round((steps["ingest"].seconds + whole.seconds) / peer, 2) if whole else None
        ),
        # seconds per step of the last build (its log): where the build goes
        "build_step_seconds": {
            st["step"]: st["seconds"] for st in status.get("steps") or [] if "step" in st
        },
        "peak_rss_mib": max(v.peak_rss_mib for k, v in steps.items() if k in ("ingest", "build")),
        "failures": failures,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"pipeline_{persons}.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--channels-persons", type=int, nargs="*", default=[1_000_000])
    parser.add_argument(
        "--exports",
        type=Path,
        help="reuse these exports (generated before with --seed 1) instead of generating",
    )
    args = parser.parse_args()
    for n in args.persons:
        print(json.dumps(run_size(n, args.exports), indent=2))
    if args.channels_persons:
        channels = [str(n) for n in args.channels_persons]
        subprocess.run(
            [PY, str(ROOT / "bench" / "channels.py"), "--persons", *channels], check=True
        )


if __name__ == "__main__":
    main()
