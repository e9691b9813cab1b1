"""Account-key hubs: an account whose key was typed by staff for many buyers.

Where an export's account key is something staff can type (Youzan's 买家手机号
is the account, a store logs in to Tmall with one 买家会员名, a counter tablet
holds one mini-program openid), a shop that types its counter phone for every
walk-in makes one "account" of hundreds of people. The identifier hub guard
(:func:`.graph.deterministic_edges`) never sees it: the value is on one account
only. It shows in the orders instead: many different recipients (names,
phones, addresses) or devices behind one account, where a real customer who
sends gifts has a handful.

:func:`detect` finds them from the data (one group-by over ``orders`` and
``identifiers`` in DuckDB; limits ``account_hub_limit`` and
``account_hub_device_limit`` of ``[identity]``). :func:`split` then takes each
such account apart in the warehouse being built, because every mart reads
orders through ``orders.account_id → person_accounts``: re-keying the orders
once here is what keeps RFM, CLV, churn, experiments and segments from ever
seeing the hub as a customer, with no per-consumer special case. Each order of
a hub goes to its own evidence, in this order:

1. the recipient's full phone: the account ``<platform>:<E.164>`` on a platform
   whose account key is the phone (Youzan: the recipient's own member account,
   if they have one), else ``<platform>:~<E.164>``; it carries the phone as a
   linking ``phone``, so the deterministic stage joins it to whoever holds that
   phone elsewhere;
2. the recipient's name and address: ``<platform>:~<digest>``, carrying
   ``name`` and ``address`` for the probabilistic stage;
3. nothing: the order stays on the hub account, which is never merged with
   anyone and whose orders no per-person mart counts
   (:func:`unattributed_accounts`); brand-level totals (GMV) still count them.

A derived account's name (its ``display_name`` and ``name`` identifier) is the
recipient as typed, cleaned by :func:`scrm_lib.ingest.names.clean_person_name`
like every other recipient name (``孙梅 杭州`` → ``孙梅``; ``王女士`` gives none).

The recipient-describing identifiers of the hub account (names, addresses,
recipient phones) are dropped from it: they now sit on the derived accounts and
on each order's ``recipient_*`` columns. Every re-keyed order is listed in
``identity_hub_orders`` and every derived account in the ledger
(``identity_edges``, stage ``hub_split``, never used to link).

Example
-------
>>> hubs = detect(con, identity_config({}))  # doctest: +SKIP
>>> hubs[["account_id", "n_orders", "n_receiver_names"]]  # doctest: +SKIP
             account_id  n_orders  n_receiver_names
0  youzan:+8613800138000       150               150
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from scrm_lib.identity.config import IdentityConfig
from scrm_lib.identity.graph import raw_duckdb
from scrm_lib.ingest.names import clean_person_name

#: Columns of an account-key hub row (as in ``identity_hubs``).
HUB_COLUMNS = [
    "account_id",
    "kind",
    "value",
    "n_orders",
    "n_receiver_names",
    "n_receiver_phones",
    "n_addresses",
    "n_devices",
]
#: Columns of ``identity_hub_orders``: one row per order line of a hub account.
ORDER_COLUMNS = [
    "platform",
    "order_id",
    "line_id",
    "hub_account_id",
    "account_id",
    "evidence",
    "build_id",
]
#: Identifier kinds that describe a hub's recipients, not its key: moved off the hub.
RECIPIENT_KINDS = ("name", "address", "city", "recipient_phone", "phone_masked")

# A full mainland mobile, and its 138****5678 form, so that an export showing the
# full phone and one showing it masked count one recipient, not two.
_MASKED = r"""
    CASE WHEN regexp_full_match({v}, '\+861[0-9]{{10}}')
         THEN substr({v}, 4, 3) || '****' || substr({v}, 11, 4)
         ELSE nullif(trim({v}), '') END"""

_DETECT_SQL = f"""
WITH rows_per AS (
    SELECT account_id, count(*) AS n_rows FROM orders
    WHERE account_id IS NOT NULL AND account_id <> '' GROUP BY 1
),
ids_per AS (
    SELECT account_id,
        count(*) FILTER (WHERE kind <> 'device') AS n_ids,
        count(*) FILTER (WHERE kind = 'device') AS n_dev
    FROM identifiers
    WHERE kind IN ('name', 'address', 'recipient_phone', 'phone_masked', 'device')
    GROUP BY 1
),
-- distinct recipients can be no more than order rows plus identifier rows: counting
-- them (the costly part) only where that sum passes the limit keeps a million-person
-- build from grouping every order twice
cand AS (
    SELECT account_id FROM rows_per LEFT JOIN ids_per USING (account_id)
    WHERE n_rows + coalesce(n_ids, 0) > $limit
    UNION
    SELECT account_id FROM ids_per WHERE n_dev > $device_limit
),
o AS (
    SELECT account_id, order_id,
        nullif(trim(recipient_name), '') AS name,
        {_MASKED.format(v="recipient_phone")} AS phone,
        nullif(regexp_replace(recipient_address, '\\s+', '', 'g'), '') AS address
    FROM orders WHERE account_id IN (SELECT account_id FROM cand)
),
n AS (SELECT account_id, count(DISTINCT order_id) AS n_orders FROM o GROUP BY 1),
ev AS (
    SELECT account_id, 'name' AS k, name AS v FROM o
    UNION ALL SELECT account_id, 'phone', phone FROM o
    UNION ALL SELECT account_id, 'address', address FROM o
    -- exports that keep the recipient only as identifiers (and devices, on any account)
    UNION ALL
    SELECT account_id,
        CASE WHEN kind IN ('recipient_phone', 'phone_masked') THEN 'phone' ELSE kind END,
        CASE WHEN kind = 'address' THEN nullif(regexp_replace(value, '\\s+', '', 'g'), '')
             WHEN kind = 'device' THEN nullif(trim(value), '')
             ELSE {_MASKED.format(v="value")} END
    FROM identifiers
    WHERE kind IN ('name', 'address', 'recipient_phone', 'phone_masked', 'device')
      AND account_id IN (SELECT account_id FROM cand)
),
counts AS (
    SELECT ev.account_id, coalesce(any_value(n.n_orders), 0) AS n_orders,
        count(DISTINCT v) FILTER (WHERE k = 'name') AS n_receiver_names,
        count(DISTINCT v) FILTER (WHERE k = 'phone') AS n_receiver_phones,
        count(DISTINCT v) FILTER (WHERE k = 'address') AS n_addresses,
        count(DISTINCT v) FILTER (WHERE k = 'device') AS n_devices
    FROM ev LEFT JOIN n USING (account_id)
    GROUP BY ev.account_id
),
-- names, phones and addresses count only behind orders: a WeCom contact's several
-- staff remarks are one person's names, not many buyers
hub AS (
    SELECT * FROM counts
    WHERE (n_orders > 0 AND greatest(n_receiver_names, n_receiver_phones, n_addresses) > $limit)
       OR n_devices > $device_limit
),
-- the key itself: the identifier equal to the account's native id (Youzan: its phone)
key AS (
    SELECT i.account_id, min(i.kind) AS kind
    FROM identifiers i JOIN accounts a ON a.account_id = i.account_id AND i.value = a.native_id
    WHERE i.account_id IN (SELECT account_id FROM hub)
    GROUP BY 1
)
SELECT hub.account_id, coalesce(key.kind, 'account') AS kind, a.native_id AS value,
    hub.n_orders::BIGINT AS n_orders, hub.n_receiver_names::BIGINT AS n_receiver_names,
    hub.n_receiver_phones::BIGINT AS n_receiver_phones,
    hub.n_addresses::BIGINT AS n_addresses, hub.n_devices::BIGINT AS n_devices
