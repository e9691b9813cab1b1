"""Benchmark: ``scrm triggers run`` on a built sample (the 1,000,000-person one).

A project home built from the generator's sample (``scrm generate --persons
1000000``, ``scrm ingest``, ``scrm build``) is given with ``--home``. The run date
defaults to the day after the latest order, as the build step's audiences use.
``scrm triggers run --date D --json`` runs as a child process, measured for wall
time and peak memory (:func:`measure.measure`); it keeps its outbox in the home's
state folder as any run does. Its counts (rows in, planned, suppressed by reason)
go beside the numbers.

Target: within 60 s and 4 GiB on 2 cores.

Usage::

    .venv/bin/python bench/triggers.py --home bench/work/sample1m

Results go to ``bench/results/triggers_<persons>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import machine, measure

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
TARGET = {"seconds": 60, "peak_rss_mib": 4096}


def _facts(home: Path) -> tuple[int, str]:
    """Persons in the home's warehouse and its next run date."""
    from scrm_lib.config import load_settings
    from scrm_lib.engine import open_warehouse
    from scrm_lib.social.automation.step import next_run_date

    settings = load_settings(home)
    con = open_warehouse(settings.warehouse)
    try:
        persons = int(con.table("persons").count().execute())
        day = next_run_date(con, settings.timezone)
    finally:
        con.disconnect()
    if day is None:
        raise SystemExit(f"{settings.warehouse}: no orders, so no run date: pass --date")
    return persons, day.isoformat()


def run(home: Path, date: str | None, out: Path) -> dict[str, Any]:
    persons, default_day = _facts(home)
    day = date or default_day
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "run.json"
        env = {**os.environ, "SCRM_HOME": str(home), "CI": "true"}
        cmd = [sys.executable, "-m", "scrm_lib.cli", "triggers", "run", "--date", day, "--json"]
        with report.open("w") as log:
            m = measure(cmd, cwd=str(home), env=env, log=log)
        text = report.read_text()
        counts = json.loads(text[text.index("{") :])
    result = {
        "persons": persons,
        "run_date": day,
        "machine": machine(),
        "target": TARGET,
        "seconds": m.seconds,
        "peak_rss_mib": m.peak_rss_mib,
        "counts": {
            k: counts.get(k)
            for k in ("rows_in", "planned", "to_send", "holdout", "suppressed", "by_reason")
        },
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / f"triggers_{persons}.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True, help="a built project home")
    parser.add_argument("--date", help="run date (YYYY-MM-DD); default: after the latest order")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    print(json.dumps(run(args.home.resolve(), args.date, args.out), indent=2))


if __name__ == "__main__":
    main()
