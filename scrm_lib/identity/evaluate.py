"""Score persons against a ground truth: pairwise precision/recall/F1 and B-cubed.

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

import duckdb
import pandas as pd

from scrm_lib.errors import ScrmError


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
    db = duckdb.connect()
    try:
        db.register("p", predicted[["account_id", "person_id"]].astype(str))
        db.register("t", truth[["account_id", "person_id"]].astype(str))
        row = db.execute(
            """
            WITH j AS (
                SELECT p.account_id, p.person_id AS pp, t.person_id AS tp
                FROM p JOIN t USING (account_id)
            ),
            cells AS (SELECT pp, tp, count(*)::DOUBLE AS c FROM j GROUP BY pp, tp),
            ps AS (SELECT pp, count(*)::DOUBLE AS n FROM j GROUP BY pp),
            ts AS (SELECT tp, count(*)::DOUBLE AS n FROM j GROUP BY tp)
            SELECT
                (SELECT count(*) FROM j) AS accounts,
                (SELECT coalesce(sum(n * (n - 1) / 2), 0) FROM ps) AS predicted_pairs,
                (SELECT coalesce(sum(n * (n - 1) / 2), 0) FROM ts) AS true_pairs,
                (SELECT coalesce(sum(c * (c - 1) / 2), 0) FROM cells) AS correct_pairs,
                (SELECT sum(c * c / ps.n) FROM cells JOIN ps USING (pp)) AS b_p,
                (SELECT sum(c * c / ts.n) FROM cells JOIN ts USING (tp)) AS b_r
            """
        ).fetchone()
    finally:
        db.close()
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


def evaluate(con: Any, truth_dir: str | Path) -> dict[str, float]:
    """Score the warehouse's ``person_accounts`` against ``truth_dir/accounts.csv``.

    Examples
    --------
    >>> evaluate(open_warehouse(), "sample/truth")["pairwise_precision"]  # doctest: +SKIP
    0.999
    """
    from scrm_lib.marts import person_map

    predicted = person_map(con).to_pandas()
    return score_clusters(predicted, read_truth(truth_dir))
