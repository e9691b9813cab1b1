"""Benchmark: generate, ingest and build at several sizes, against a naive pandas load.

Usage: ``uv run python bench/run.py [--persons 100000 1000000]``

Each step runs as its own process (the way a user runs it), measured for
wall time and peak memory. Results go to ``bench/results/pipeline_<N>.json``
and the table between the bench markers in README.md.

Then the channels benchmark (``bench/channels.py``: attribution, channel
value and funnel vs plain SQL and pandas) at ``--channels-persons``; results
in ``bench/results/channels_<N>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

from measure import measure

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "work"
RESULTS = ROOT / "bench" / "results"
PY = sys.executable


def run_size(persons: int) -> dict:
    home = WORK / str(persons)
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    env = {**os.environ, "SCRM_HOME": str(home), "CI": "true"}
    env.pop("SCRM_WAREHOUSE", None)
    scrm = [PY, "-m", "scrm_lib.cli"]
    steps = {}
    failures: dict[str, str] = {}
    with (home / "bench.log").open("w") as log:
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
    result = {
        "persons": persons,
        "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
        "export_mib": round(export_bytes / 2**20, 1),
        "rows": status.get("tables", {}),
        "steps": {k: vars(v) for k, v in steps.items()},
        "ingest_plus_build_seconds": round(scrm_seconds, 1),
        "ratio_to_peer": round(scrm_seconds / steps["peer_pandas_load"].seconds, 2),
        "peak_rss_mib": max(v.peak_rss_mib for k, v in steps.items() if k in ("ingest", "build")),
        "failures": failures,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"pipeline_{persons}.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def table(results: list[dict]) -> str:
    lines = [
        "| persons | exports | generate | ingest | build (tables) | ingest + build | peak memory "
        "| naive pandas load (peer) | ratio to peer | build with identity + marts |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        s = r["steps"]
        full = s.get("build_with_steps")
        full_text = (
            f"{full['seconds']:.0f} s, {full['peak_rss_mib'] / 1024:.1f} GiB"
            if full
            else (r.get("failures") or {}).get("build_with_steps", "not measured")
        )
        lines.append(
            f"| {r['persons']:,} | {r['export_mib']:,} MiB | {s['generate']['seconds']:.0f} s "
            f"| {s['ingest']['seconds']:.0f} s | {s['build']['seconds']:.0f} s "
            f"| {r['ingest_plus_build_seconds']:.0f} s | {r['peak_rss_mib'] / 1024:.1f} GiB "
            f"| {s['peer_pandas_load']['seconds']:.0f} s | {r['ratio_to_peer']}× | {full_text} |"
        )
    return "\n".join(lines)


def update_readme(results: list[dict]) -> None:
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    start, end = "<!-- bench:start -->", "<!-- bench:end -->"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        readme.write_text(f"{head}{start}\n{table(results)}\n{end}{tail}", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--channels-persons", type=int, nargs="*", default=[1_000_000])
    args = parser.parse_args()
    for n in args.persons:
        print(json.dumps(run_size(n), indent=2))
    known = sorted(RESULTS.glob("pipeline_*.json"), key=lambda p: int(p.stem.split("_")[1]))
    update_readme([json.loads(p.read_text()) for p in known])
    if args.channels_persons:
        channels = [str(n) for n in args.channels_persons]
        subprocess.run(
            [PY, str(ROOT / "bench" / "channels.py"), "--persons", *channels], check=True
        )


if __name__ == "__main__":
    main()
