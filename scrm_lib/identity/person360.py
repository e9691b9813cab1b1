"""Customer 360: the ``persons`` mart and one person's journey timeline.

Example
-------
>>> timeline("P0A1B2C3D4E5F")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from scrm_lib.errors import ScrmError
from scrm_lib.identity.graph import raw_duckdb

_PERSONS_SQL = r"""
CREATE OR REPLACE TABLE persons AS
WITH acc AS (
    SELECT pa.person_id, a.account_id, split_part(a.account_id, ':', 1) AS platform,
           a.first_seen, a.channel_code
    FROM person_accounts pa JOIN accounts a USING (account_id)
),
activity AS (
    SELECT account_id, max(coalesce(paid_at, created_at)) AS ts FROM orders GROUP BY 1
    UNION ALL SELECT account_id, max(ts) FROM events GROUP BY 1
    UNION ALL SELECT account_id, max(ts) FROM messages GROUP BY 1
    UNION ALL SELECT account_id, max(ts) FROM touches GROUP BY 1
),
last AS (SELECT account_id, max(ts) AS ts FROM activity GROUP BY 1),
ident AS (
    SELECT pa.person_id,
        min(CASE WHEN i.kind = 'phone' AND i.value LIKE '+861%'
                 THEN substr(i.value, 4, 3) || '****' || substr(i.value, 11, 4) END)
            AS phone_masked,
        min(CASE WHEN i.kind = 'name' THEN i.value END) AS name,
        min(CASE WHEN i.kind = 'city' THEN i.value END) AS city
    FROM person_accounts pa JOIN identifiers i USING (account_id)
    GROUP BY 1
)
SELECT acc.person_id,
    count(*) AS n_accounts,
    string_agg(DISTINCT acc.platform, ',' ORDER BY acc.platform) AS platforms,
    count(DISTINCT acc.platform) FILTER (WHERE acc.platform <> 'phone') AS n_platforms,
    min(acc.first_seen) AS first_seen,
    greatest(max(acc.first_seen), max(last.ts)) AS last_seen,
    arg_min(acc.platform, acc.first_seen) AS acquisition_platform,
    arg_min(acc.channel_code, acc.first_seen) FILTER (WHERE acc.channel_code IS NOT NULL)
        AS acquisition_channel,
    any_value(ident.phone_masked) AS phone_masked,
    -- first character kept (张**): the mart is read by every role
    any_value(substr(ident.name, 1, 1) || repeat('*', length(ident.name) - 1)) AS name_masked,
    any_value(ident.city) AS city
FROM acc
LEFT JOIN last USING (account_id)
LEFT JOIN ident USING (person_id)
GROUP BY acc.person_id
ORDER BY acc.person_id
"""


def build_persons(con: Any) -> int:
    """Write the ``persons`` mart from ``person_accounts`` and the canonical tables."""
    db = raw_duckdb(con)
    db.execute(_PERSONS_SQL)
    return int(db.execute("SELECT count(*) FROM persons").fetchone()[0])


def resolve_person(con: Any, key: str) -> str:
    """The person id behind a person id, an account id, a phone (any form) or an exact name.

    Examples
    --------
    >>> resolve_person(open_warehouse(), "youzan:+8613812345678")  # doctest: +SKIP
    'P3F2A...'
    """
    db = raw_duckdb(con)
    key = (key or "").strip()
    if not key:
        raise ScrmError("give a person id, account id, phone or name")
    digits = "".join(ch for ch in key if ch.isdigit())
    phone = "+86" + digits[-11:] if len(digits) >= 11 else None
    row = db.execute(
        """
        SELECT person_id FROM person_accounts WHERE person_id = $k OR account_id = $k
        UNION ALL
        SELECT pa.person_id FROM identifiers i JOIN person_accounts pa USING (account_id)
        WHERE (i.kind = 'phone' AND i.value = $p) OR (i.kind = 'name' AND i.value = $k)
        LIMIT 1
        """,
        {"k": key, "p": phone},
    ).fetchone()
    if row is None:
        raise ScrmError(f"no person, account, phone or name matches {key!r}")
    return str(row[0])


def person_accounts_of(con: Any, person_id: str) -> pd.DataFrame:
    """The accounts of one person with their platform and first sighting."""
    db = raw_duckdb(con)
    return db.execute(
        """
        SELECT a.account_id, split_part(a.account_id, ':', 1) AS platform, a.display_name,
               a.first_seen, a.channel_code
        FROM person_accounts pa JOIN accounts a USING (account_id)
        WHERE pa.person_id = ? ORDER BY a.first_seen, a.account_id
        """,
        [person_id],
    ).df()


def person_identifiers(con: Any, person_id: str) -> pd.DataFrame:
    """Identifiers of one person's accounts by role (kind), for masking by the caller."""
    db = raw_duckdb(con)
    return db.execute(
        """
        SELECT i.kind, i.value, i.account_id
        FROM person_accounts pa JOIN identifiers i USING (account_id)
        WHERE pa.person_id = ? ORDER BY i.kind, i.value, i.account_id
        """,
        [person_id],
    ).df()


_TIMELINE_SQL = """
WITH acc AS (SELECT account_id FROM person_accounts WHERE person_id = $pid)
SELECT * FROM (
    SELECT coalesce(o.paid_at, o.created_at) AS ts, o.platform, o.account_id,
        CASE WHEN o.status = 'refunded' THEN 'refund' ELSE 'order' END AS type,
        o.order_id || ' ' || coalesce(o.items, '') AS detail,
        CAST(o.amount AS DOUBLE) AS amount
    FROM orders o JOIN acc USING (account_id)
    UNION ALL
    SELECT e.ts, split_part(e.account_id, ':', 1), e.account_id, e.type, e.attributes, NULL
    FROM events e JOIN acc USING (account_id)
    WHERE e.type IN ('qr_scan', 'group_join', 'group_leave', 'groupbuy_join', 'wecom_add',
                     'wecom_follow', 'wecom_customer_deleted_staff', 'share', 'cart_add')
    UNION ALL
    SELECT m.ts, split_part(m.account_id, ':', 1), m.account_id, 'message_' || m.direction,
        m.channel, NULL
    FROM messages m JOIN acc USING (account_id)
    UNION ALL
    SELECT t.ts, split_part(t.account_id, ':', 1), t.account_id, 'touch',
        t.channel || ' ' || coalesce(t.campaign, '') ||
        CASE WHEN t.clicked THEN ' clicked' WHEN t.opened THEN ' opened' ELSE '' END, NULL
    FROM touches t JOIN acc USING (account_id)
) ORDER BY ts, type, account_id
"""


def timeline(person_id: str, *, con: Any = None, limit: int | None = None) -> pd.DataFrame:
    """One person's chronological journey across platforms.

    Parameters
    ----------
    person_id
        A person id; an account id, phone or name is resolved to its person.
    con
        Warehouse connection (ibis DuckDB backend or DuckDB connection);
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
    if con is None:
        from scrm_lib.engine import open_warehouse

        con = open_warehouse()
    pid = resolve_person(con, person_id)
    df = raw_duckdb(con).execute(_TIMELINE_SQL, {"pid": pid}).df()
    if limit is not None:
        df = df.tail(limit).reset_index(drop=True)
    return df
