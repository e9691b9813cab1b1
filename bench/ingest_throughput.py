"""Benchmark: ingest throughput in MB/s per format, beside DuckDB's raw readers (the floor).

Usage::

    .venv/bin/python bench/ingest_throughput.py                       # 100,000 persons
    .venv/bin/python bench/ingest_throughput.py --persons 1000000 \\
        --exports bench/work/sample1m/sample/exports                  # reuse existing exports

The sample's exports (``scrm generate --persons N --seed 1``, or ``--exports``)
are grouped by kind (CSV, JSON lines, XLSX) and encoding, as a user ingests
a folder in one command (``--by preset`` splits each kind by preset too; the
preset, header row and encoding come from scrm's own detection). For each
group, in the same run, each as its own process measured by
``bench/measure.py`` (wall time, peak memory, Python start-up included for
all of them; per preset, a 2 MB group pays scrm's start-up of about a second
as often as there are presets, so the fixed start-up of each tool is measured
apart too, ``startup_seconds``):

- **scrm**: ``scrm ingest --dry-run --json FILES`` in a fresh project home,
  so the parse cache is cold: detection, decoding, normalization, rejects,
  writing the parse cache, with the workers a user gets (one per core);
- **the floor**: DuckDB's own reader into a table, every column as text:
  ``read_csv(f, all_varchar=true, header=true, skip=<header row>, delim=…)``
  and ``read_json(f, format='newline_delimited', sample_size=-1)``. DuckDB
  reads GBK / GB18030 only through its ``encodings`` extension, which is not
  available offline: those files have no floor. For XLSX DuckDB's ``excel``
  extension is not available either; python-calamine's sheet read (the
  reader scrm uses, values to Python) stands in as the floor;
- **pandas** (a peer): ``pd.read_csv(dtype=str)``, ``pd.read_json(lines=True)``,
  ``pd.read_excel(engine="calamine", dtype=str)``.

Each tool runs ``--repeat`` times (3) per group, the tools taking turns, and
its fastest run counts (as ``timeit`` reports): on a shared two-core machine
one run of scrm varied from 12 to 17 s. ``runs_seconds`` keeps every run.

MB/s is megabytes (10^6 bytes) of input files per second of wall time. Per
format, the ratio scrm / floor is the sum of scrm's seconds over the sum of
the floor's seconds on the groups that have a floor. Results go to
``bench/results/ingest_throughput_<N>.json``; ``bench/table.py`` renders them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import machine, measure

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "work"
RESULTS = ROOT / "bench" / "results"
PY = sys.executable
#: The acceptance line of issue 20: CSV and JSON lines within 3× of the floor.
TARGET = {"scrm_over_floor_max": 3.0, "formats": ["csv", "jsonl"]}
KINDS = ("csv", "jsonl", "xlsx")


# ------------------------------------------------------------------ the files


def sample_exports(persons: int, work: Path = WORK) -> Path:
    """The exports of ``scrm generate --persons N --seed 1`` (generated once, then reused)."""
    home = work / f"ingest_{persons}"
    exports = home / "sample" / "exports"
    if exports.is_dir() and any(exports.iterdir()):
        return exports
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SCRM_HOME": str(home), "CI": "true"}
    with (home / "generate.log").open("w") as log:
        measure(
            [PY, "-m", "scrm_lib.cli", "generate", "--persons", str(persons), "--seed", "1",
             "--out", "sample"],
            cwd=str(home), env=env, log=log,
        )  # fmt: skip
    return exports


def describe_files(exports: Path) -> list[dict[str, Any]]:
    """Each file with its preset, kind, encoding, header row and delimiter (scrm's detection)."""
    from scrm_lib.ingest.detect import locate
    from scrm_lib.ingest.raw_area import iter_input_files
    from scrm_lib.ingest.read import _sniff_delimiter, file_kind

    out = []
    for f in iter_input_files([exports]):
        preset, header_row = locate(f)
        kind = file_kind(f)
        enc, delim = None, None
        if kind == "csv":
            head = f.open("rb").read(1 << 16)
            enc = _encoding(head, preset.encoding)
            delim = _sniff_delimiter(head.decode(enc, "replace"))
        out.append({
            "path": str(f), "bytes": f.stat().st_size, "preset": preset.name, "kind": kind,
            "encoding": enc, "header_row": header_row, "delim": delim,
        })  # fmt: skip
    return out


def _encoding(head: bytes, hint: str | None) -> str:
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    for enc in dict.fromkeys([e for e in (hint, "utf-8", "gbk", "gb18030") if e]):
        try:
            head.rsplit(b"\n", 1)[0].decode(enc)
        except (UnicodeDecodeError, LookupError):
            continue
        return enc
    return "unknown"


def groups_of(files: list[dict[str, Any]], by: str = "kind") -> list[dict[str, Any]]:
    """Files grouped by (kind, UTF-8 or not), and by preset too with ``by="preset"``:
    one measurement of each tool per group."""
    groups: dict[tuple, dict[str, Any]] = {}
    for f in files:
        utf8 = f["kind"] != "csv" or f["encoding"] in ("utf-8", "utf-8-sig")
        enc = "utf-8" if utf8 else f["encoding"]
        preset = f["preset"] if by == "preset" else "all"
        g = groups.setdefault(
            (preset, f["kind"], enc),
            {"preset": preset, "kind": f["kind"], "encoding": enc, "files": []},
        )
        g["files"].append(f)
    return sorted(groups.values(), key=lambda g: (KINDS.index(g["kind"]), g["preset"]))


def startup(log, runs: int = 3) -> dict[str, float]:
    """Seconds to start each tool's process and import it, reading nothing (the median of
    ``runs``): a fixed cost per process, apart from throughput."""
    programs = {
        "scrm": "import scrm_lib.cli",
        "duckdb": "import duckdb",
        "pandas": "import pandas",
    }
    return {
        name: sorted(measure([PY, "-c", code], cwd=str(ROOT), log=log).seconds
                     for _ in range(runs))[runs // 2]
        for name, code in programs.items()
    }  # fmt: skip


# ------------------------------------------------------------------ the readers (own processes)


def read_duckdb(files: list[dict[str, Any]]) -> dict[str, Any]:
    import duckdb

    con = duckdb.connect()
    rows = 0
    for i, f in enumerate(files):
        path = f["path"].replace("'", "''")
        if f["kind"] == "csv":
            delim = (f["delim"] or ",").replace("'", "''")
            src = (
                f"read_csv('{path}', all_varchar=true, header=true, skip={f['header_row']}, "
                f"delim='{delim}', quote='\"', escape='\"', strict_mode=false)"
            )
        else:
            src = f"read_json('{path}', format='newline_delimited', sample_size=-1)"
        con.execute(f"CREATE TABLE t{i} AS SELECT * FROM {src}")
        rows += con.execute(f"SELECT count(*) FROM t{i}").fetchone()[0]
    return {"rows": rows, "threads": con.execute("SELECT current_setting('threads')").fetchone()[0]}


def read_calamine(files: list[dict[str, Any]]) -> dict[str, Any]:
    from python_calamine import CalamineWorkbook

    rows = 0
    for f in files:
        values = CalamineWorkbook.from_path(f["path"]).get_sheet_by_index(0).to_python()
        rows += max(0, len(values) - 1 - f["header_row"])
    return {"rows": rows}


def read_pandas(files: list[dict[str, Any]]) -> dict[str, Any]:
    import pandas as pd

    rows = 0
    for f in files:
        if f["kind"] == "csv":
            df = pd.read_csv(
                f["path"], dtype=str, keep_default_na=False, skiprows=f["header_row"],
                encoding=f["encoding"], sep=f["delim"] or ",",
            )  # fmt: skip
        elif f["kind"] == "jsonl":
            df = pd.read_json(f["path"], lines=True, dtype=False)
        else:
            df = pd.read_excel(f["path"], engine="calamine", dtype=str, skiprows=f["header_row"])
        rows += len(df)
    return {"rows": rows}


READERS = {"duckdb": read_duckdb, "calamine": read_calamine, "pandas": read_pandas}


def part_main(reader: str, spec: Path, report: Path) -> None:
    """One reader over one group's files, in this process (``--part``)."""
    files = json.loads(spec.read_text())
    start = time.perf_counter()
    out = READERS[reader](files)
    out["seconds_inside"] = round(time.perf_counter() - start, 3)
    report.write_text(json.dumps(out))


# ------------------------------------------------------------------ measuring


def _rate(nbytes: int, seconds: float) -> float:
    return round(nbytes / 1e6 / seconds, 2) if seconds > 0 else 0.0


def _run_reader(reader: str, files: list[dict], tmp: Path, log) -> dict[str, Any]:
    spec, report = tmp / f"{reader}.spec.json", tmp / f"{reader}.report.json"
    spec.write_text(json.dumps(files))
    report.unlink(missing_ok=True)
    nbytes = sum(f["bytes"] for f in files)
    try:
        m = measure(
            [PY, str(Path(__file__).resolve()), "--part", reader, str(spec), str(report)],
            cwd=str(ROOT), log=log,
        )  # fmt: skip
    except RuntimeError as exc:
        return {"error": str(exc)[-300:]}
    inside = json.loads(report.read_text())
    return {
        "seconds": m.seconds, "peak_rss_mib": m.peak_rss_mib, "mb_s": _rate(nbytes, m.seconds),
        **inside,
    }  # fmt: skip


def _run_scrm(files: list[dict], tmp: Path, log) -> dict[str, Any]:
    home = tmp / "scrm_home"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    env = {**os.environ, "SCRM_HOME": str(home), "CI": "true"}
    for k in ("SCRM_WAREHOUSE", "SCRM_CACHE_DIR", "SCRM_RAW_DIR"):
        env.pop(k, None)
    out_path = tmp / "scrm.out.json"
    nbytes = sum(f["bytes"] for f in files)
    with out_path.open("w") as out:
        try:
            start = time.perf_counter()
            proc = subprocess.Popen(
                [PY, "-m", "scrm_lib.cli", "ingest", "--dry-run", "--json",
                 *[f["path"] for f in files]],
                cwd=str(home), env=env, stdout=out, stderr=log,
            )  # fmt: skip
            _, status, usage = os.wait4(proc.pid, 0)
            seconds = round(time.perf_counter() - start, 2)
            code = os.waitstatus_to_exitcode(status)
        finally:
            shutil.rmtree(home / "data", ignore_errors=True)
    if code != 0:
        return {"error": f"scrm ingest exited {code}"}
    try:
        checks = json.loads(out_path.read_text())["files"]
    except (ValueError, KeyError):
        checks = []
    workers = min(len(files), os.cpu_count() or 1)
    return {
        "seconds": seconds,
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "mb_s": _rate(nbytes, seconds),
        "rows": sum(c.get("rows_in", 0) for c in checks),
        "accepted": sum(c.get("accepted", 0) for c in checks),
        "rejected": sum(c.get("rejected", 0) for c in checks),
        "errors": [c["error"] for c in checks if c.get("error")],
        "workers": workers,
    }


def _fastest(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest of a tool's runs, with every run's seconds beside it (``runs_seconds``)."""
    timed = [r for r in runs if "seconds" in r]
    if not timed:
        return runs[0]
    best = min(timed, key=lambda r: r["seconds"])
    return {**best, "runs_seconds": [r["seconds"] for r in timed]}


def measure_group(group: dict[str, Any], tmp: Path, log, repeat: int = 3) -> dict[str, Any]:
    """Each tool ``repeat`` times over the group, the tools taking turns (noise on a shared
    machine then falls on all of them alike); each tool's fastest run counts, as timeit's."""
    files = group["files"]
    nbytes = sum(f["bytes"] for f in files)
    out: dict[str, Any] = {
        "preset": group["preset"], "kind": group["kind"], "encoding": group["encoding"],
        "files": len(files), "bytes": nbytes, "repeat": repeat,
    }  # fmt: skip
    if group["kind"] == "xlsx":
        floor_engine, floor_reader = (
            "python-calamine (DuckDB's excel extension not available)",
            "calamine",
        )
    elif group["encoding"] != "utf-8":
        floor_engine, floor_reader = None, None
    else:
        floor_engine = "duckdb read_csv" if group["kind"] == "csv" else "duckdb read_json"
        floor_reader = "duckdb"
    runs: dict[str, list[dict[str, Any]]] = {"floor": [], "pandas": [], "scrm": []}
    for _ in range(max(1, repeat)):
        if floor_reader is not None:
            runs["floor"].append(_run_reader(floor_reader, files, tmp, log))
        runs["pandas"].append(_run_reader("pandas", files, tmp, log))
        runs["scrm"].append(_run_scrm(files, tmp, log))
    if floor_reader is None:
        out["floor"] = {
            "engine": None,
            "none": f"DuckDB reads {group['encoding']} only through its encodings extension "
            "(not available offline)",
        }
    else:
        out["floor"] = {"engine": floor_engine, **_fastest(runs["floor"])}
    out["pandas"] = _fastest(runs["pandas"])
    out["scrm"] = _fastest(runs["scrm"])
    sc, fl, pd_ = out["scrm"], out["floor"], out["pandas"]
    if sc.get("seconds") and fl.get("seconds"):
        out["scrm_over_floor"] = round(sc["seconds"] / fl["seconds"], 2)
    if sc.get("seconds") and pd_.get("seconds"):
        out["scrm_over_pandas"] = round(sc["seconds"] / pd_["seconds"], 2)
    return out


def per_format(groups: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """MB/s and ratios per kind, summed over the groups of that kind."""
    out = {}
    for kind in KINDS:
        gs = [g for g in groups if g["kind"] == kind and "seconds" in g["scrm"]]
        if not gs:
            continue
        with_floor = [g for g in gs if "seconds" in g["floor"]]
        with_pandas = [g for g in gs if "seconds" in g["pandas"]]
        row: dict[str, Any] = {
            "files": sum(g["files"] for g in gs),
            "bytes": sum(g["bytes"] for g in gs),
            "scrm_seconds": round(sum(g["scrm"]["seconds"] for g in gs), 2),
        }
        row["scrm_mb_s"] = _rate(row["bytes"], row["scrm_seconds"])
        if with_floor:
            b = sum(g["bytes"] for g in with_floor)
            fs = sum(g["floor"]["seconds"] for g in with_floor)
            ss = sum(g["scrm"]["seconds"] for g in with_floor)
            row["floor"] = {
                "engine": with_floor[0]["floor"]["engine"],
                "bytes": b,
                "seconds": round(fs, 2),
                "mb_s": _rate(b, fs),
                "scrm_mb_s_same_files": _rate(b, ss),
            }
            row["scrm_over_floor"] = round(ss / fs, 2)
            row["without_floor"] = [
                f"{g['preset']} ({g['encoding']})" for g in gs if g not in with_floor
            ]
        if with_pandas:
            b = sum(g["bytes"] for g in with_pandas)
            ps = sum(g["pandas"]["seconds"] for g in with_pandas)
            ss = sum(g["scrm"]["seconds"] for g in with_pandas)
            row["pandas"] = {"bytes": b, "seconds": round(ps, 2), "mb_s": _rate(b, ps)}
            row["scrm_over_pandas"] = round(ss / ps, 2)
        if kind in TARGET["formats"] and "scrm_over_floor" in row:
            row["within_target"] = row["scrm_over_floor"] <= TARGET["scrm_over_floor_max"]
        out[kind] = row
    return out


def run(
    persons: int,
    exports: Path | None = None,
    results: Path = RESULTS,
    work: Path = WORK,
    by: str = "kind",
    startup_runs: int = 3,
    repeat: int = 3,
) -> dict[str, Any]:
    from_sample = exports is None
    exports = sample_exports(persons, work) if exports is None else exports
    files = describe_files(exports)
    started = machine(shared_with_other_jobs=True)
    groups = []
    with tempfile.TemporaryDirectory(prefix="ingest_throughput_", dir=work) as td:
        tmp = Path(td)
        # the files in the page cache before the first measurement, for every reader alike
        for f in files:
            with open(f["path"], "rb") as fh:
                while fh.read(1 << 24):
                    pass
        with (tmp / "bench.log").open("w") as log:
            for g in groups_of(files, by):
                groups.append(measure_group(g, tmp, log, repeat))
                print(json.dumps({k: v for k, v in groups[-1].items()}), flush=True)
            started_up = startup(log, startup_runs)
    started["load_average_at_end"] = round(os.getloadavg()[0], 2)
    result = {
        "persons": persons,
        "exports": str(exports.relative_to(ROOT) if exports.is_relative_to(ROOT) else exports),
        "generated_here": from_sample,
        "machine": started,
        "export_mb": round(sum(f["bytes"] for f in files) / 1e6, 1),
        "target": TARGET,
        "grouped_by": by,
        "startup_seconds": started_up,
        "formats": per_format(groups),
        "groups": groups,
    }
    results.mkdir(parents=True, exist_ok=True)
    (results / f"ingest_throughput_{persons}.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument(
        "--exports", type=Path, help="existing exports folder (of a --persons sample)"
    )
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument(
        "--by", choices=("kind", "preset"), default="kind",
        help="one process per format (as `scrm ingest FOLDER`), or per preset and format",
    )  # fmt: skip
    parser.add_argument(
        "--repeat", type=int, default=3,
        help="runs of each tool per group, taking turns; the fastest counts",
    )  # fmt: skip
    parser.add_argument(
        "--part", nargs=3, metavar=("READER", "SPEC", "REPORT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.part:
        part_main(args.part[0], Path(args.part[1]), Path(args.part[2]))
        return
    # scrm runs in a scratch folder: a relative path must not change meaning there
    exports = args.exports.resolve() if args.exports else None
    out = run(args.persons, exports, args.results, args.work, args.by, repeat=args.repeat)
    print(json.dumps(out["formats"], indent=2))


if __name__ == "__main__":
    main()