FROM hub JOIN accounts a USING (account_id) LEFT JOIN key USING (account_id)
ORDER BY hub.n_orders DESC, hub.account_id
"""

# Each order line of a hub and where it goes. A recipient phone that is itself a
# hub's key (the counter phone typed in both fields) is no evidence of anyone.
_ROUTE_SQL = """
CREATE OR REPLACE TEMP TABLE _hub_orders AS
WITH o AS (
    SELECT o.platform, o.order_id, o.line_id, o.account_id AS hub_account_id,
        h.kind = 'phone' AND o.account_id = o.platform || ':' || h.value AS keyed_by_phone,
        nullif(trim(o.recipient_name), '') AS name, n.clean AS clean_name,
        CASE WHEN regexp_full_match(o.recipient_phone, '\\+[1-9][0-9]{7,14}')
              AND o.recipient_phone NOT IN (SELECT value FROM _account_hubs WHERE kind = 'phone')
             THEN o.recipient_phone END AS phone,
        nullif(trim(o.recipient_address), '') AS address,
        least(o.created_at, coalesce(o.paid_at, o.created_at)) AS ts, o.source_file
    FROM orders o JOIN _account_hubs h ON o.account_id = h.account_id
    LEFT JOIN _hub_names n ON n.raw = nullif(trim(o.recipient_name), '')
)
SELECT *,
    CASE WHEN phone IS NOT NULL THEN 'receiver_phone'
         WHEN name IS NOT NULL AND address IS NOT NULL THEN 'receiver_name_address'
         ELSE 'unattributed' END AS evidence,
    CASE WHEN phone IS NOT NULL
             THEN platform || CASE WHEN keyed_by_phone THEN ':' ELSE ':~' END || phone
         WHEN name IS NOT NULL AND address IS NOT NULL
             THEN platform || ':~' || left(md5(coalesce(clean_name, name) || '|' ||
                  regexp_replace(address, '\\s+', '', 'g')), 16)
         ELSE hub_account_id END AS account_id
