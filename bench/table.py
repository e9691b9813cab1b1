"""The README's benchmark tables, generated from ``bench/results/*.json``: never typed by hand.

Every number in the generated part of README's "## Benchmarks" section (between
``<!-- bench:start -->`` and ``<!-- bench:end -->``) is read from a results
file, with the machine each file was measured on. A results file is matched
to a small renderer by its name (``RENDERERS``); a file no renderer knows is
listed, not dropped, so a new benchmark shows up until it gets its row.

Usage::

    .venv/bin/python bench/table.py          # rewrite README.md between the markers
    .venv/bin/python bench/table.py --check  # exit 1 when README.md differs (a hand edit)

``make bench`` runs it at the end; ``tests/test_bench_table.py`` runs ``--check``.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
README = ROOT / "README.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"

Row = tuple[str, str, str]  # what | scrm | peers (same data, same run)


# -- formatting -------------------------------------------------------------------------


def s(x: float) -> str:
    """Seconds as a reader reads them: 0.34 s, 9.0 s, 184 s, 1,783 s."""
    if x < 1:
        return f"{x:.2f} s"
    if x < 10:
        return f"{x:.1f} s"
    return f"{x:,.0f} s"


def gib(mib: float) -> str:
    return f"{mib / 1024:.1f} GiB"


def ratio(x: float) -> str:
    return f"{x:.2f}×"


def count(n: int) -> str:
    return f"{n:,}"


def size(n: int) -> str:
    """1000000 → 1M, 10000000 → 10M, 300000 → 300k, 1071575 → 1,071,575."""
    for unit, name in ((1_000_000, "M"), (1_000, "k")):
        if n % unit == 0:
            return f"{n // unit}{name}"
    return f"{n:,}"


def src(path: Path) -> str:
    return f"`bench/results/{path.name}`"


# -- the machine ------------------------------------------------------------------------


def describe_machine(m: dict[str, Any] | None) -> str:
    """One line for a results file's ``machine``; what an old file lacks is said to be."""
    if not m:
        return "machine not recorded"
    cores = m.get("cores") or m.get("cpus")
    parts = [f"{cores} cores" if cores else None]
    if m.get("ram_gib"):
        parts.append(f"{m['ram_gib']} GiB RAM")
    parts += [m.get("cpu"), m.get("os")]
    parts.append(f"Python {m['python']}" if m.get("python") else None)
    parts.append(f"DuckDB {m['duckdb']}" if m.get("duckdb") else None)
    text = ", ".join(p for p in parts if p)
    if not all(m.get(k) for k in ("ram_gib", "cpu", "os", "duckdb")):
        text += " (the rest of the machine not recorded)"
    if m.get("shared_with_other_jobs"):
        text += "; shared with other jobs"
    return text


def load_of(m: dict[str, Any] | None) -> str:
    """The load average a results file recorded (start → end), or nothing."""
    keys = ("load_average_at_start", "load_average", "load_average_at_end")
    load = [f"{m[k]:.1f}" for k in keys if m and m.get(k) is not None]
    return f", load {' → '.join(load)}" if load else ""


# -- one renderer per kind of results file ----------------------------------------------


def pipeline_row(r: dict) -> str:
    st = r["steps"]
    full = st.get("build_with_steps")
    full_text = (
        f"{full['seconds']:.0f} s, {gib(full['peak_rss_mib'])}"
        if full
        else (r.get("failures") or {}).get("build_with_steps", "not measured")
    )
    if r.get("ratio_with_steps_to_peer") is not None:
        full_text += f"; with ingest {r['ratio_with_steps_to_peer']}× the peer"
    generate = st.get("generate")
    made = f"{generate['seconds']:.0f} s" if generate else "reused"
    return (
        f"| {r['persons']:,} | {r['export_mib']:,} MiB | {made} "
        f"| {st['ingest']['seconds']:.0f} s | {st['build']['seconds']:.0f} s "
        f"| {r['ingest_plus_build_seconds']:.0f} s | {gib(r['peak_rss_mib'])} "
        f"| {st['peer_pandas_load']['seconds']:.0f} s | {r['ratio_to_peer']}× | {full_text} |"
    )


