"""Score persons against a ground truth (pairwise precision/recall/F1, B-cubed); the model report.

:func:`stage_report` says how the build's probabilistic stage ran (trained,
fixed priors, skipped or off) and why, from ``identity_stages``.

Pairwise: a pair of accounts is predicted linked when both are in the same
person; precision = true linked pairs among predicted pairs, recall = among
true pairs. B-cubed (Bagga & Baldwin 1998; Amigó et al. 2009): per account,
the share of its predicted person that is truly its person (precision) and
the share of its true person found in its predicted person (recall),
averaged over accounts.

Only accounts present in both frames are scored: SMS contact points
(``phone:<E.164>``) are warehouse accounts but not platform accounts of the
truth, and a truth account with no export never reached the warehouse.

Example
-------
>>> pred = pd.DataFrame({"account_id": ["a", "b", "c"], "person_id": [1, 1, 2]})
>>> truth = pd.DataFrame({"account_id": ["a", "b", "c"], "person_id": [1, 1, 1]})
>>> s = score_clusters(pred, truth)
>>> round(s["pairwise_precision"], 3), round(s["pairwise_recall"], 3)
(1.0, 0.333)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from scrm_lib.engine import Warehouse, using
from scrm_lib.engine.splink import registered, scratch_duckdb
from scrm_lib.errors import ScrmError
from scrm_lib.identity._engine import opened, runner, tables


def _check(df: pd.DataFrame, what: str) -> None:
    missing = [c for c in ("account_id", "person_id") if c not in df.columns]
    if missing:
        raise ScrmError(f"{what}: missing column {missing[0]!r} (has {list(df.columns)})")


def score_clusters(predicted: pd.DataFrame, truth: pd.DataFrame) -> dict[str, float]:
    """Pairwise and B-cubed scores of a clustering against the truth.

    Parameters
    ----------
    predicted, truth
        Frames with ``account_id`` and ``person_id`` (one row per account).

    Returns
    -------
    dict
        ``accounts`` scored, ``predicted_pairs``, ``true_pairs``, ``correct_pairs``,
        ``pairwise_precision``, ``pairwise_recall``, ``pairwise_f1``,
        ``bcubed_precision``, ``bcubed_recall``, ``bcubed_f1``.

    Examples
    --------
    >>> p = pd.DataFrame({"account_id": ["a", "b"], "person_id": ["x", "y"]})
    >>> score_clusters(p, p)["bcubed_f1"]
    1.0
    """
    _check(predicted, "predicted")
    _check(truth, "truth")
    with (
        scratch_duckdb() as db,
        registered(db, "p", predicted[["account_id", "person_id"]].astype(str)),
        registered(db, "t", truth[["account_id", "person_id"]].astype(str)),
    ):
        row = runner(db).rows("identity.score_clusters")[0]
    n, pred_pairs, true_pairs, correct, b_p, b_r = row
    if not n:
        raise ScrmError("no account is in both the persons and the truth: nothing to score")

    def ratio(a: float, b: float) -> float:
        return float(a / b) if b else 1.0

    def f1(p: float, r: float) -> float:
        return 2 * p * r / (p + r) if p + r else 0.0

    pp, pr = ratio(correct, pred_pairs), ratio(correct, true_pairs)
    bp, br = float(b_p) / n, float(b_r) / n
    return {
        "accounts": int(n),
        "predicted_pairs": int(pred_pairs),
        "true_pairs": int(true_pairs),
        "correct_pairs": int(correct),
        "pairwise_precision": pp,
        "pairwise_recall": pr,
        "pairwise_f1": f1(pp, pr),
        "bcubed_precision": bp,
        "bcubed_recall": br,
        "bcubed_f1": f1(bp, br),
    }


def read_truth(truth_dir: str | Path) -> pd.DataFrame:
    """``account_id, person_id`` from a ground-truth folder's ``accounts.csv``."""
    path = Path(truth_dir) / "accounts.csv"
    if not path.exists():
        raise ScrmError(f"{path}: no such file (the truth folder needs accounts.csv)")
    truth = pd.read_csv(path, dtype=str, keep_default_na=False)
    _check(truth, str(path))
    if "in_exports" in truth.columns:
        # accounts with no export row cannot be in the warehouse; they never count
        truth = truth[truth["in_exports"].str.lower() == "true"]
    return truth[["account_id", "person_id"]]


