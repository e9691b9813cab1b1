"""Benchmark: channel attribution + channel value + journey funnel, vs plain SQL and pandas.

On a synthetic warehouse (:mod:`channels_data`; 1,000,000 persons by default,
cached under ``bench/.cache``), each of these runs as its own process, measured
for wall time and peak memory (:func:`measure.measure`):

- ``scrm``: :func:`scrm_lib.social.channels.analysis.compute` (all four marts:
  acquisition, channel value, staff, funnel with cohorts), as the build runs it;
- ``scrm_parts``: the same pieces one by one, timed apart (where the time goes);
- ``floor``: the engine's raw speed: plain DuckDB SQL for the same first-touch
  attribution (a window query) and the same strict funnel;
- ``pandas``: :mod:`peer_pandas_funnel` on the same data (read time apart);
- ``polars``: skipped unless polars is installed (it is not a dependency).

The funnel counts (everyone and per channel type) of every implementation are
compared with scrm's; a mismatch is recorded in the results.

Usage::

    .venv/bin/python bench/channels.py --persons 1000000

Results go to ``bench/results/channels_<persons>.json``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import channels_data
from measure import Clock, machine, measure, run_part

RESULTS = Path(__file__).resolve().parent / "results"
PARTS = ("scrm", "scrm_parts", "floor", "pandas", "polars")
#: The acceptance target on 2 cores.
TARGET = {"seconds": 30, "peak_rss_mib": 3 * 1024}


def _counts(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Funnel rows for comparison: ``group, step_no, persons, median_hours`` sorted."""
    df = df.sort_values(["group", "step_no"])
    return [
        {"group": str(r.group), "step_no": int(r.step_no), "persons": int(r.persons),
         "median_hours": None if pd.isna(r.median_hours_from_previous)
         else round(float(r.median_hours_from_previous), 3)}
        for r in df.itertuples()
    ]  # fmt: skip


def _scrm_funnel(frames: dict[str, pd.DataFrame]) -> list[dict[str, Any]]:
    f = frames["journey_funnel"]
    return _counts(f[f["cohort"] == "all"])


#: The peers implement plain first touch at or before the first order: scrm runs with its
#: tolerances off (no grace after the first order, no acquisition window) to count the same.
PEER_RULES = {"grace_hours": 0, "acquisition_days": 0}


def part_scrm(db: Path, clock: Clock) -> dict[str, Any]:
    from scrm_lib.config import load_settings
    from scrm_lib.engine import open_warehouse
    from scrm_lib.social.channels.analysis import compute

    with tempfile.TemporaryDirectory() as home:
        settings = load_settings(home)
        con = clock("open", lambda: open_warehouse(db))
        frames, _ = clock("compute", lambda: compute(con, settings=settings, **PEER_RULES))
    acq = frames["channel_acquisition"]
    return {
        "funnel": _scrm_funnel(frames),
        "persons": len(acq),
        "acquired_by_type": acq["channel_type"].value_counts().sort_index().to_dict(),
    }


def part_scrm_parts(db: Path, clock: Clock) -> dict[str, Any]:
    from scrm_lib.config import load_settings
    from scrm_lib.engine import open_warehouse
    from scrm_lib.social.channels.analysis import _acquired, unknown_code_frame
    from scrm_lib.social.channels.attribution import Inputs, to_frame
    from scrm_lib.social.channels.config import channels_config
    from scrm_lib.social.channels.funnel import funnel_frame
    from scrm_lib.social.channels.staff import staff_frame
    from scrm_lib.social.channels.value import channel_value_frame

    with tempfile.TemporaryDirectory() as home:
        settings = load_settings(home)
    con = open_warehouse(db)
    cfg = channels_config(settings, **PEER_RULES)
    inputs = clock("inputs (orders, touches)", lambda: Inputs.of(con))
    acq, as_of = clock(
        "acquisition_expr (cached)", lambda: _acquired(con, cfg, settings, (None, None), inputs)
    )
    clock("channel_acquisition frame", lambda: to_frame(acq.execute()))
    clock("channel_value_frame", lambda: channel_value_frame(con, acq, cfg, as_of, inputs=inputs))
    clock("staff_frame", lambda: staff_frame(con, acq, as_of, inputs))
    clock("funnel_frame (cohorts)", lambda: funnel_frame(
        con, acq, cfg["funnel_steps"], mode=cfg["funnel_mode"], cohorts=True,
        confidence=float(cfg["confidence"]), inputs=inputs))  # fmt: skip
    f = clock("funnel_frame (no cohorts)", lambda: funnel_frame(
        con, acq, cfg["funnel_steps"], mode=cfg["funnel_mode"], inputs=inputs))  # fmt: skip
    clock("unknown_code_frame", lambda: unknown_code_frame(con, inputs.touches))
    return {"funnel": _counts(f)}


