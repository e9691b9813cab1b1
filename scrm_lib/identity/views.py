"""OneID for reports and pages: every function takes the warehouse file (or a connection).

The dashboard caches calls per build as ``query(func, **kw)`` → ``func(path, **kw)``,
and the ``identity`` notebook calls the same functions, so both show the same
numbers. Values are masked here where they leave the ledger (phones, e-mails);
names and account ids are masked by the caller's role (``privacy.mask_frame``).

A warehouse built before the identity step (or a hand-made one) has no
``person_accounts``: :func:`missing_tables` says so, and every other
function raises a one-line :class:`~scrm_lib.errors.ScrmError`.

Example
-------
>>> missing_tables("data/warehouse/scrm.duckdb")  # doctest: +SKIP
[]
>>> example_person("data/warehouse/scrm.duckdb")  # doctest: +SKIP
'P3F2A0B1C2D3E'
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from scrm_lib.access.privacy import mask_frame, mask_text
from scrm_lib.engine import Warehouse
from scrm_lib.errors import ScrmError
from scrm_lib.identity import ledger
from scrm_lib.identity._engine import opened, tables
from scrm_lib.identity.person360 import (
    person_accounts_of,
    person_identifiers,
    resolve_person,
    timeline,
)

#: Tables the identity build step writes.
IDENTITY_TABLES = ("person_accounts", "persons", "identity_edges", "identity_hubs")


def missing_tables(warehouse: Warehouse) -> list[str]:
    """Identity tables the warehouse lacks (empty: all there).

    Examples
    --------
    >>> import duckdb
    >>> missing_tables(duckdb.connect())
    ['person_accounts', 'persons', 'identity_edges', 'identity_hubs']
    """
    with opened(warehouse) as db:
        have = tables(db)
    return [t for t in IDENTITY_TABLES if t not in have]


def summary(warehouse: Warehouse) -> dict[str, Any]:
    """Headline numbers (:func:`.ledger.summary`)."""
    return ledger.summary(warehouse)


def recognition(warehouse: Warehouse) -> pd.DataFrame:
    """Recognition rate per platform and platform pair (:func:`.ledger.recognition`)."""
    return ledger.recognition(warehouse)


def overlap_matrix(warehouse: Warehouse) -> pd.DataFrame:
    """Platform × platform: share of the row platform's accounts whose person is also on the column.

    The diagonal is the share recognized on any other platform.
    """
    rec = recognition(warehouse)
    if rec.empty:
        return pd.DataFrame()
    m = rec.pivot_table(index="platform", columns="other_platform", values="rate", aggfunc="sum")
    plats = sorted(set(rec["platform"]))
    m = m.reindex(index=plats, columns=[*plats, "any"]).fillna(0.0)
    return m.rename_axis(index="platform", columns="also_on")


def cross_platform_new(warehouse: Warehouse) -> pd.DataFrame:
    """New accounts per month and platform, and those already known elsewhere.

    See :func:`.ledger.cross_platform_new`.
    """
    return ledger.cross_platform_new(warehouse)


def new_elsewhere_by_month(warehouse: Warehouse) -> pd.DataFrame:
    """All platforms together: ``month, new_accounts, known_elsewhere, share``."""
    df = cross_platform_new(warehouse)
    if df.empty:
        return pd.DataFrame(columns=["month", "new_accounts", "known_elsewhere", "share"])
    out = df.groupby("month", as_index=False)[["new_accounts", "known_elsewhere"]].sum()
    out["share"] = out["known_elsewhere"] / out["new_accounts"]
    return out


def hubs(warehouse: Warehouse, scope: str | None = None) -> pd.DataFrame:
    """Hubs, values masked (:func:`.ledger.hubs`).

    ``scope="account_key"``: accounts behind which many buyers' orders sit (a
    counter phone typed as the buyer's phone), with their evidence counts;
    ``scope="identifier"``: values shared by too many accounts; None: all rows.
    """
    return ledger.hubs(warehouse, scope)


def changes(warehouse: Warehouse) -> pd.DataFrame:
    """Merges and splits of person ids in the last build."""
    return ledger.changes(warehouse)


def example_person(warehouse: Warehouse) -> str | None:
    """A merged person worth explaining: most platforms, with both stages if any (stable choice)."""
    with opened(warehouse) as db:
        ledger._require(db, "person_accounts", "identity_edges")
        rows = db.rows("identity_views.example_person")
    return str(rows[0][0]) if rows else None


def explain(warehouse: Warehouse, key: str) -> dict[str, Any]:
    """Why the accounts of a person are one person (:func:`.ledger.explain`)."""
    return ledger.explain(warehouse, key)


def explain_frames(warehouse: Warehouse, key: str) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    """:func:`explain` as ``(person_id, accounts, edges)`` frames, masked, with ``evidence``.

    ``evidence`` reads ``shared phone 138****5678`` for a deterministic edge,
    ``p=0.998: name=2, mphone=1`` for a probabilistic one and ``order of a shared
    key, by recipient phone 139****0001`` for an order of an account-key hub
    (:func:`.ledger.edge_evidence`).
    """
    res = explain(warehouse, key)
    # Youzan account ids are phone numbers: masked like every other phone
    accounts = mask_frame(pd.DataFrame(res["accounts"]))
    if len(accounts):
        accounts["account_id"] = mask_text(accounts["account_id"]).astype(object)
    edges = pd.DataFrame(
        res["edges"],
        columns=[
            *("a", "b", "stage", "rule", "kind", "value"),
            *("match_probability", "compared", "used"),
        ],
    )
    if len(edges):
        edges["evidence"] = ledger.edge_evidence(edges)
    else:
        edges["evidence"] = pd.Series(dtype=str)
    for col in ("a", "b"):
        edges[col] = mask_text(edges[col].astype("string")).astype(object)
    return res["person_id"], accounts, edges


def search(warehouse: Warehouse, text: str, *, limit: int = 20) -> pd.DataFrame:
    """Persons matching a phone (any form, or its last digits), a name, an account or person id.

    Returns
    -------
    pandas.DataFrame
        Rows of the ``persons`` mart (``person_id`` first), at most ``limit``.

    Examples
    --------
    >>> search("data/warehouse/scrm.duckdb", "5678")  # doctest: +SKIP
    """
    text = (text or "").strip()
    if not text:
        raise ScrmError("type a phone, name, account id or person id to search")
    if limit < 1:
        raise ScrmError(f"limit must be ≥ 1, not {limit}")
    digits = "".join(ch for ch in text if ch.isdigit())
    with opened(warehouse) as db:
        ledger._require(db, "person_accounts", "persons")
        return db.df("identity_views.search", {"t": text, "d": digits, "n": int(limit)})


def person_card(warehouse: Warehouse, key: str, *, max_rows: int = 50) -> dict[str, Any]:
    """Everything Customer 360 shows for one person.

    Returns
    -------
    dict
        ``person_id``; ``person`` (the ``persons`` row as a dict); ``accounts``;
        ``identifiers`` (``role`` = identifier kind, ``value`` unmasked: mask
        by the viewer's role); ``timeline`` (newest ``max_rows``, details with
        phones masked).
    """
    with opened(warehouse) as db:
        ledger._require(db, "person_accounts", "persons")
        pid = resolve_person(db, key)
        person = db.df("identity_views.person", {"pid": pid})
        accounts = person_accounts_of(db, pid)
        ids = person_identifiers(db, pid).rename(columns={"kind": "role"})
        tl = timeline(pid, warehouse=db, limit=max_rows)
    # SMS contact points (phone:+86…) and Youzan members carry the phone in their id
    for col in ("detail", "account_id"):
        tl[col] = mask_text(tl[col].astype("string")).astype(object)
    return {
        "person_id": pid,
        "person": person.iloc[0].to_dict() if len(person) else {},
        "accounts": accounts,
        "identifiers": ids,
        "timeline": tl,
    }


def plot_recognition(rec: pd.DataFrame) -> Any:
    """Bar chart: recognition rate per platform (share in persons with two or more accounts)."""
    import plotly.express as px

    anyp = rec[rec["other_platform"] == "any"]
    fig = px.bar(
        anyp,
        x="platform",
        y="rate",
        text=anyp["rate"].map("{:.0%}".format),
        title="识别率 / Recognition rate by platform",
    )
    fig.update_yaxes(tickformat=".0%", range=[0, 1])
    return fig


def plot_overlap(matrix: pd.DataFrame) -> Any:
    """Heat map of :func:`overlap_matrix`."""
    import plotly.express as px

    fig = px.imshow(
        matrix,
        text_auto=".0%",
        color_continuous_scale="Blues",
        zmin=0,
        zmax=1,
        title="平台重叠 / Platform-pair overlap (row accounts also on column)",
    )
    return fig


def plot_new_elsewhere(monthly: pd.DataFrame) -> Any:
    """Line: share of each month's new accounts already customers on another platform."""
    import plotly.express as px

    fig = px.line(
        monthly,
        x="month",
        y="share",
        markers=True,
        title='"新"客户中的老客户 / "New" accounts already known elsewhere',
    )
    fig.update_yaxes(tickformat=".0%", range=[0, 1])
    return fig


__all__ = [
    "IDENTITY_TABLES",
    "changes",
    "cross_platform_new",
    "example_person",
    "explain",
    "explain_frames",
    "hubs",
    "missing_tables",
    "new_elsewhere_by_month",
    "overlap_matrix",
    "person_card",
    "plot_new_elsewhere",
    "plot_overlap",
    "plot_recognition",
    "recognition",
    "search",
    "summary",
]