def linkable_pairs(warehouse: Warehouse, truth: pd.DataFrame, hub_limit: int = 20) -> pd.DataFrame:
    """Which accounts of one true person the exports let anyone join: the recall ceiling.

    Two accounts of the same true person are *linkable* when they share a
    clue: an exact key (unionid, email, member number, openid, external id),
    a phone's visible digits in any form (full, masked, Alipay-masked,
    shipping), a name or name-like nickname with the same pinyin, or an
    address; clues held by more than ``hub_limit`` accounts (the shop's test
    phone) do not count. Linkable accounts chain (A–B by phone, B–C by
    unionid), so the ceiling is per connected group within each person. No
    method that reads only the exports can join accounts that share nothing,
    so recall over linkable pairs measures the stitcher, recall over all true
    pairs measures the stitcher and the data together.

    Returns
    -------
    pandas.DataFrame
        ``account_id, person_id, group``: the true person and the linkable group.
    """
    from scrm_lib.identity.graph import cluster_accounts
    from scrm_lib.identity.matching import to_pinyin

    with opened(warehouse) as db:
        clues = db.df("identity.clues")
        names = db.df("identity.names_and_nicknames")
    # a nickname counts when it is a name: two to four Han characters
    names = names[names["value"].str.fullmatch(r"[\u4e00-\u9fff]{2,4}").fillna(False)]
    by_name = pd.DataFrame(
        {"account_id": names["account_id"], "clue": "name=" + to_pinyin(names["value"])}
    )
    clues = pd.concat([clues, by_name], ignore_index=True).drop_duplicates()
    t = truth[["account_id", "person_id"]].astype(str)
    clues = clues.merge(t, on="account_id")
    use = clues.groupby("clue")["account_id"].transform("nunique") <= hub_limit
    clues = clues[use]
    # one star per (person, clue): the smallest account to every other
    clues["anchor"] = clues.groupby(["person_id", "clue"])["account_id"].transform("min")
    edges = clues.loc[clues["anchor"] != clues["account_id"], ["anchor", "account_id"]]
    edges = edges.set_axis(["a", "b"], axis=1)
    group = cluster_accounts(t["account_id"], edges)
    return t.assign(group=t["account_id"].map(group).to_numpy())


def evaluate(warehouse: Warehouse, truth_dir: str | Path) -> dict[str, float]:
    """Score the warehouse's ``person_accounts`` against ``truth_dir/accounts.csv``.

    Besides :func:`score_clusters`' scores, ``linkable_pairs`` counts the true
    pairs the exports carry a clue for (:func:`linkable_pairs`),
    ``recall_ceiling`` is their share of all true pairs, and
    ``linkable_recall`` is the share of them the persons join.

    Examples
    --------
    >>> evaluate(open_warehouse(), "sample/truth")["pairwise_precision"]  # doctest: +SKIP
    0.999
    """
    from scrm_lib.warehouse.steps import person_map

    truth = read_truth(truth_dir)
    with using(warehouse) as con:
        predicted = person_map(con).to_pandas()
        present = truth[truth["account_id"].isin(predicted["account_id"].astype(str))]
        groups = linkable_pairs(con, present)
    out = score_clusters(predicted, truth)
    linked = groups.assign(person_id=groups["group"])[["account_id", "person_id"]]
    # pairs inside a linkable group, and how many of them the persons join
    lk = score_clusters(predicted, linked)
    out["linkable_pairs"] = lk["true_pairs"]
    out["recall_ceiling"] = lk["true_pairs"] / out["true_pairs"] if out["true_pairs"] else 1.0
    out["linkable_recall"] = lk["pairwise_recall"]
    return out


def stage_report(warehouse: Warehouse) -> list[dict[str, Any]]:
    """How the last build's identity stages ran: trained, fixed priors, skipped or off, and why.

    Parameters
    ----------
    warehouse
        Warehouse file, or a connection (ibis backend or DuckDB connection).

    Returns
    -------
    list of dict
        One per stage (``identity_stages``): ``stage``, ``mode``, ``reason``,
        ``records``, ``candidate_pairs``, ``columns`` (list) and the checks
        behind the decision (``lambda_pairs``, ``em_pairs``, ``labelled_pairs``,
        ``left_out``: field → why, ``notes``). Empty for a warehouse built
        before the table existed.

    Examples
    --------
    >>> stage_report("data/warehouse/scrm.duckdb")[0]["mode"]  # doctest: +SKIP
    'priors'
    """
    import json

    with opened(warehouse) as db:
        if "identity_stages" not in tables(db):
            return []
        rows = db.rows("identity.stages")
    out = []
    for stage, mode, reason, records, pairs, columns, details in rows:
        out.append(
            {
                "stage": stage,
                "mode": mode,
                "reason": reason or "",
                "records": int(records or 0),
                "candidate_pairs": int(pairs or 0),
                "columns": [c for c in (columns or "").split(",") if c],
                **json.loads(details or "{}"),
            }
        )
    return out