FROM o
"""


def detect(con: Any, cfg: IdentityConfig) -> pd.DataFrame:
    """Accounts whose key many buyers share, found from their orders' recipients and devices.

    Parameters
    ----------
    con
        DuckDB connection (or ibis DuckDB backend) with ``orders``, ``identifiers``
        and ``accounts``.
    cfg
        ``account_hub_limit`` (distinct recipient names, phones or addresses,
        each counted apart) and ``account_hub_device_limit``.

    Returns
    -------
    pandas.DataFrame
        :data:`HUB_COLUMNS`: the account, its key (``kind``: the identifier kind
        equal to its native id, e.g. ``phone`` on Youzan, else ``account``;
        ``value``: the native id) and the evidence counts.

    Examples
    --------
    >>> detect(con, identity_config({}))["account_id"].tolist()  # doctest: +SKIP
    ['youzan:+8613800138000']
    """
    db = raw_duckdb(con)
    sql = _DETECT_SQL.replace("$limit", str(int(cfg.account_hub_limit))).replace(
        "$device_limit", str(int(cfg.account_hub_device_limit))
    )
    return db.execute(sql).df().reindex(columns=HUB_COLUMNS)


def split(con: Any, hubs: pd.DataFrame, *, build_id: str = "") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Re-key the orders of hub accounts to their recipients' accounts, in the warehouse.

    Writes into ``orders`` (``account_id`` of the re-keyed lines), ``accounts``
    (the derived accounts; an existing one keeps its row, with an earlier
    ``first_seen`` if an order is older) and ``identifiers`` (the derived
    accounts' phone, name and address; the hub's :data:`RECIPIENT_KINDS` removed).

    Parameters
    ----------
    con
        DuckDB connection of the warehouse being built (read-write).
    hubs
        Rows of :func:`detect`.
    build_id
        Written on each output row.

    Returns
    -------
    orders : pandas.DataFrame
        :data:`ORDER_COLUMNS`, one row per order line of a hub (``evidence``:
        ``receiver_phone``, ``receiver_name_address`` or ``unattributed``, whose
        ``account_id`` stays the hub's).
    ledger : pandas.DataFrame
        ``a`` (hub), ``b`` (derived account), ``stage='hub_split'``, ``rule``
        (the evidence), ``kind`` (``phone`` or ``name_address``), ``value`` (the
        phone or the name), ``used`` False: it explains where orders came from, it
        links nothing.
    """
    db = raw_duckdb(con)
    if hubs.empty:
        empty = pd.DataFrame({c: pd.Series(dtype="string") for c in ORDER_COLUMNS})
        return empty, pd.DataFrame(columns=["a", "b", "stage", "rule", "kind", "value"])
    db.register("_account_hubs_df", hubs[["account_id", "kind", "value"]])
    try:
        db.execute("CREATE OR REPLACE TEMP TABLE _account_hubs AS SELECT * FROM _account_hubs_df")
    finally:
        db.unregister("_account_hubs_df")
    # a recipient as typed (孙梅 杭州, 王女士): the derived account's name is the person's
    # name in it, cleaned as ingest cleans every other recipient name; a title with a
    # surname alone names nobody, so that account carries no name
    raw = db.execute(
        """
        SELECT DISTINCT nullif(trim(o.recipient_name), '') AS raw
        FROM orders o JOIN _account_hubs h ON o.account_id = h.account_id
        WHERE nullif(trim(o.recipient_name), '') IS NOT NULL
        """
    ).df()
    names = pd.DataFrame(
        {"raw": raw["raw"].astype("string"), "clean": clean_person_name(raw["raw"])}
    )
    db.register("_hub_names_df", names)
    try:
        db.execute("CREATE OR REPLACE TEMP TABLE _hub_names AS SELECT * FROM _hub_names_df")
    finally:
        db.unregister("_hub_names_df")
    db.execute(_ROUTE_SQL)
    db.execute(
        """
        UPDATE orders SET account_id = m.account_id FROM _hub_orders m
        WHERE m.evidence <> 'unattributed' AND orders.platform = m.platform
          AND orders.order_id = m.order_id AND orders.line_id IS NOT DISTINCT FROM m.line_id
        """
    )
    db.execute(
        """
        CREATE OR REPLACE TEMP TABLE _hub_derived AS
        SELECT account_id, any_value(platform) AS platform, min(clean_name) AS name,
            min(ts) AS first_seen, min(source_file) AS source_file
        FROM _hub_orders WHERE evidence <> 'unattributed' GROUP BY account_id
        """
    )
    db.execute(
        """
        UPDATE accounts SET first_seen = d.first_seen FROM _hub_derived d
        WHERE accounts.account_id = d.account_id
          AND (accounts.first_seen IS NULL OR d.first_seen < accounts.first_seen)
        """
    )
    db.execute(
        """
        INSERT INTO accounts BY NAME
        SELECT account_id, platform, substr(account_id, length(platform) + 2) AS native_id,
            name AS display_name, first_seen, NULL AS channel_code, source_file
        FROM _hub_derived
        WHERE account_id NOT IN (SELECT account_id FROM accounts)
        """
    )
    db.execute(
        """
        DELETE FROM identifiers
        WHERE account_id IN (SELECT account_id FROM _account_hubs)
          AND kind IN (SELECT unnest(?::VARCHAR[]))
        """,
        [list(RECIPIENT_KINDS)],
    )
    db.execute(
        """
        INSERT INTO identifiers BY NAME
        SELECT DISTINCT account_id, kind, value, source_file FROM (
            SELECT account_id, 'phone' AS kind, phone AS value, source_file
            FROM _hub_orders WHERE evidence = 'receiver_phone'
            UNION ALL
            SELECT account_id, 'name', clean_name, source_file FROM _hub_orders
            WHERE evidence <> 'unattributed' AND clean_name IS NOT NULL
            UNION ALL
            SELECT account_id, 'address', address, source_file FROM _hub_orders
            WHERE evidence <> 'unattributed' AND address IS NOT NULL
        ) new
        WHERE NOT EXISTS (
            SELECT 1 FROM identifiers i
            WHERE i.account_id = new.account_id AND i.kind = new.kind AND i.value = new.value
        )
        QUALIFY row_number() OVER (PARTITION BY account_id, kind, value ORDER BY source_file) = 1
        """
    )
    orders = db.execute(
        "SELECT platform, order_id, line_id, hub_account_id, account_id, evidence "
        "FROM _hub_orders ORDER BY hub_account_id, platform, order_id, line_id"
    ).df()
    orders["build_id"] = build_id
    orders = orders.astype({c: "string" for c in ORDER_COLUMNS})
    ledger = db.execute(
        """
        SELECT hub_account_id AS a, account_id AS b, 'hub_split' AS stage, evidence AS rule,
            CASE evidence WHEN 'receiver_phone' THEN 'phone' ELSE 'name_address' END AS kind,
            min(CASE evidence WHEN 'receiver_phone' THEN phone
                ELSE coalesce(clean_name, name) END) AS value
        FROM _hub_orders WHERE evidence <> 'unattributed'
        GROUP BY hub_account_id, account_id, evidence ORDER BY a, b, rule
        """
    ).df()
    ledger["match_probability"] = float("nan")
    ledger["compared"] = None
    ledger["used"] = False
    return orders.reindex(columns=ORDER_COLUMNS), ledger


def unattributed_accounts(con: Any) -> Any:
    """The account-key hubs of a warehouse as an ibis table (``account_id``), or None.

    The orders still on such an account had no evidence of their buyer: no
    per-person number (RFM, CLV, churn) may count them as one person's.
    None when the warehouse predates account-key hubs (no ``scope`` column).

    Examples
    --------
    >>> orders.anti_join(unattributed_accounts(con), "account_id")  # doctest: +SKIP
    """
    if "identity_hubs" not in con.list_tables():
        return None
    t = con.table("identity_hubs")
    if "scope" not in t.columns or "account_id" not in t.columns:
        return None
    keys = t.filter(t.scope == "account_key")
    return keys.select(account_id=keys.account_id.cast("string")).distinct()


__all__ = ["HUB_COLUMNS", "ORDER_COLUMNS", "detect", "split", "unattributed_accounts"]
