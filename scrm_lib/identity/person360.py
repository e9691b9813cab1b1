"""Customer 360: the ``persons`` mart and one person's journey timeline.

Example
-------
>>> timeline("P0A1B2C3D4E5F")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from scrm_lib.engine import Warehouse
from scrm_lib.errors import ScrmError
from scrm_lib.identity._engine import opened, runner


def build_persons(con: Any) -> int:
    """Write the ``persons`` mart from ``person_accounts`` and the canonical tables."""
    db = runner(con)
    db.query("identity.build_persons", table="persons")
    return int(db.scalar("identity.count_persons"))


def resolve_person(warehouse: Warehouse, key: str) -> str:
    """The person id behind a person id, an account id, a phone (any form) or an exact name.

    Examples
    --------
    >>> resolve_person(open_warehouse(), "youzan:+8613812345678")  # doctest: +SKIP
    'P3F2A...'
    """
    key = (key or "").strip()
    if not key:
        raise ScrmError("give a person id, account id, phone or name")
    digits = "".join(ch for ch in key if ch.isdigit())
    phone = "+86" + digits[-11:] if len(digits) >= 11 else None
    with opened(warehouse) as db:
        rows = db.rows("identity_views.resolve_person", {"k": key, "p": phone})
    if not rows:
        raise ScrmError(f"no person, account, phone or name matches {key!r}")
    return str(rows[0][0])


def person_accounts_of(warehouse: Warehouse, person_id: str) -> pd.DataFrame:
    """The accounts of one person with their platform and first sighting."""
    with opened(warehouse) as db:
        return db.df("identity_views.person_accounts", {"pid": person_id})


def person_identifiers(warehouse: Warehouse, person_id: str) -> pd.DataFrame:
    """Identifiers of one person's accounts by role (kind), for masking by the caller."""
    with opened(warehouse) as db:
        return db.df("identity_views.person_identifiers", {"pid": person_id})


def timeline(
    person_id: str, *, warehouse: Warehouse = None, limit: int | None = None
) -> pd.DataFrame:
    """One person's chronological journey across platforms.

    Parameters
    ----------
    person_id
        A person id; an account id, phone or name is resolved to its person.
    warehouse
        Warehouse file or connection (ibis backend or DuckDB connection);
        default: the published warehouse, read-only.
    limit
        Keep only the newest ``limit`` rows (still in time order).

    Returns
    -------
    pandas.DataFrame
        ``ts, platform, account_id, type, detail, amount``: orders, refunds, QR
        scans, group joins, group-buys, messages and marketing touches.

    Examples
    --------
    >>> timeline("wechat:o1")["type"].unique()  # doctest: +SKIP
    array(['qr_scan', 'order', 'touch'], dtype=object)
    """
    if limit is not None and limit < 1:
        raise ScrmError(f"limit must be ≥ 1, not {limit}")
    with opened(warehouse) as db:
        pid = resolve_person(db, person_id)
        df = db.df("identity_views.timeline", {"pid": pid})
    if limit is not None:
        df = df.tail(limit).reset_index(drop=True)
    return df
