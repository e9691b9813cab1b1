"""Read the merge ledger: why accounts are one person, and identity reports.

Example
-------
>>> explain(open_warehouse(), "tmall:tb_小王88")["edges"][0]["rule"]  # doctest: +SKIP
'shared_phone'
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from scrm_lib.access.privacy import mask_name, mask_text
from scrm_lib.engine import Runner, Warehouse
from scrm_lib.errors import ScrmError
from scrm_lib.identity._engine import opened, tables
from scrm_lib.identity.person360 import person_accounts_of, resolve_person


def _require(db: Runner, *names: str) -> None:
    have = tables(db)
    missing = [t for t in names if t not in have]
    if missing:
        raise ScrmError(
            f"the warehouse has no {missing[0]} table: rebuild with `scrm build` "
            "(the identity step writes it)"
        )


def explain(warehouse: Warehouse, key: str) -> dict[str, Any]:
    """Why the accounts of a person are one person: every ledger edge among them.

    Parameters
    ----------
    warehouse
        Warehouse file or connection.
    key
        Account id, person id, phone or exact name.

    Returns
    -------
    dict
        ``person_id``, ``accounts`` (list of dicts), ``edges``: each with ``a``,
        ``b``, ``stage``, ``rule``, ``kind``, ``value`` (masked), ``match_probability``,
        ``compared`` and ``used`` (False: cut by an override or hub guard; stage
        ``hub_split``: an order of an account-key hub re-keyed to this person's
        account by its recipient, which links nothing).
    """
    with opened(warehouse) as db:
        _require(db, "person_accounts", "identity_edges")
        pid = resolve_person(db, key)
        accounts = person_accounts_of(db, pid).astype({"first_seen": str})
        edges = db.df("identity_views.person_edges", {"pid": pid})
    accounts = accounts.astype(object).where(accounts.notna(), None)
    edges["value"] = mask_text(edges["value"].astype("string")).astype(object)
    # a hub's order re-keyed by its recipient's name and address: the value is a name
    named = edges["kind"] == "name_address"
    edges.loc[named, "value"] = mask_name(edges.loc[named, "value"].astype("string"))
    edges = edges.astype(object).where(edges.notna(), None)
    return {
        "person_id": pid,
        "accounts": accounts.to_dict(orient="records"),
        "edges": edges.to_dict(orient="records"),
    }


def recognition(warehouse: Warehouse) -> pd.DataFrame:
    """Recognition rate per platform and per platform pair.

    Returns
    -------
    pandas.DataFrame
        ``platform, other_platform, accounts, recognized, rate``: for a pair,
        the share of ``platform`` accounts whose person also has an account on
        ``other_platform``; ``other_platform = 'any'`` is the share in persons
        with two or more platform accounts. SMS contact points (``phone:``)
        are not platform accounts and are left out.
    """
    with opened(warehouse) as db:
        _require(db, "person_accounts")
        return db.df("identity_views.recognition")


def cross_platform_new(warehouse: Warehouse) -> pd.DataFrame:
    """Per month: accounts new on their platform that were already customers elsewhere.

    Returns
    -------
    pandas.DataFrame
        ``month, platform, new_accounts, known_elsewhere, share``: an account is
        known elsewhere when another account of its person was seen earlier.
    """
    with opened(warehouse) as db:
        _require(db, "person_accounts")
        return db.df("identity_views.cross_platform_new")


#: What :func:`hubs` shows of each scope.
HUB_VIEW = {
    "account_key": [
        *("account_id", "kind", "value", "n_orders", "n_receiver_names", "n_receiver_phones"),
        *("n_addresses", "n_devices", "n_unattributed", "hub_limit"),
    ],
    "identifier": ["kind", "value", "n_accounts", "hub_limit"],
}


def hubs(warehouse: Warehouse, scope: str | None = None) -> pd.DataFrame:
    """Hubs, values and account ids masked: account keys first, then identifiers.

    Parameters
    ----------
    warehouse
        Warehouse file or connection.
    scope
        ``"account_key"``: accounts behind which many buyers' orders sit (a
        counter phone typed as the buyer's), with the evidence (distinct
        recipient names, phones, addresses, devices) and the orders left
        unattributed; ``"identifier"``: values shared by more accounts than the
        hub limit; None: every row and column of ``identity_hubs``.

    Examples
    --------
    >>> hubs(open_warehouse(), "account_key")["account_id"].tolist()  # doctest: +SKIP
    ['youzan:138****8000']
    """
    if scope is not None and scope not in HUB_VIEW:
        raise ScrmError(f"hub scope {scope!r} is not one of {', '.join(HUB_VIEW)}")
    with opened(warehouse) as db:
        _require(db, "identity_hubs")
        df = db.df("identity_views.hubs")
    if "scope" not in df.columns:  # built before account-key hubs: identifiers only
        df["scope"] = "identifier"
    df = df.reindex(columns=list(dict.fromkeys(["scope", *df.columns, *HUB_VIEW["account_key"]])))
    df = df.sort_values(
        ["scope", "n_orders", "n_accounts", "kind", "value"],
        ascending=[True, False, False, True, True],
        na_position="last",
    ).reset_index(drop=True)
    counts = [c for c in df.columns if c.startswith("n_") or c == "hub_limit"]
    df[counts] = df[counts].astype("Int64")
    for col in ("value", "account_id"):
        df[col] = mask_text(df[col].astype("string")).astype(object)
    if scope is None:
        return df
    return df.loc[df["scope"] == scope, HUB_VIEW[scope]].reset_index(drop=True)


def edge_evidence(edges: pd.DataFrame) -> pd.Series:
    """One line of evidence per ledger edge (values as given: mask them first).

    ``shared phone 138****5678`` for a deterministic edge, ``p=0.998: name=2,
    mphone=1`` for a probabilistic one, ``order of a shared key, by recipient
    phone 139****0001`` for a hub's order re-keyed to its recipient.

    Examples
    --------
    >>> e = pd.DataFrame({"stage": ["deterministic", "hub_split"], "kind": ["phone", "phone"],
    ...     "value": ["138****5678", "139****0001"], "match_probability": [None, None],
    ...     "compared": [None, None]})
    >>> edge_evidence(e).tolist()
    ['shared phone 138****5678', 'order of a shared key, by recipient phone 139****0001']
    """
    kind = edges["kind"].fillna("").astype(str)
    value = edges["value"].fillna("").astype(str)
    prob = pd.to_numeric(edges["match_probability"], errors="coerce")
    # Splink levels: -1 = a side has no value (left out), 0 = differ, higher = agree
    comp = (
        edges["compared"]
        .fillna("")
        .astype(str)
        .str.replace(r'[{}"]', "", regex=True)
        .str.replace(r"\s*\w+: -1(,|$)", "", regex=True)
        .str.strip(", ")
    )
    split = edges["stage"].astype(str) == "hub_split"
    by = kind.map({"phone": "phone", "name_address": "name and address"}).fillna(kind)
    text = ("shared " + kind + " " + value).where(
        edges["kind"].notna(), "p=" + prob.round(3).astype(str) + ": " + comp
    )
    text = text.mask(split, "order of a shared key, by recipient " + by + " " + value)
    return text.str.strip()


def changes(warehouse: Warehouse) -> pd.DataFrame:
    """Merges and splits of person ids in the last build (``person_id_history``)."""
    with opened(warehouse) as db:
        _require(db, "person_id_history")
        return db.df("identity_views.changes")


def _count_account_hubs(db: Runner) -> int:
    if "scope" not in db.df("identity_views.hub_columns").columns:
        return 0
    return int(db.scalar("identity_views.count_account_key_hubs"))


def summary(warehouse: Warehouse) -> dict[str, Any]:
    """Headline numbers: accounts, persons, recognition rate, edges by stage, hubs, changes.

    ``hubs`` counts every row of ``identity_hubs``; ``account_key_hubs`` those that
    are accounts shared by many buyers.
    """
    with opened(warehouse) as db:
        _require(db, "person_accounts", "identity_edges", "identity_hubs", "person_id_history")
        row = db.rows("identity_views.headline")[0]
        stages = dict(db.rows("identity_views.used_edges_by_stage"))
        hist = dict(db.rows("identity_views.changes_by_reason"))
        n_hubs = int(db.scalar("identity_views.count_hubs"))
        n_key_hubs = _count_account_hubs(db)
    return {
        "platform_accounts": int(row[0]),
        "persons": int(row[1]),
        "recognition_rate": float(row[2] or 0.0),
        "edges_by_stage": {k: int(v) for k, v in stages.items()},
        "hubs": n_hubs,
        "account_key_hubs": n_key_hubs,
        "merges": int(hist.get("merge", 0)),
        "splits": int(hist.get("split", 0)),
    }