def floor_sql(steps: list[dict[str, Any]], grace_hours: int, acquisition_days: int) -> list[str]:
    """Plain DuckDB SQL: person orders, touches, first-touch attribution, the strict funnel."""
    day = 86_400
    window = f"AND t.ts <= b.acquired + {acquisition_days * day}" if acquisition_days else ""
    occ, n = [], len(steps)
    for k, s in enumerate(steps, 1):
        if "events" in s:
            types = ", ".join(f"'{x}'" for x in s["events"])
            occ.append(f"SELECT coalesce(pm.person_id, e.account_id) AS person_id, "
                       f"epoch(e.ts)::BIGINT AS ts, {k} AS step_no FROM events e "
                       f"LEFT JOIN person_accounts pm USING (account_id) "
                       f"WHERE e.type IN ({types})")  # fmt: skip
        else:
            within = f"AND ts - first <= {s['within_days'] * day}" if "within_days" in s else ""
            occ.append(f"SELECT person_id, ts, {k} AS step_no FROM ranked "
                       f"WHERE n = {s['order']} {within}")  # fmt: skip
    reached = [
        "CREATE TEMP TABLE s1 AS SELECT person_id, min(ts) AS t FROM occ WHERE step_no = 1 "
        "GROUP BY ALL"
    ]
    for k in range(2, n + 1):
        reached.append(
            f"CREATE TEMP TABLE s{k} AS SELECT p.person_id, min(o.ts) AS t FROM s{k - 1} p "
            f"JOIN occ o ON o.person_id = p.person_id AND o.step_no = {k} AND o.ts >= p.t "
            "GROUP BY ALL"
        )
    cols = ", ".join(f"s{k}.t AS t{k}" for k in range(1, n + 1))
    joins = " ".join(f"LEFT JOIN s{k} USING (person_id)" for k in range(2, n + 1))
    aggs = ", ".join(
        [f"count(t{k}) AS n{k}" for k in range(1, n + 1)]
        + [f"median((t{k} - t{k - 1}) / 3600) AS h{k}" for k in range(2, n + 1)]
    )
    return [
        """CREATE TEMP TABLE po AS
        WITH o AS (
          SELECT platform, order_id, min(account_id) AS account_id,
                 min(epoch(coalesce(paid_at, created_at)))::BIGINT AS ts,
                 round(sum(coalesce(amount, 0)) - sum(coalesce(refund_amount, 0)), 2) AS net
          FROM orders WHERE status IN ('paid', 'refunded') GROUP BY ALL)
        SELECT coalesce(pm.person_id, o.account_id) AS person_id, o.ts, o.net
        FROM o LEFT JOIN person_accounts pm USING (account_id) WHERE o.net > 0""",
        """CREATE TEMP TABLE touch AS
        WITH per AS (
          SELECT platform, order_id, min(account_id) AS account_id,
                 min(epoch(coalesce(paid_at, created_at)))::BIGINT AS ts,
                 min(nullif(trim(channel_code), '')) AS code,
                 min(nullif(trim(influencer_id), '')) AS infl,
                 bool_or(trim(traffic_source) IN ('直播', 'live', '直播间')) AS live
          FROM orders WHERE status IN ('paid', 'refunded') GROUP BY ALL),
        raw AS (
          SELECT account_id, epoch(ts)::BIGINT AS ts, 1 AS prio,
                 nullif(trim(json_extract_string(attributes, '$.state')), '') AS code,
                 'events:' || event_id AS ev, NULL AS inviter
          FROM events WHERE type IN ('wecom_add', 'wecom_follow')
          UNION ALL
          SELECT account_id, epoch(ts)::BIGINT, 2,
                 nullif(trim(json_extract_string(attributes, '$.channel_code')), ''),
                 'events:' || event_id, NULL FROM events WHERE type = 'qr_scan'
          UNION ALL
          SELECT account_id, epoch(first_seen)::BIGINT, 3, nullif(trim(channel_code), ''),
                 'accounts:' || account_id, NULL FROM accounts WHERE platform <> 'wecom'
          UNION ALL
          SELECT account_id, ts, 4, code, 'orders:' || platform || ':' || order_id, NULL
          FROM per WHERE code IS NOT NULL
          UNION ALL
          SELECT account_id, ts, CASE WHEN infl IS NOT NULL THEN 5 ELSE 6 END, infl,
                 'orders:' || platform || ':' || order_id, NULL
          FROM per WHERE platform = 'douyin' AND (infl IS NOT NULL OR live)
          UNION ALL
          SELECT invitee_account_id, epoch(ts)::BIGINT, 0, NULL,
                 'referrals:' || inviter_account_id || '>' || invitee_account_id,
                 inviter_account_id FROM referrals)
        SELECT coalesce(pm.person_id, r.account_id) AS person_id, r.ts, r.prio, r.code, r.ev,
               CASE r.prio WHEN 0 THEN 'referral' WHEN 5 THEN 'douyin_influencer'
                 WHEN 6 THEN 'douyin_live' ELSE coalesce(c.type, 'unknown_code') END
                 AS channel_type
        FROM raw r
        LEFT JOIN person_accounts pm ON pm.account_id = r.account_id
        LEFT JOIN person_accounts ip ON ip.account_id = r.inviter
        LEFT JOIN channels c ON c.channel_id = r.code
        WHERE r.ts IS NOT NULL AND (r.code IS NOT NULL OR r.prio IN (0, 6))
          AND NOT (r.prio = 0 AND coalesce(ip.person_id, r.inviter)
                   = coalesce(pm.person_id, r.account_id))""",
        f"""CREATE TEMP TABLE acq AS
        WITH sighted AS (
          SELECT pm.person_id, min(epoch(a.first_seen))::BIGINT AS s
          FROM person_accounts pm JOIN accounts a USING (account_id) GROUP BY ALL),
        acted AS (
          SELECT pm.person_id, min(epoch(e.ts))::BIGINT AS s
          FROM events e JOIN person_accounts pm USING (account_id) GROUP BY ALL),
        fo AS (SELECT person_id, min(ts) AS first_order FROM po GROUP BY ALL),
        ft AS (SELECT person_id, min(ts) AS first_touch FROM touch GROUP BY ALL),
        b AS (
          SELECT person_id, fo.first_order,
                 least(coalesce(acted.s, sighted.s), ft.first_touch, fo.first_order) AS acquired
          FROM sighted LEFT JOIN acted USING (person_id) LEFT JOIN fo USING (person_id)
          LEFT JOIN ft USING (person_id)),
        ranked AS (
          SELECT t.person_id, t.channel_type, row_number() OVER (
                   PARTITION BY t.person_id ORDER BY t.ts, t.prio, t.code, t.ev) AS k
          FROM touch t JOIN b ON b.person_id = t.person_id
          WHERE (b.first_order IS NULL OR t.ts <= b.first_order + {grace_hours * 3600})
                {window})
        SELECT b.person_id, b.acquired, coalesce(r.channel_type, 'organic') AS channel_type
        FROM b LEFT JOIN (SELECT * FROM ranked WHERE k = 1) r USING (person_id)""",
        """CREATE TEMP TABLE ranked AS
        SELECT person_id, ts, row_number() OVER (PARTITION BY person_id ORDER BY ts) AS n,
               min(ts) OVER (PARTITION BY person_id) AS first FROM po""",
        "CREATE TEMP TABLE occ AS " + " UNION ALL ".join(occ),
        *reached,
        f"""CREATE TEMP TABLE funnel AS
        WITH times AS (SELECT s1.person_id, {cols} FROM s1 {joins})
        SELECT coalesce(a.channel_type, 'all') AS "group", {aggs}
        FROM acq a JOIN times USING (person_id) GROUP BY ROLLUP (a.channel_type)""",
    ]