def pipeline_prose(r: dict) -> str:
    """What the largest pipeline run says, every number from its file."""
    st, rows = r["steps"], r.get("rows", {})
    full = st.get("build_with_steps")
    counts = ", ".join(
        f"{count(rows[k])} {k}" for k in ("touches", "events", "orders") if k in rows
    )
    text = (
        f"Target for the data foundation: 1M persons ingested and built within 5 minutes "
        f"and 8 GiB. At {r['persons']:,} persons ({r['export_mib']:,} MiB of exports: "
        f"{counts} rows) ingest + table build took {s(r['ingest_plus_build_seconds'])} "
        f"with a peak of {gib(r['peak_rss_mib'])}, {ratio(r['ratio_to_peer'])} the time "
        f"of the naive pandas peer, which normalizes nothing and peaks at "
        f"{gib(st['peer_pandas_load']['peak_rss_mib'])}."
    )
    if full:
        text += (
            f" The whole build with every build step took "
            f"{s(full['seconds'])} within {gib(full['peak_rss_mib'])}"
        )
        steps = r.get("build_step_seconds") or {}
        if steps:
            top = sorted(steps.items(), key=lambda kv: -kv[1])[:6]
            text += " (" + ", ".join(f"{k} {s(v)}" for k, v in top) + ")"
        if r.get("ratio_with_steps_to_peer") is not None:
            text += (
                f"; from exports to that published warehouse, "
                f"{s(r['ingest_plus_build_with_steps_seconds'])}, "
                f"{ratio(r['ratio_with_steps_to_peer'])} the time of the peer"
            )
        text += "."
    return text


def identity_components(path: Path, data: list[dict]) -> list[Row]:
    out = []
    for i, r in enumerate(data):
        where = " (`bench/identity_components.py`)" if i == 0 else ""
        out.append((
            f"connected components, {size(r['edges'])} identifier edges{where}",
            s(r["scrm_scipy_s"]),
            f"networkx {s(r['networkx_s'])} ({r['speedup']:.0f}×)"
            + ("" if r.get("same_components") else "; components differ"),
        ))  # fmt: skip
    return out


def _of(r: dict, key: str) -> str:
    """scrm's time over a peer's, and its CPU time over the peer's when recorded."""
    text = f"scrm {ratio(r[key])} of it"
    return text + (f", CPU {ratio(r[key + '_cpu'])}" if key + "_cpu" in r else "")


def value_rfm(path: Path, data: dict) -> list[Row]:
    out = []
    for i, r in enumerate(data["rfm"]):
        where = " (`bench/value_rfm.py`)" if i == 0 else ""
        peers = []
        cpu = r.get("cpu_s", {})

        if r.get("duckdb_floor_s"):
            peers.append(
                f"plain DuckDB group-by, the floor, {s(r['duckdb_floor_s'])} "
                f"({_of(r, 'scrm_to_floor')})"
            )
        if r.get("polars_with_read_s"):
            peers.append(
                f"polars {s(r['polars_with_read_s'])} with its read from the file "
                f"({_of(r, 'scrm_to_polars_with_read')}), "
                f"{s(r['polars_in_memory_s'])} in memory"
            )
        peers.append(f"pandas groupby {s(r['pandas_s'])} ({ratio(r['pandas_ratio'])})")
        if r.get("lifetimes_s"):
            peers.append(f"lifetimes {s(r['lifetimes_s'])} ({ratio(r['lifetimes_ratio'])})")
        scrm = s(r["scrm_s"])
        if r.get("repeat", 1) > 1:
            scrm += f" (median of {r['repeat']}"
            scrm += f"; CPU {s(cpu['scrm'])})" if "scrm" in cpu else ")"
        out.append((f"RFM summary, {size(r['rows'])} order rows{where}", scrm, "; ".join(peers)))
    p = data.get("preview")
    if p:
        out.append((
            f"segment preview, {size(p['persons'])} persons",
            f"{p['median_ms']:.0f} ms (target ≤ {p['target_ms']} ms)",
            "",
        ))  # fmt: skip
    return out


def scale_marts(path: Path, d: dict) -> list[Row]:
    out = []
    for i, z in enumerate(d["sizes"]):
        where = " (`bench/scale_marts.py`)" if i == 0 else ""
        sec = z["seconds"]
        out.append((
            f"value mart (`value_persons`, CLV fit included), {size(z['orders'])} orders, "
            f"{size(z['persons'])} buyers{where}",
            f"{s(sec['value_persons'])}, peak {gib(z['peak_rss_mib'])}",
            f"its RFM summary {s(sec['rfm_summary'])}; "
            f"plain DuckDB group-by {s(sec['duckdb_floor'])}",
        ))  # fmt: skip
    g = d.get("growth", {})
    if g.get("value_persons") and g.get("peak_rss_mib"):
        between = "; ".join(
            f"{size(b['from'])}→{size(b['to'])}: ^{b['value_persons']:.2f}"
            for b in g.get("between_sizes", [])
        )
        out.append((
            "growth with orders (fit `seconds ≈ a·orders^b`)",
            f"time ^{g['value_persons']['b']:.2f}, memory ^{g['peak_rss_mib']['b']:.2f}",
            f"between sizes {between}; projected to {size(d['projected_to_orders'])} orders: "
            f"{s(g['value_persons']['at_100m'])}, {gib(g['peak_rss_mib']['at_100m'])}",
        ))  # fmt: skip
    return out


