"""Read the merge ledger: why accounts are one person, and identity reports.

Example
-------
>>> explain(open_warehouse(), "tmall:tb_小王88")["edges"][0]["rule"]  # doctest: +SKIP
'shared_phone'
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from scrm_lib.errors import ScrmError
from scrm_lib.identity.graph import raw_duckdb
from scrm_lib.identity.person360 import person_accounts_of, resolve_person
from scrm_lib.privacy import mask_text


def _require(db: Any, *tables: str) -> None:
    have = {r[0] for r in db.execute("SHOW TABLES").fetchall()}
    missing = [t for t in tables if t not in have]
    if missing:
        raise ScrmError(
            f"the warehouse has no {missing[0]} table: rebuild with `scrm build` "
            "(the identity step writes it)"
        )


def explain(con: Any, key: str) -> dict[str, Any]:
    """Why the accounts of a person are one person: every ledger edge among them.

    Parameters
    ----------
    con
        Warehouse connection.
    key
        Account id, person id, phone or exact name.

    Returns
    -------
    dict
        ``person_id``, ``accounts`` (list of dicts), ``edges``: each with ``a``,
        ``b``, ``stage``, ``rule``, ``kind``, ``value`` (masked), ``match_probability``,
        ``compared`` and ``used`` (False: cut by an override or hub guard).
    """
    db = raw_duckdb(con)
    _require(db, "person_accounts", "identity_edges")
    pid = resolve_person(db, key)
    accounts = person_accounts_of(db, pid).astype({"first_seen": str})
    accounts = accounts.astype(object).where(accounts.notna(), None)
    edges = db.execute(
        """
        WITH acc AS (SELECT account_id FROM person_accounts WHERE person_id = ?)
        SELECT a, b, stage, rule, kind, value, match_probability, compared, used
        FROM identity_edges
        WHERE a IN (SELECT account_id FROM acc) OR b IN (SELECT account_id FROM acc)
        ORDER BY used DESC, stage, a, b
        """,
        [pid],
    ).df()
    edges["value"] = mask_text(edges["value"].astype("string")).astype(object)
    edges = edges.astype(object).where(edges.notna(), None)
    return {
        "person_id": pid,
        "accounts": accounts.to_dict(orient="records"),
        "edges": edges.to_dict(orient="records"),
    }


def recognition(con: Any) -> pd.DataFrame:
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
    db = raw_duckdb(con)
    _require(db, "person_accounts")
    return db.execute(
        """
        WITH pa AS (
            SELECT account_id, person_id, split_part(account_id, ':', 1) AS platform
            FROM person_accounts WHERE NOT starts_with(account_id, 'phone:')
        ),
        per AS (SELECT person_id, count(*) AS n FROM pa GROUP BY 1),
        plats AS (SELECT DISTINCT person_id, platform FROM pa),
        tot AS (SELECT platform, count(*) AS accounts FROM pa GROUP BY 1)
        SELECT pa.platform, 'any' AS other_platform, count(*) AS accounts,
               count(*) FILTER (WHERE per.n >= 2) AS recognized,
               count(*) FILTER (WHERE per.n >= 2) / count(*) AS rate
        FROM pa JOIN per USING (person_id) GROUP BY 1
        UNION ALL
        SELECT pa.platform, o.platform, any_value(tot.accounts), count(DISTINCT pa.account_id),
               count(DISTINCT pa.account_id) / any_value(tot.accounts)
        FROM pa JOIN plats o ON o.person_id = pa.person_id AND o.platform <> pa.platform
        JOIN tot ON tot.platform = pa.platform
        GROUP BY 1, 2
        ORDER BY 1, 2
        """
    ).df()


def cross_platform_new(con: Any) -> pd.DataFrame:
    """Per month: accounts new on their platform that were already customers elsewhere.

    Returns
    -------
    pandas.DataFrame
        ``month, platform, new_accounts, known_elsewhere, share``: an account is
        known elsewhere when another account of its person was seen earlier.
    """
    db = raw_duckdb(con)
    _require(db, "person_accounts")
    return db.execute(
        """
        WITH a AS (
            SELECT pa.person_id, ac.account_id, split_part(ac.account_id, ':', 1) AS platform,
                   ac.first_seen
            FROM person_accounts pa JOIN accounts ac USING (account_id)
            WHERE NOT starts_with(ac.account_id, 'phone:') AND ac.first_seen IS NOT NULL
        ),
        earliest AS (
            SELECT a.account_id, min(o.first_seen) AS other_first
            FROM a JOIN a o ON o.person_id = a.person_id AND o.platform <> a.platform
            GROUP BY 1
        )
        SELECT date_trunc('month', a.first_seen)::DATE AS month, a.platform,
               count(*) AS new_accounts,
               count(*) FILTER (WHERE e.other_first < a.first_seen) AS known_elsewhere,
               count(*) FILTER (WHERE e.other_first < a.first_seen) / count(*) AS share
        FROM a LEFT JOIN earliest e USING (account_id)
        GROUP BY 1, 2 ORDER BY 1, 2
        """
    ).df()


def hubs(con: Any) -> pd.DataFrame:
    """Identifier values shared by more accounts than the hub limit (values masked)."""
    db = raw_duckdb(con)
    _require(db, "identity_hubs")
    df = db.execute("SELECT * FROM identity_hubs ORDER BY n_accounts DESC").df()
    df["value"] = mask_text(df["value"].astype("string")).astype(object)
    return df


def changes(con: Any) -> pd.DataFrame:
    """Merges and splits of person ids in the last build (``person_id_history``)."""
    db = raw_duckdb(con)
    _require(db, "person_id_history")
    return db.execute("SELECT * FROM person_id_history ORDER BY reason, old_person_id").df()


def summary(con: Any) -> dict[str, Any]:
    """Headline numbers: accounts, persons, recognition rate, edges by stage, hubs, changes."""
    db = raw_duckdb(con)
    _require(db, "person_accounts", "identity_edges", "identity_hubs", "person_id_history")
    row = db.execute(
        """
        WITH pa AS (SELECT * FROM person_accounts WHERE NOT starts_with(account_id, 'phone:')),
        per AS (SELECT person_id, count(*) AS n FROM pa GROUP BY 1)
        SELECT (SELECT count(*) FROM pa), (SELECT count(*) FROM per),
               (SELECT sum(n) FILTER (WHERE n >= 2) / sum(n) FROM per)
        """
    ).fetchone()
    stages = dict(
        db.execute(
            "SELECT stage, count(*) FROM identity_edges WHERE used GROUP BY 1 ORDER BY 1"
        ).fetchall()
    )
    hist = dict(db.execute("SELECT reason, count(*) FROM person_id_history GROUP BY 1").fetchall())
    return {
        "platform_accounts": int(row[0]),
        "persons": int(row[1]),
        "recognition_rate": float(row[2] or 0.0),
        "edges_by_stage": {k: int(v) for k, v in stages.items()},
        "hubs": int(db.execute("SELECT count(*) FROM identity_hubs").fetchone()[0]),
        "merges": int(hist.get("merge", 0)),
        "splits": int(hist.get("split", 0)),
    }