def part_floor(db: Path, clock: Clock) -> dict[str, Any]:
    import duckdb

    from scrm_lib.social.channels.config import channels_config

    cfg = channels_config()
    con = duckdb.connect(str(db), read_only=True)
    con.execute("SET TimeZone = 'UTC'; SET enable_progress_bar = false")
    sql = floor_sql(cfg["funnel_steps"], cfg["grace_hours"], cfg["acquisition_days"])
    names = ["person orders", "touches", "attribution (window)", "ranked orders",
             "occurrences"]  # fmt: skip
    for i, statement in enumerate(sql):
        name = names[i] if i < len(names) else "funnel steps + groups"
        start = time.perf_counter()
        con.execute(statement)
        clock.seconds[name] = round(clock.seconds.get(name, 0) + time.perf_counter() - start, 2)
    wide = con.execute("SELECT * FROM funnel").df()
    return {"funnel": _counts(_long(wide, len(cfg["funnel_steps"])))}


def _long(wide: pd.DataFrame, n: int) -> pd.DataFrame:
    rows = [
        {"group": r["group"], "step_no": k, "persons": r[f"n{k}"],
         "median_hours_from_previous": r[f"h{k}"] if k > 1 else float("nan")}
        for r in wide.to_dict("records") for k in range(1, n + 1)
    ]  # fmt: skip
    return pd.DataFrame(rows)


def part_pandas(db: Path, clock: Clock) -> dict[str, Any]:
    import peer_pandas_funnel as peer

    from scrm_lib.social.channels.config import channels_config

    cfg = channels_config()
    frames = clock("read", lambda: peer.load(db))
    acq = clock("attribution", lambda: peer.attribute(
        frames, grace_hours=cfg["grace_hours"],
        acquisition_days=cfg["acquisition_days"]))  # fmt: skip
    f = clock("funnel", lambda: peer.funnel(frames, acq, cfg["funnel_steps"]))
    return {
        "funnel": _counts(f),
        "persons": len(acq),
        "acquired_by_type": acq["channel_type"].value_counts().sort_index().to_dict(),
    }