def _spark_seconds(r: dict) -> float:
    """Seconds of a Spark build spent in Spark's parts: the canonical transform, the steps
    ``runs`` lists under spark, and moving tables between the engines."""
    timings = r.get("timings") or {}
    listed = ((r.get("runs") or {}).get("steps") or "").rpartition("spark ")[2]
    on_spark = [n.strip() for n in listed.partition(":")[2].split(",") if n.strip()]
    parts = ["transform", "to spark", "spark read", "spark write", "spark copy"]
    return sum(timings.get(k, 0.0) for k in [*parts, *(f"step_{n}" for n in on_spark)])


def spark_build(path: Path, d: dict) -> list[Row]:
    t = d["targets"]
    done = "; ".join(f"{SPARK_TARGETS[k]} {s(r['seconds'])}, peak {gib(r['peak_rss_mib'])}"
                     for k, r in t.items())  # fmt: skip
    notes = []
    if "cluster" in t:
        r, executors = t["cluster"], 2
        spark = _spark_seconds(r)
        driver = r["seconds"] - spark
        notes.append(f"on the cluster {s(spark)} in Spark's parts, {s(driver)} on the driver")
        if d["persons"] >= 100_000:
            # the Spark parts shared among more executors, the driver's as measured; below
            # this size Spark's parts are mostly its fixed costs, which do not divide
            projected = ", ".join(f"{n} executors {s(driver + spark * executors / n)}"
                                  for n in (8, 32))  # fmt: skip
            notes.append(f"projected: {projected}")
    if not d.get("same_row_counts", True):
        notes.append("ROW COUNTS DIFFER between targets")
    return [(
        f"whole build on DuckDB and on Spark, {size(d['persons'])} persons, "
        f"{d['export_mib']:,} MiB of exports (`bench/spark_build.py`)",
        done,
        "; ".join(notes),
    ), *spark_scaling(path, d)]  # fmt: skip


#: The names of a Spark benchmark's targets as the table shows them.
SPARK_TARGETS = {
    "duckdb": "DuckDB",
    "local": "Spark local[2]",
    "cluster": "Spark standalone cluster",
}


def _grows(small: float, big: float, times: float) -> str:
    """``×r (^b)``: how much a time grew, and the exponent of size it grew by."""
    import math

    if small <= 0 or big <= 0:
        return "n/a"
    return f"×{big / small:.1f} (^{math.log(big / small) / math.log(times):.2f})"


def spark_scaling(path: Path, d: dict) -> list[Row]:
    """Per target, how time and memory grew from the next smaller Spark benchmark (from
    100k persons) to this one, and the steps that grew the most; a note when the two
    sizes ran on different machines (the ratio then mixes in the machines' speeds)."""
    sizes = {}
    for other in path.parent.glob("spark_build_*.json"):
        o = json.loads(other.read_text(encoding="utf-8"))
        if 100_000 <= o.get("persons", 0) < d["persons"]:
            sizes[o["persons"]] = o
    if not sizes:
        return []
    small = sizes[max(sizes)]
    times = d["persons"] / small["persons"]
    grew, steps, machines = [], [], set()
    for key, label in SPARK_TARGETS.items():
        a, b = small["targets"].get(key), d["targets"].get(key)
        if not a or not b:
            continue
        machines |= {describe_machine(x.get("machine") or m)
                     for x, m in ((a, small.get("machine")), (b, d.get("machine")))}  # fmt: skip
        grew.append(f"{label} time {_grows(a['seconds'], b['seconds'], times)}, "
                    f"memory ×{b['peak_rss_mib'] / a['peak_rss_mib']:.1f}")  # fmt: skip
        if key != "duckdb":
            both = [n for n in b.get("steps", {}) if a.get("steps", {}).get(n, 0) >= 1]
            top = sorted(both, key=lambda n: -b["steps"][n] / a["steps"][n])[:3]
            steps.append(f"{label}: " + ", ".join(
                f"{n} {_grows(a['steps'][n], b['steps'][n], times)}" for n in top))  # fmt: skip
    notes = "steps that grew most: " + "; ".join(steps) if steps else ""
    if len(machines) > 1:
        notes += ("; " if notes else "") + "MEASURED ON DIFFERENT MACHINES: ratios mix in speeds"
    return [(
        f"Spark scaling, {size(small['persons'])} → {size(d['persons'])} persons "
        f"(×{times:g}; `bench/spark_build.py`)",
        "; ".join(grew),
        notes,
    )]  # fmt: skip


