"""Benchmark: identity stitching alone on a built sample, scored, with the missed pairs explained.

Usage: ``python bench/identity_matching.py --home H --truth DIR [--persons N] [--out NAME]``

``--home`` is an SCRM_HOME whose warehouse was built with ``scrm build --steps
none`` (canonical tables, no identity yet). The warehouse is copied to a scratch
file next to it; the identity stage runs there as the build runs it (account-key
hubs split, deterministic stage, Splink), timed, and the persons are scored
against the generator's truth (:func:`scrm_lib.identity.evaluate.score_clusters`,
``linkable_recall`` as ``scrm identity evaluate``).

The breakdown lists the true pairs of accounts that share a clue directly (the
same clues as :func:`scrm_lib.identity.evaluate.linkable_pairs`), by the kinds
of clue they share and whether scrm joined them; missed pairs whose masked
phone was dropped as a hub, or whose pooled records met as an ambiguous match,
are counted apart. Writes ``bench/results/identity_matching_<NAME>.json``.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
from measure import machine

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def masked_use(db: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Accounts per visible-digit phone value: all platforms, and the most on one platform."""
    return db.execute(
        r"""
        WITH masks AS (
            SELECT account_id, value AS m FROM identifiers
            WHERE kind IN ('phone_masked', 'alipay_masked')
              AND regexp_full_match(value, '1[0-9]{2}\*{4}[0-9]{4}')
            UNION
            SELECT account_id, substr(value, 4, 3) || '****' || substr(value, 11, 4)
            FROM identifiers
            WHERE kind IN ('phone', 'recipient_phone')
              AND regexp_full_match(value, '\+861[0-9]{10}')
        ),
        per AS (
            SELECT m, split_part(account_id, ':', 1) AS p, count(DISTINCT account_id) AS n
            FROM masks GROUP BY ALL
        )
        SELECT m, sum(n)::BIGINT AS n, max(n)::BIGINT AS most FROM per GROUP BY m
        """
    ).df()


def breakdown(db, truth: pd.DataFrame, clusters: pd.DataFrame, edges: pd.DataFrame, cfg) -> dict:
    """Directly linkable true pairs by shared clue kinds, joined or missed, and why missed."""
    from scrm_lib.identity._engine import runner
    from scrm_lib.identity.matching import to_pinyin

    clues = runner(db).df("identity.clues")
    names = db.execute(
        "SELECT account_id, value FROM identifiers WHERE kind IN ('name', 'nickname')"
    ).df()
    names = names[names["value"].str.fullmatch(r"[\u4e00-\u9fff]{2,4}").fillna(False)]
    clues = pd.concat(
        [
            clues,
            pd.DataFrame(
                {"account_id": names["account_id"], "clue": "name=" + to_pinyin(names["value"])}
            ),
        ],
        ignore_index=True,
    ).drop_duplicates()
    t = truth[["account_id", "person_id"]].astype(str)
    clues = clues.merge(t, on="account_id")
    clues = clues[clues.groupby("clue")["account_id"].transform("nunique") <= cfg.hub_limit]
    pairs = clues.merge(clues, on=["person_id", "clue"], suffixes=("_a", "_b"))
    pairs = pairs[pairs["account_id_a"] < pairs["account_id_b"]]
    pairs["kind"] = pairs["clue"].str.split("=").str[0]
    use = masked_use(db)
    fixed = set(use.loc[(use["n"] > cfg.hub_limit) | (use["most"] > cfg.hub_platform_limit), "m"])
    try:
        from scrm_lib.identity.matching import masked_hubs
    except ImportError:  # the fixed limits of earlier versions
        dropped = fixed
    else:
        dropped = set(masked_hubs(db, cfg)["m"])
    pairs["mphone_hub"] = (pairs["kind"] == "mphone") & pairs["clue"].str[7:].isin(dropped)
    g = pairs.groupby(["account_id_a", "account_id_b"]).agg(
        kinds=("kind", lambda s: "+".join(sorted(set(s)))),
        mphone_hub=("mphone_hub", "any"),
    )
    g = g.reset_index()
    label = clusters.set_index("account_id")["component"]
    g["joined"] = g["account_id_a"].map(label).to_numpy() == g["account_id_b"].map(label).to_numpy()
    g["platforms"] = [
        "-".join(sorted((a.split(":")[0], b.split(":")[0])))
        for a, b in zip(g["account_id_a"], g["account_id_b"], strict=True)
    ]
    amb = edges[edges["rule"].astype(str).str.startswith("splink_ambiguous")]
    amb_keys = set(
        zip(amb["a"].map(label).astype(str), amb["b"].map(label).astype(str), strict=True)
    )
    missed = g[~g["joined"]].copy()
    la, lb = (
        missed["account_id_a"].map(label).astype(str),
        missed["account_id_b"].map(label).astype(str),
    )
    missed["ambiguous"] = [
        (x, y) in amb_keys or (y, x) in amb_keys for x, y in zip(la, lb, strict=True)
    ]

    def table(df: pd.DataFrame, by: str, top: int = 12) -> dict:
        c = df.groupby(by).size().sort_values(ascending=False).head(top)
        return {str(k): int(v) for k, v in c.items()}

    share_mask = use["n"].ge(2)
    return {
        "direct_pairs": len(g),
        "direct_pairs_joined": int(g["joined"].sum()),
        "missed_direct_pairs": len(missed),
        "missed_by_clue_kinds": table(missed, "kinds"),
        "missed_by_platform_pair": table(missed, "platforms"),
        "missed_with_mphone_dropped_as_hub": int(missed["mphone_hub"].sum()),
        "missed_ambiguous_match": int(missed["ambiguous"].sum()),
        "masked_values": {
            "distinct": len(use),
            "held_by_2_or_more_accounts": int(share_mask.sum()),
            "dropped_as_hub": len(dropped),
            "over_fixed_limits": len(fixed),
            "accounts_on_values_over_fixed_limits": int(use.loc[use["m"].isin(fixed), "n"].sum()),
            "accounts_on_dropped_values": int(use.loc[use["m"].isin(dropped), "n"].sum()),
            "accounts_on_any_value": int(use["n"].sum()),
        },
    }