def part_polars(db: Path, clock: Clock) -> dict[str, Any]:
    raise NotImplementedError("a polars peer is not written")


def compare(reference: list[dict], other: list[dict]) -> dict[str, Any]:
    """Where two funnels' counts differ (and their medians by more than a second)."""
    ref = {(r["group"], r["step_no"]): r for r in reference}
    got = {(r["group"], r["step_no"]): r for r in other}
    diffs = []
    for key in sorted(set(ref) | set(got)):
        a, b = ref.get(key), got.get(key)
        if a is None or b is None or a["persons"] != b["persons"]:
            diffs.append(
                {"key": list(key), "scrm": a and a["persons"], "other": b and b["persons"]}
            )
        elif (a["median_hours"] is None) != (b["median_hours"] is None) or (
            a["median_hours"] is not None and abs(a["median_hours"] - b["median_hours"]) > 1 / 3600
        ):
            diffs.append({"key": list(key), "scrm_median_h": a["median_hours"],
                          "other_median_h": b["median_hours"]})  # fmt: skip
    return {"equal": not diffs, "differences": diffs[:10]}


def run(persons: int, seed: int, parts: list[str], out: Path, repeat: int = 1) -> dict[str, Any]:
    """Generate (or reuse) the warehouse, measure every part ``repeat`` times, write the JSON."""
    start = time.perf_counter()
    cached = channels_data.warehouse_path(persons, seed).exists()
    db = channels_data.warehouse(persons, seed)
    generate_s = None if cached else round(time.perf_counter() - start, 1)
    result: dict[str, Any] = {
        "persons": persons,
        "seed": seed,
        "machine": machine(),
        "target": TARGET,
        "warehouse_mib": round(db.stat().st_size / 2**20, 1),
        "rows": _rows(db),
        "generate_seconds": generate_s,
        "repeat": repeat,
        "parts": {},
    }
    details: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for part in parts:
            if part == "polars" and importlib.util.find_spec("polars") is None:
                result["parts"][part] = {"skipped": "polars is not installed in the venv"}
                continue
            if part == "polars":
                result["parts"][part] = {"skipped": "no polars peer written yet"}
                continue
            report = Path(tmp) / f"{part}.json"
            cmd = [sys.executable, __file__, "--part", part, "--db", str(db),
                   "--report", str(report)]  # fmt: skip
            runs = []
            for _ in range(repeat):
                m = measure(cmd, cwd=str(Path(__file__).resolve().parent.parent), log=sys.stderr)
                runs.append((m, json.loads(report.read_text())))
            # the machine may be shared: the median run is reported, every run is kept
            runs.sort(key=lambda r: r[0].seconds)
            m, details[part] = runs[len(runs) // 2]
            result["parts"][part] = {
                "seconds": m.seconds,
                "peak_rss_mib": max(r[0].peak_rss_mib for r in runs),
                "steps": details[part]["seconds"],
                "runs_seconds": [r[0].seconds for r in runs],
            }
    ref = details.get("scrm", {}).get("funnel")
    for part, d in details.items():
        if ref is not None and part != "scrm":
            result["parts"][part]["funnel_vs_scrm"] = compare(ref, d["funnel"])
        if "acquired_by_type" in d:
            result["parts"][part]["acquired_by_type"] = d["acquired_by_type"]
    if ref is not None:
        result["funnel_all"] = [r for r in ref if r["group"] == "all"]
        s = result["parts"]["scrm"]
        result["meets_target"] = (
            s["seconds"] <= TARGET["seconds"] and s["peak_rss_mib"] <= TARGET["peak_rss_mib"]
        )
        for peer in ("floor", "pandas"):
            if peer in result["parts"]:
                result[f"scrm_over_{peer}"] = round(
                    s["seconds"] / result["parts"][peer]["seconds"], 2
                )
    result["machine"]["load_average_at_end"] = os.getloadavg()[0]
    out.mkdir(parents=True, exist_ok=True)
    (out / f"channels_{persons}.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    return result


def _rows(db: Path) -> dict[str, int]:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        names = [r[0] for r in con.execute("SHOW TABLES").fetchall()]
        return {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}
    finally:
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--repeat", type=int, default=1, help="runs per part (median reported)")
    parser.add_argument("--part", choices=PARTS, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--report", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.part:
        run_part(lambda clock: globals()[f"part_{args.part}"](args.db, clock), args.report)
        return
    for n in args.persons:
        print(
            json.dumps(run(n, args.seed, args.parts, args.out, args.repeat), indent=2, default=str)
        )


if __name__ == "__main__":
    main()