def churn_score(path: Path, d: dict) -> list[Row]:
    sc = d["score"]
    return [(
        f"churn scoring, {size(d['persons'])} persons (`bench/churn_score.py`)",
        f"{s(sc['wall_s'])}, peak {gib(sc['peak_rss_mib'])}",
        "",
    )]  # fmt: skip


def identity_stitch(path: Path, d: dict) -> list[Row]:
    b, acc, t = d["build"], d["accuracy_vs_truth"], d["timings"]
    return [(
        f"full build with identity, value and churn steps, {size(d['persons'])} persons "
        "(`bench/identity_stitch.py`)",
        f"{s(b['seconds'])} (identity {s(t['step_identity'])}), peak {b['peak_rss_gib']} GiB "
        f"(target {d['target_peak_rss_gib']:.0f} GiB); P {acc['pairwise_precision']} / "
        f"linkable R {acc['linkable_recall']}",
        "",
    )]  # fmt: skip


def identity_matching(path: Path, d: dict) -> list[Row]:
    acc, b = d["accuracy_vs_truth"], d.get("before", {})
    pairs = f", {d['candidate_pairs'] / 1e6:.2f}M pairs scored" if "candidate_pairs" in d else ""
    # on a shared machine the wall time follows the other jobs: the CPU time beside it
    cpu = f" (CPU {s(d['stitch_cpu_seconds'])})" if "stitch_cpu_seconds" in d else ""
    before = ""
    if "stitch_seconds" in b:
        ba = b.get("accuracy_vs_truth", {})
        b_cpu = f" (CPU {s(b['stitch_cpu_seconds'])})" if "stitch_cpu_seconds" in b else ""
        # CPU seconds too grow with the load on a shared machine: the load beside them
        b_load = b.get("machine", {}).get("load_average_at_start")
        b_cpu += f" at load {b_load}" if b_cpu and b_load is not None else ""
        before = (
            f"before: {s(b['stitch_seconds'])}{b_cpu}, "
            f"peak {b['peak_rss_gib_through_stitch']} GiB; "
            f"P {ba.get('pairwise_precision')} / R {ba.get('pairwise_recall')}"
        )
        if "same_load_run" in b:
            r = b["same_load_run"]
            before += (
                f"; in the same hour {s(r['stitch_seconds'])} (CPU {s(r['stitch_cpu_seconds'])}), "
                f"load {r['load_average']}"
            )
    return [(
        f"identity step alone, {size(d['persons'])} persons (`bench/identity_matching.py`)",
        f"{s(d['stitch_seconds'])}{cpu}, peak {d['peak_rss_gib_through_stitch']} GiB; "
        f"P {acc['pairwise_precision']} / R {acc['pairwise_recall']}{pairs}",
        before,
    )]  # fmt: skip


def identity_febrl(path: Path, d: dict) -> list[Row]:
    out = []
    for key, label in (("with_soc_sec_id", "with"), ("without_soc_sec_id", "without")):
        if key not in d:
            continue
        a, b = d[key]["scrm"], d[key]["splink_default"]
        out.append((
            f"record linkage, {d['data']}, {label} soc_sec_id (`bench/identity_febrl.py`)",
            f"{s(a['seconds'])}, F1 {a['pairwise_f1']}",
            f"Splink's default model {s(b['seconds'])}, F1 {b['pairwise_f1']}",
        ))  # fmt: skip
    return out


def _parts(d: dict) -> dict:
    return d.get("parts", {})


def channels(path: Path, d: dict) -> list[Row]:
    p = _parts(d)
    sc = p["scrm"]
    peers = []
    if "pandas" in p and "seconds" in p["pandas"]:
        peers.append(f"pandas {s(p['pandas']['seconds'])} ({1 / d['scrm_over_pandas']:.1f}×)")
    if "floor" in p:
        peers.append(f"plain DuckDB SQL, the floor, {s(p['floor']['seconds'])}")
    if "seconds" in p.get("polars", {}):
        peers.append(f"polars {s(p['polars']['seconds'])}")
    return [(
        f"channel attribution, value, staff and funnel, {size(d['persons'])} persons "
        "(`bench/channels.py`)",
        f"{s(sc['seconds'])}, peak {gib(sc['peak_rss_mib'])}",
        "; ".join(peers),
    )]  # fmt: skip