def main() -> None:
    from scrm_lib.config import load_settings
    from scrm_lib.identity import account_hubs
    from scrm_lib.identity.config import identity_config
    from scrm_lib.identity.evaluate import linkable_pairs, read_truth, score_clusters
    from scrm_lib.identity.step import stitch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--truth", type=Path, required=True)
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--out", help="result name (default: 1m or the person count)")
    ap.add_argument("--no-breakdown", action="store_true")
    args = ap.parse_args()
    home = args.home.resolve()
    settings = load_settings(home)
    cfg = identity_config(getattr(settings, "extra", {}))
    src = home / "data" / "warehouse" / "scrm.duckdb"
    scratch = home / "identity_matching_bench.duckdb"
    shutil.copyfile(src, scratch)
    db = duckdb.connect(str(scratch), config={"memory_limit": "3GB"})
    try:
        start, cpu = time.perf_counter(), time.process_time()
        key_hubs = account_hubs.detect(db, cfg)
        account_hubs.split(db, key_hubs)
        stages = []
        clusters, edges, _ = stitch(db, cfg, key_hubs=key_hubs, stages=stages)
        seconds = time.perf_counter() - start
        cpu = time.process_time() - cpu
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        predicted = clusters.rename(columns={"component": "person_id"})
        truth = read_truth(args.truth)
        scores = score_clusters(predicted, truth)
        present = truth[truth["account_id"].isin(predicted["account_id"].astype(str))]
        groups = linkable_pairs(db, present, cfg.hub_limit)
        lk = score_clusters(predicted, groups.assign(person_id=groups["group"]))
        scores["linkable_pairs"] = lk["true_pairs"]
        scores["recall_ceiling"] = lk["true_pairs"] / scores["true_pairs"]
        scores["linkable_recall"] = lk["pairwise_recall"]
        out = {
            "persons": args.persons,
            "what": "identity stage only (account-key hubs, deterministic, Splink) on a "
            "warehouse built with `scrm build --steps none` from `scrm generate`",
            "machine": machine(shared_with_other_jobs=True),
            "config": {
                k: getattr(cfg, k) for k in ("hub_limit", "hub_platform_limit", "threshold")
            },
            "stitch_seconds": round(seconds, 1),
            # every thread's: on a shared machine the wall time follows the other jobs
            "stitch_cpu_seconds": round(cpu, 1),
            "peak_rss_gib_through_stitch": round(peak, 2),
            # each pair Splink scored once (identity_stages.candidate_pairs)
            "candidate_pairs": sum(s.candidate_pairs for s in stages),
            "accuracy_vs_truth": {
                k: round(v, 4) if isinstance(v, float) else v for k, v in scores.items()
            },
        }
        if not args.no_breakdown:
            out["missed_pairs"] = breakdown(db, present, clusters, edges, cfg)
    finally:
        db.close()
        scratch.unlink(missing_ok=True)
        Path(str(scratch) + ".wal").unlink(missing_ok=True)
    name = args.out or ("1m" if args.persons == 1_000_000 else str(args.persons))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"identity_matching_{name}.json").write_text(json.dumps(out, indent=2) + "\n")
    json.dump(out, sys.stdout, indent=2)


if __name__ == "__main__":
    main()
