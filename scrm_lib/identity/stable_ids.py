"""Stable person ids: a person keeps their id when new data arrives.

Each new cluster inherits the previous id held by most of its accounts; an
old id goes to the one cluster holding most of its accounts (ties: the
smaller label / id), so two clusters never share an id; an old id that lost
its first choice may still go to the next cluster holding its accounts. Clusters with no
previous id get ``P`` + a hash of their smallest account id. Old → new
changes are returned as ``person_id_history`` rows: ``merge`` (the old id
was absorbed by another person) or ``split`` (some accounts left a person
that keeps its id).

Example
-------
>>> new = pd.DataFrame({"account_id": ["a", "b", "c"], "component": ["a", "a", "c"]})
>>> old = pd.DataFrame({"account_id": ["a", "b", "c"], "person_id": ["P1", "P2", "P3"]})
>>> ids, hist = assign_person_ids(new, old, build_id="b2")
>>> ids.set_index("account_id")["person_id"].to_dict()
{'a': 'P1', 'b': 'P1', 'c': 'P3'}
>>> hist[["old_person_id", "new_person_id", "reason"]].values.tolist()
[['P2', 'P1', 'merge']]
"""

from __future__ import annotations

import hashlib

import pandas as pd

HISTORY_COLUMNS = ["old_person_id", "new_person_id", "reason", "n_accounts", "build_id"]


def _fresh_id(label: str) -> str:
    return "P" + hashlib.sha1(label.encode("utf-8")).hexdigest()[:12].upper()


def assign_person_ids(
    clusters: pd.DataFrame, previous: pd.DataFrame | None, *, build_id: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Give every cluster a person id, keeping previous ids where the accounts agree.

    Parameters
    ----------
    clusters
        ``account_id, component``: this build's clusters.
    previous
        ``account_id, person_id`` of the build being replaced, or None.
    build_id
        Written on each history row.

    Returns
    -------
    person_accounts : pandas.DataFrame
        ``account_id, person_id``.
    history : pandas.DataFrame
        ``old_person_id, new_person_id, reason, n_accounts, build_id``.
    """
    for col in ("account_id", "component"):
        if col not in clusters.columns:
            raise ValueError(f"clusters needs column {col!r}, has {list(clusters.columns)}")
    comp = clusters[["account_id", "component"]].astype(str)
    labels = pd.Series(comp["component"].unique(), dtype=str)
    keep = pd.Series(dtype=str)
    if previous is not None and len(previous):
        j = comp.merge(previous[["account_id", "person_id"]].astype(str), on="account_id")
        cnt = j.groupby(["component", "person_id"]).size().rename("n").reset_index()
        kept: list[pd.Series] = []
        # rounds of mutual best choice: an old id losing its best cluster may still
        # be the best left for another cluster (a few rounds, each vectorized)
        for _ in range(10):
            if cnt.empty:
                break
            # each old id goes to the cluster holding most of its accounts
            cnt = cnt.sort_values(["person_id", "n", "component"], ascending=[True, False, True])
            claim = cnt.drop_duplicates("person_id")
            # each cluster keeps the claimed old id with most of its accounts
            claim = claim.sort_values(
                ["component", "n", "person_id"], ascending=[True, False, True]
            )
            won = claim.drop_duplicates("component").set_index("component")["person_id"]
            kept.append(won)
            cnt = cnt[~cnt["component"].isin(won.index) & ~cnt["person_id"].isin(won.to_numpy())]
        if kept:
            keep = pd.concat(kept)
    fresh = labels[~labels.isin(keep.index)]
    fresh_ids = pd.Series(fresh.map(_fresh_id).to_numpy(), index=fresh.to_numpy())
    # a fresh hash equal to a kept id (vanishingly rare) gets the label appended
    clash = fresh_ids.isin(keep.to_numpy())
    fresh_ids[clash] = fresh_ids[clash] + "-" + fresh_ids.index[clash]
    pid = pd.concat([keep, fresh_ids])
    out = pd.DataFrame({"account_id": comp["account_id"], "person_id": comp["component"].map(pid)})

    history = pd.DataFrame(columns=HISTORY_COLUMNS)
    if previous is not None and len(previous):
        moved = (
            previous[["account_id", "person_id"]]
            .astype(str)
            .merge(out, on="account_id", suffixes=("_old", "_new"))
        )
        moved = moved[moved["person_id_old"] != moved["person_id_new"]]
        if len(moved):
            kept_ids = set(pid.to_numpy())
            h = (
                moved.groupby(["person_id_old", "person_id_new"])
                .size()
                .rename("n_accounts")
                .reset_index()
            )
            h["reason"] = h["person_id_old"].isin(kept_ids).map({True: "split", False: "merge"})
            history = pd.DataFrame(
                {
                    "old_person_id": h["person_id_old"],
                    "new_person_id": h["person_id_new"],
                    "reason": h["reason"],
                    "n_accounts": h["n_accounts"].astype("int64"),
                    "build_id": build_id,
                }
            )
    return out.sort_values("account_id", ignore_index=True), history.reset_index(drop=True)