def conversations(path: Path, d: dict) -> list[Row]:
    p = _parts(d)
    sc = p["scrm"]
    peers = []
    if d.get("snownlp_expected_all_messages_seconds"):
        peers.append(
            f"snownlp's scorer about {s(d['snownlp_expected_all_messages_seconds'])} "
            "(estimated from a timed slice)"
        )
    return [(
        f"tagging the {size(d['persons'])}-person sample's {count(sc['messages'])} chat "
        "messages (`bench/conversations.py`)",
        f"{s(sc['seconds'])}, peak {gib(sc['peak_rss_mib'])} "
        f"(target {s(d['target']['seconds'])})",
        "; ".join(peers),
    )]  # fmt: skip


def referrals(path: Path, d: dict) -> list[Row]:
    p = _parts(d)
    sc, nx = p["scrm"], p.get("networkx")
    sample = "warehouse" in d
    what = (
        f"every referral mart on the {size(d['persons'])}-person sample's "
        f"{count(d['edges'])} links (`bench/referrals.py --warehouse`)"
        if sample
        else f"every referral mart, {size(d['edges'])} links (`bench/referrals.py`)"
    )
    scrm = f"{s(sc['seconds'])}, peak {gib(sc['peak_rss_mib'])}"
    peer = ""
    if nx:
        at = p.get("scrm_peer_size")
        eq = d.get("networkx_vs_scrm", {})
        same = (
            f"; equal for all {count(eq['inviters'])} inviters"
            if eq.get("equal")
            else "; counts differ"
        )
        if at:
            scrm += f"; at {size(at['edges'])} links {s(at['seconds'])}"
        base = at or sc
        peer = (
            f"networkx, downstream counts only, {size(nx['edges'])} links, "
            f"{s(nx['seconds'])} ({ratio(nx['seconds'] / base['seconds'])}){same}"
        )
    return [(what, scrm, peer)]


def triggers(path: Path, d: dict) -> list[Row]:
    c, t = d["counts"], d["target"]
    return [(
        f"`scrm triggers run`, {size(d['persons'])}-person sample (`bench/triggers.py`)",
        f"{s(d['seconds'])}, peak {gib(d['peak_rss_mib'])} (target {s(t['seconds'])}, "
        f"{gib(t['peak_rss_mib'])}); {count(c['rows_in'])} rows in, "
        f"{count(c['planned'])} planned",
        "",
    )]  # fmt: skip


def _mb_s(x: float) -> str:
    return f"{x:,.1f} MB/s" if x < 100 else f"{x:,.0f} MB/s"


def ingest_throughput(path: Path, d: dict) -> list[Row]:
    names = {"csv": "CSV", "jsonl": "JSON lines", "xlsx": "XLSX"}
    readers = {"csv": "read_csv", "jsonl": "read_json", "xlsx": "read_excel"}
    target = d.get("target", {})
    out = []
    for kind, r in d["formats"].items():
        what = (
            f"`scrm ingest` of the {size(d['persons'])}-person sample's {names.get(kind, kind)} "
            f"({r['bytes'] / 1e6:,.0f} MB, {r['files']} files)"
        )
        if not out:
            what += " (`bench/ingest_throughput.py`"
            if d.get("grouped_by") == "kind":
                what += ", one process per format and encoding"
            elif d.get("grouped_by") == "preset":
                what += ", one process per preset, format and encoding"
            up = d.get("startup_seconds")
            if up:
                what += f"; start-up alone: scrm {s(up['scrm'])}, DuckDB {s(up['duckdb'])}"
            what += ")"
        scrm = f"{_mb_s(r['scrm_mb_s'])} ({s(r['scrm_seconds'])})"
        peers = []
        fl = r.get("floor")
        if fl:
            engine = fl["engine"]
            text = (
                f"{engine}, the floor, {_mb_s(fl['mb_s'])} (scrm "
                f"{ratio(r['scrm_over_floor'])} its time"
            )
            if kind in target.get("formats", []):
                text += f", target ≤ {ratio(target['scrm_over_floor_max'])}"
            text += ")"
            if r.get("without_floor"):
                text += f"; no floor for {', '.join(r['without_floor'])}"
            peers.append(text)
        if r.get("pandas"):
            peers.append(
                f"pandas {readers.get(kind, '')} {_mb_s(r['pandas']['mb_s'])} "
                f"(scrm {ratio(r['scrm_over_pandas'])})"
            )
        out.append((what, scrm, "; ".join(peers)))
    return out


