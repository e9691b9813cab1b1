"""Deterministic assignment of persons to arms: hash bucketing with a salt, weights, holdouts.

A person's bucket is the first 8 bytes of SHA-256(``salt:person_id``) as a
number in [0, 1); the same person, salt and weights always give the same
arm, on any machine, without storing anything. A **global holdout** (its own
fixed salt, shared by every experiment) keeps a share of persons out of all
campaigns, so the total effect of marketing can be measured; a per-experiment
holdout keeps a share out of that experiment only. Assigning persons (after
OneID), not accounts, keeps one person in one arm.

Example
-------
>>> df = assign(["P1", "P2", "P3"], experiment="bday", weights={"A": 0.5, "B": 0.5})
>>> list(df.columns)
['person_id', 'experiment', 'variant', 'bucket']
>>> assign(["P1"], experiment="bday")["variant"].tolist() == assign(["P1"], experiment="bday")[
...     "variant"].tolist()
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scrm_lib.experiments.messages import ExperimentInputError

GLOBAL_HOLDOUT_SALT = "scrm-global-holdout"
HOLDOUT = "holdout"
GLOBAL_HOLDOUT = "global_holdout"


def buckets(ids: Iterable[str], salt: str) -> np.ndarray:
    """Uniform numbers in [0, 1) from SHA-256 of ``salt:id`` (stable across runs and machines)."""
    out = [int.from_bytes(hashlib.sha256(f"{salt}:{i}".encode()).digest()[:8], "big") for i in ids]
    return np.asarray(out, dtype=np.float64) / 2.0**64


def assign(
    person_ids: Iterable[str],
    *,
    experiment: str,
    weights: dict[str, float] | None = None,
    salt: str | None = None,
    holdout: float = 0.0,
    global_holdout: float = 0.0,
) -> pd.DataFrame:
    """Arms for persons: ``variant`` is an arm, ``holdout`` or ``global_holdout``.

    Parameters
    ----------
    person_ids
        Person ids (after OneID).
    experiment
        Experiment name; with ``salt`` (default: the name) it seeds the hash.
    weights
        Arm → share (normalized); default A/B 50/50.
    holdout
        Share of the experiment's persons kept out of every arm.
    global_holdout
        Share of ALL persons no campaign touches (same persons for every experiment).

    Examples
    --------
    >>> a = assign([f"P{i}" for i in range(10000)], experiment="x", global_holdout=0.05)
    >>> round(float((a["variant"] == "global_holdout").mean()), 2)
    0.05
    """
    weights = weights or {"A": 0.5, "B": 0.5}
    if not weights or any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise ExperimentInputError(f"weights must be non-negative with a positive sum: {weights}")
    for name, share in (("holdout", holdout), ("global_holdout", global_holdout)):
        if not 0 <= share < 1:
            raise ExperimentInputError(f"{name} must be in [0, 1), not {share!r}")
    ids = [str(p) for p in person_ids]
    b_global = buckets(ids, GLOBAL_HOLDOUT_SALT)
    b = buckets(ids, salt or experiment)
    names = list(weights)
    edges = np.cumsum([weights[n] for n in names]) / sum(weights.values())
    # the experiment holdout takes the top of the bucket range; arms split the rest
    inner = b / (1 - holdout) if holdout else b
    idx = np.minimum(np.searchsorted(edges, inner, side="right"), len(names) - 1)
    variant = np.asarray(names, dtype=object)[idx]
    variant = np.where(b >= 1 - holdout, HOLDOUT, variant)
    variant = np.where(b_global < global_holdout, GLOBAL_HOLDOUT, variant)
    return pd.DataFrame(
        {"person_id": ids, "experiment": experiment, "variant": variant, "bucket": b}
    )


def log_exposures(assigned: pd.DataFrame, *, path: Path | None = None, ts: Any = None) -> int:
    """Append first exposures to the state store (``experiment_exposures``); returns rows added.

    A person's first exposure wins: logging the same person again adds nothing.
    """
    from scrm_lib.access.state import connect

    need = {"experiment", "person_id", "variant"}
    if missing := need - set(assigned.columns):
        raise ExperimentInputError(f"exposures need columns {sorted(missing)}")
    from scrm_lib.engine import Runner

    columns = {c: assigned[c].astype(str).tolist() for c in ("experiment", "person_id", "variant")}
    con = connect(path)
    try:
        runner = Runner(con, label="experiments")
        runner.query("experiments.create_exposures")
        before = runner.scalar("experiments.count_exposures")
        if columns["person_id"]:
            runner.query("experiments.add_exposures", {**columns, "ts": ts or datetime.now(UTC)})
        after = runner.scalar("experiments.count_exposures")
    finally:
        con.close()
    return int(after - before)
