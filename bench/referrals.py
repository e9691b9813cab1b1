"""Benchmark: the referral marts on a large synthetic invite graph, vs networkx.

A synthetic referral graph (:func:`graph`): persons invited by earlier persons,
most invites going to the early ones (seed customers), a share of second
invites of a person already invited (diamonds), a few rings A → B → C → A among
persons who invited nobody and some self-invites; cached under ``bench/work/cache``.
Each part runs as its own process, measured for wall time and peak memory
(:func:`measure.measure`):

- ``scrm``: :func:`scrm_lib.social.referrals.analysis.compute` (every referral
  mart: edges, closure, persons, rewards, campaigns, abuse, KOC scores), as the
  build runs it, at ``--edges`` (300,000 by default; ``--edges 1000000 10000000``
  for the issue's sizes: 1M links in 50 s at a 1.8 GiB peak; 10M in 30 minutes at
  a 14.7 GiB peak on 2 cores shared with other jobs; every mart but the closure
  still passes through a pandas frame on its way to the warehouse);
- ``scrm_peer_size`` and ``networkx``: scrm and networkx on the first
  ``--peer-edges`` links (100,000 by default; 1,000,000 took networkx 3.4 minutes,
  walking every inviter's descendants in Python), both counting each inviter's
  downstream persons and deepest generation; the counts must be equal.

Usage::

    .venv/bin/python bench/referrals.py --edges 300000 --peer-edges 100000

Results go to ``bench/results/referrals_<edges>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import Clock, machine, measure, run_part

RESULTS = Path(__file__).resolve().parent / "results"
CACHE = Path(__file__).resolve().parent / "work" / "cache"
#: Version of the generator: bump it when the data changes so stale caches are not read.
VERSION = 2
PARTS = ("scrm", "scrm_peer_size", "networkx")
#: Shares of the links: second invites of a person already invited, links back up a
#: chain (rings), self-invites.
DIAMONDS, RINGS, SELF = 0.05, 0.001, 0.001
T0 = 1_735_689_600  # 2025-01-01 UTC


def graph(n_edges: int, seed: int = 1) -> pd.DataFrame:
    """``src, dst, ts`` (person numbers, epoch seconds): the synthetic invite links.

    Person ``i`` (from 1) is invited by an earlier person ``floor(i · u³)``, ``u`` uniform:
    early persons invite most, chains stay a few generations deep as in real fission
    campaigns. Then diamonds, rings and self-invites as above.
    """
    rng = np.random.default_rng(seed)
    k_d, k_s = int(n_edges * DIAMONDS), int(n_edges * SELF)
    k_r = max(int(n_edges * RINGS) // 3, 1) * 3
    n_tree = n_edges - k_d - k_r - k_s
    dst = np.arange(1, n_tree + 1)
    src = np.floor(dst * rng.random(n_tree) ** 3).astype(np.int64)
    ts = T0 + dst * 30  # one new person every 30 s
    # a diamond: a second inviter, earlier than the person
    d_dst = rng.integers(2, n_tree + 1, k_d)
    d_src = np.floor(d_dst * rng.random(k_d)).astype(np.int64)
    # rings A → B → C → A among persons who invited nobody (as in the sample: later
    # invites among customers); a ring through an early person would make most of the
    # graph reach itself, which no fission campaign shows
    leaves = np.setdiff1d(dst, src)
    trio = rng.choice(leaves, size=(k_r // 3, 3), replace=False)
    r_src, r_dst = trio.ravel(), np.roll(trio, -1, axis=1).ravel()
    s_src = rng.integers(1, n_tree + 1, k_s)
    out = pd.DataFrame({
        "src": np.concatenate([src, d_src, r_src, s_src]),
        "dst": np.concatenate([dst, d_dst, r_dst, s_src]),
    })  # fmt: skip
    out["ts"] = np.concatenate([ts, T0 + d_dst * 30 + 7, T0 + r_src * 30 + 86_400,
                                T0 + s_src * 30 + 60])  # fmt: skip
    return out


def warehouse(n_edges: int, seed: int = 1, cache: Path = CACHE) -> Path:
    """The graph as a warehouse (``referrals``, ``person_accounts``), cached by size and seed."""
    import duckdb

    path = cache / f"referrals_v{VERSION}_{n_edges}_{seed}.duckdb"
    if path.exists():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    g = graph(n_edges, seed)
    tmp = path.with_suffix(".partial")
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    try:
        con.register("g", g)
        con.execute("SET TimeZone = 'UTC'")
        # a self-invite is a person's second account (…:b) inviting from the first
        con.execute("""
            CREATE TABLE referrals AS SELECT
                'wechat:' || src AS inviter_account_id,
                'wechat:' || dst || CASE WHEN src = dst THEN ':b' ELSE '' END
                    AS invitee_account_id,
                to_timestamp(ts) AS ts,
                CASE WHEN dst % 10 = 0 THEN 'group_leader' ELSE 'invite' END AS kind,
                '活动' || (ts // (86400 * 30)) AS campaign
            FROM g
        """)
        con.execute("""
            CREATE TABLE person_accounts AS
            WITH a AS (SELECT inviter_account_id AS account_id FROM referrals
                       UNION SELECT invitee_account_id FROM referrals)
            SELECT account_id, 'P' || split_part(account_id, ':', 2) AS person_id FROM a
        """)
    finally:
        con.close()
    tmp.rename(path)
    return path


def _downstream(persons: pd.DataFrame) -> dict[str, list[int]]:
    """``person → [downstream persons, deepest generation]`` of every inviter."""
    p = persons[persons["downstream_persons"] > 0]
    return {
        str(k): [int(a), int(b)]
        for k, a, b in zip(p["person_id"], p["downstream_persons"], p["downstream_depth"],
                           strict=True)
    }  # fmt: skip


def part_scrm(db: Path, clock: Clock) -> dict[str, Any]:
    from scrm_lib.config import load_settings
    from scrm_lib.engine import open_warehouse
    from scrm_lib.social.referrals.analysis import compute

    with tempfile.TemporaryDirectory() as home:
        settings = load_settings(home)
        con = clock("open", lambda: open_warehouse(db, read_only=False))
        frames, meta = clock(
            "compute",
            lambda: compute(con, settings=settings, closure_table="referral_closure"),
        )
        closure_rows = int(con.table("referral_closure").count().execute())
    return {
        "rows": {**{k: len(v) for k, v in frames.items()}, "referral_closure": closure_rows},
        "input": meta.get("input"),
        "abuse": meta.get("abuse"),
        "downstream": _downstream(frames["referral_persons"]),
    }


def part_scrm_peer_size(db: Path, clock: Clock) -> dict[str, Any]:
    return part_scrm(db, clock)


def part_networkx(db: Path, clock: Clock) -> dict[str, Any]:
    """The same downstream counts with networkx: each inviter's BFS over the person graph."""
    import duckdb
    import networkx as nx

    def load() -> pd.DataFrame:
        with duckdb.connect(str(db), read_only=True) as con:
            return con.sql("""
                SELECT s.person_id AS src, d.person_id AS dst
                FROM referrals r
                JOIN person_accounts s ON s.account_id = r.inviter_account_id
                JOIN person_accounts d ON d.account_id = r.invitee_account_id
            """).df()

    e = clock("read", load)

    def walk() -> dict[str, list[int]]:
        g = nx.DiGraph()
        g.add_edges_from((a, b) for a, b in zip(e["src"], e["dst"], strict=True) if a != b)
        out = {}
        for v in g:
            if g.out_degree(v) == 0:
                continue
            depth = nx.single_source_shortest_path_length(g, v)
            del depth[v]
            if depth:
                out[str(v)] = [len(depth), max(depth.values())]
        return out

    return {"downstream": clock("graph + descendants", walk)}


def compare(reference: dict[str, list[int]], other: dict[str, list[int]]) -> dict[str, Any]:
    """Where two sets of downstream counts differ (first ten)."""
    keys = sorted(set(reference) | set(other))
    diffs = [{"person_id": k, "scrm": reference.get(k), "other": other.get(k)}
             for k in keys if reference.get(k) != other.get(k)]  # fmt: skip
    return {"equal": not diffs, "inviters": len(reference), "differences": diffs[:10]}


def _measured(part: str, db: Path, tmp: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    report = tmp / f"{part}.json"
    cmd = [sys.executable, __file__, "--part", part, "--db", str(db), "--report", str(report)]
    m = measure(cmd, cwd=str(Path(__file__).resolve().parent.parent), log=sys.stderr)
    details = json.loads(report.read_text())
    return {"seconds": m.seconds, "peak_rss_mib": m.peak_rss_mib,
            "steps": details["seconds"]}, details  # fmt: skip


def run(n_edges: int, peer_edges: int, seed: int, parts: list[str], out: Path) -> dict[str, Any]:
    """Build (or reuse) both synthetic warehouses, measure every part, compare, write the JSON."""
    big = warehouse(n_edges, seed)
    small = warehouse(peer_edges, seed)
    head = {"edges": n_edges, "peer_edges": peer_edges, "seed": seed}
    return _run(big, small, head, parts, out / f"referrals_{n_edges}.json")


def run_on(built: Path, out: Path) -> dict[str, Any]:
    """scrm and networkx on a built warehouse (a generated sample): the same links for both."""
    import duckdb

    with duckdb.connect(str(built), read_only=True) as con:
        links = con.sql("SELECT count(*) FROM referrals").fetchone()[0]
        persons = con.sql("SELECT count(*) FROM persons").fetchone()[0]
    head = {"warehouse": str(built), "persons": persons, "edges": links, "peer_edges": links}
    name = f"referrals_sample_{persons}.json"
    return _run(built, built, head, ["scrm", "networkx"], out / name)


def _run(big: Path, small: Path, head: dict[str, Any], parts: list[str], path: Path
         ) -> dict[str, Any]:  # fmt: skip
    n_edges, peer_edges = head["edges"], head["peer_edges"]
    result: dict[str, Any] = {
        **head,
        "machine": machine(),
        "parts": {},
    }
    details: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for part in parts:
            # scrm writes the closure into the warehouse, as the build does: on a copy
            db = Path(shutil.copy(big if part == "scrm" else small, Path(tmp) / f"{part}.duckdb"))
            result["parts"][part], details[part] = _measured(part, db, Path(tmp))
            result["parts"][part]["edges"] = n_edges if part == "scrm" else peer_edges
    if "scrm" in details:
        d = details["scrm"]
        result["parts"]["scrm"].update(rows=d["rows"], input=d["input"], abuse=d["abuse"],
                                       inviters=len(d["downstream"]))  # fmt: skip
    same = "scrm_peer_size" if "scrm_peer_size" in details else "scrm"
    if same in details and "networkx" in details:
        result["networkx_vs_scrm"] = compare(details[same]["downstream"],
                                             details["networkx"]["downstream"])  # fmt: skip
        result["networkx_over_scrm"] = round(
            result["parts"]["networkx"]["seconds"] / result["parts"][same]["seconds"], 2
        )
    result["machine"]["load_average_at_end"] = os.getloadavg()[0]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", type=int, nargs="+", default=[300_000])
    parser.add_argument("--peer-edges", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--warehouse", type=Path,
                        help="a built warehouse (the 1M-person sample) instead of the synthetic "
                        "graphs: scrm and networkx on its referrals")  # fmt: skip
    parser.add_argument("--part", choices=PARTS, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--report", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.part:
        run_part(lambda clock: globals()[f"part_{args.part}"](args.db, clock), args.report)
        return
    if args.warehouse:
        print(json.dumps(run_on(args.warehouse, args.out), indent=2))
        return
    for n in args.edges:
        print(json.dumps(run(n, args.peer_edges, args.seed, args.parts, args.out), indent=2))


if __name__ == "__main__":
    main()