#: (file name pattern, renderer), in the order the rows appear.
RENDERERS: list[tuple[str, Callable[[Path, Any], list[Row]]]] = [
    (r"identity_components", identity_components),
    (r"identity_febrl", identity_febrl),
    (r"identity_matching_.+", identity_matching),
    (r"identity_stitch_.+", identity_stitch),
    (r"value_rfm", value_rfm),
    (r"scale_marts", scale_marts),
    (r"churn_score", churn_score),
    (r"channels_\d+", channels),
    (r"conversations_\d+", conversations),
    (r"referrals_\d+", referrals),
    (r"referrals_sample_\d+", referrals),
    (r"triggers_\d+", triggers),
    (r"ingest_throughput_\d+", ingest_throughput),
    (r"spark_build_\d+", spark_build),
]


def _number(path: Path) -> int:
    found = re.findall(r"\d+", path.stem)
    return int(found[-1]) if found else 0


def _machine_of(data: Any) -> dict | None:
    return data.get("machine") if isinstance(data, dict) else None


def render(results: Path = RESULTS) -> str:
    """The generated part of the Benchmarks section from every results file."""
    files = sorted(results.glob("*.json"), key=lambda p: (re.sub(r"\d+", "", p.stem), _number(p)))
    loaded = {p: json.loads(p.read_text(encoding="utf-8")) for p in files}
    machines: dict[str, list[str]] = {}

    def tag(path: Path) -> str:
        line = describe_machine(_machine_of(loaded[path]))
        names = machines.setdefault(line, [])
        if path.name not in names:
            names.append(path.name)
        return f"m{list(machines).index(line) + 1}{load_of(_machine_of(loaded[path]))}"

    pipeline = [p for p in files if re.fullmatch(r"pipeline_\d+", p.stem)]
    lines = [
        "| persons | exports | generate | ingest | build (tables) | ingest + build | peak memory "
        "| naive pandas load (peer) | ratio to peer | build with identity + marts | machine |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    lines += [f"{pipeline_row(loaded[p])[:-1]}| {tag(p)} |" for p in pipeline]
    if pipeline:
        lines += ["", pipeline_prose(loaded[pipeline[-1]])]
    lines += ["", "**Other benchmarks**", ""]
    lines += ["| what | scrm | peer(s), same data, same run | machine |", "|---|---|---|---|"]
    known = set(pipeline)
    for pattern, renderer in RENDERERS:
        for p in files:
            if p in known or not re.fullmatch(pattern, p.stem):
                continue
            known.add(p)
            for what, scrm, peers in renderer(p, loaded[p]):
                lines.append(f"| {what} | {scrm} | {peers} | {tag(p)} |")
    for p in files:
        if p not in known:
            lines.append(f"| {src(p)}: no renderer in `bench/table.py` yet | | | {tag(p)} |")
    lines += [
        "",
        "(scrm's times include reading the warehouse file; for RFM, polars' time with its "
        "read includes reading the four columns from the same file, while pandas and "
        "lifetimes run on a frame already in memory. CPU is the process's CPU time, every "
        "thread included: on a shared machine it moves less than wall time.)",
        "",
        "Machines (each results file records its own):",
        "",
    ]
    for i, (line, names) in enumerate(machines.items(), start=1):
        lines.append(f"- m{i}: {line} ({', '.join(f'`{n}`' for n in names)})")
    return "\n".join(lines)


def updated(text: str, block: str) -> str:
    if START not in text or END not in text:
        raise SystemExit(f"README.md has no {START} … {END} markers in its Benchmarks section")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{block}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md differs")
    parser.add_argument("--readme", type=Path, default=README)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    text = args.readme.read_text(encoding="utf-8")
    new = updated(text, render(args.results))
    if args.check:
        if new != text:
            diff = difflib.unified_diff(
                text.splitlines(), new.splitlines(), "README.md", "generated", lineterm=""
            )
            print("\n".join(diff))
            print(
                "README's benchmark tables differ from bench/results: "
                "run `.venv/bin/python bench/table.py`",
                file=sys.stderr,
            )
            return 1
        return 0
    if new != text:
        args.readme.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
