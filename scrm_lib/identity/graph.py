"""Deterministic stage: accounts joined by shared strong identifiers, hubs guarded.

The account–identifier graph is never materialized as pairs of every two
accounts sharing a value: each shared value contributes a star (its smallest
account to every other), so a value on ``k`` accounts gives ``k - 1`` edges
with the same components. Components come from
:func:`scipy.sparse.csgraph.connected_components` (no Python loop over edges).

Example
-------
>>> import numpy as np
>>> components(4, np.array([0, 2]), np.array([1, 3])).tolist()
[0, 0, 1, 1]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from scrm_lib.engine.splink import registered
from scrm_lib.identity._engine import runner
from scrm_lib.identity.config import IdentityConfig


def components(n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Connected-component label of each of ``n`` nodes given undirected edges.

    Parameters
    ----------
    n
        Number of nodes, numbered ``0 .. n-1``.
    src, dst
        Edge end points (integer arrays of equal length).

    Returns
    -------
    numpy.ndarray
        One label per node; labels are ``0 .. k-1`` in order of each
        component's smallest node.

    Examples
    --------
    >>> components(3, np.array([], dtype=int), np.array([], dtype=int)).tolist()
    [0, 1, 2]
    """
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    if len(src) != len(dst):
        raise ValueError(f"src and dst differ in length ({len(src)} vs {len(dst)})")
    if n < 0:
        raise ValueError(f"n must be ≥ 0, not {n}")
    graph = coo_matrix((np.ones(len(src), dtype=np.int8), (src, dst)), shape=(n, n)).tocsr()
    _, labels = connected_components(graph, directed=False)
    return labels


def cluster_accounts(account_ids: pd.Series, edges: pd.DataFrame) -> pd.Series:
    """Component label per account (indexed by account id) from an ``a, b`` edge frame.

    Labels are the smallest account id of each component, so they do not
    depend on row order.

    Examples
    --------
    >>> e = pd.DataFrame({"a": ["x"], "b": ["z"]})
    >>> cluster_accounts(pd.Series(["x", "y", "z"]), e).to_dict()
    {'x': 'x', 'y': 'y', 'z': 'x'}
    """
    ids = pd.Index(pd.unique(account_ids.astype(str)))
    src = ids.get_indexer(edges["a"].astype(str))
    dst = ids.get_indexer(edges["b"].astype(str))
    known = (src >= 0) & (dst >= 0)
    labels = components(len(ids), src[known], dst[known])
    # label by the smallest account id of each component: deterministic across runs. The
    # least rank per component, not the least string (a tenth of the string group-by's
    # time); the build's accounts come sorted, so the rank is the position
    rank = np.arange(len(ids)) if ids.is_monotonic_increasing else ids.argsort().argsort()
    least = pd.Series(rank).groupby(labels).transform("min").to_numpy()
    by_rank = ids.to_numpy() if ids.is_monotonic_increasing else ids.sort_values().to_numpy()
    return pd.Series(by_rank[least], index=ids, name="component", dtype=ids.dtype)


def deterministic_edges(
    con: Any,
    cfg: IdentityConfig,
    *,
    skip_accounts: Sequence[str] = (),
    hub_values: pd.DataFrame | None = None,
    hub_kinds: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Edges from shared strong identifiers, and the hub identifiers left out.

    Parameters
    ----------
    con
        The warehouse's engine (DuckDB or Spark) holding ``identifiers``.
    cfg
        Which kinds link, and the hub limit.
    skip_accounts
        Accounts whose identifiers neither link nor count (account-key hubs,
        :mod:`.account_hubs`): a counter phone's account must not anchor the star
        of a value other accounts share.
    hub_values
        ``kind, value`` pairs that are hubs whatever their counts: the keys of
        account-key hubs (a counter phone typed for many buyers on Youzan links
        no two WeCom contacts either). Reported when two or more accounts hold one.
    hub_kinds
        The kinds checked for hubs besides the linking ones (None: every kind). The
        build reports the linking kinds and the masked ones only: counting every
        name, address and nickname as well was half the stage's work.

    Returns
    -------
    edges : pandas.DataFrame
        ``a, b, kind, value``: one star edge per account sharing a value.
    hubs : pandas.DataFrame
        ``kind, value, n_accounts``: values shared by more than ``cfg.hub_limit``
        accounts (the kinds of ``hub_kinds`` too, linking or not: a hub masked
        phone is also kept out of the probabilistic stage), and linking values
        held by more than ``cfg.hub_platform_limit`` accounts of one platform.
    """
    run = runner(con)
    kinds = list(cfg.link_kinds)
    skip = [str(a) for a in skip_accounts]
    forced = (
        hub_values[["kind", "value"]].astype(str)
        if hub_values is not None and len(hub_values)
        else pd.DataFrame({"kind": pd.Series(dtype=str), "value": pd.Series(dtype=str)})
    )
    checked = None if hub_kinds is None else sorted({*kinds, *hub_kinds})
    run.query(
        "identity.id_groups",
        {"skip": skip, **({"kinds": checked} if checked is not None else {})},
        only_kinds=checked is not None,
    )
    with registered(run, "_id_forced_hubs", forced):
        limits = {
            "hub_limit": cfg.hub_limit,
            "platform_limit": cfg.hub_platform_limit,
            "kinds": kinds,
        }
        run.query("identity.id_groups_hubs", limits)
    hubs = run.df("identity.identifier_hubs")
    edges = run.df("identity.deterministic_edges", {"kinds": kinds, "skip": skip})
    return edges, hubs
