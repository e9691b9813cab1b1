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

from scrm_lib.engine.splink import registered
from scrm_lib.identity._engine import runner
from scrm_lib.identity.config import IdentityConfig
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


def detect(con: Any, cfg: IdentityConfig) -> pd.DataFrame:
    """Accounts whose key many buyers share, found from their orders' recipients and devices.

    Parameters
    ----------
    con
        The warehouse's engine (DuckDB or Spark) with ``orders``, ``identifiers``
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
    limits = {
        "limit": int(cfg.account_hub_limit),
        "device_limit": int(cfg.account_hub_device_limit),
    }
    return runner(con).df("identity_hubs.detect", limits).reindex(columns=HUB_COLUMNS)


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
    run = runner(con)
    if hubs.empty:
        empty = pd.DataFrame({c: pd.Series(dtype="string") for c in ORDER_COLUMNS})
        return empty, pd.DataFrame(columns=["a", "b", "stage", "rule", "kind", "value"])
    with registered(run, "_account_hubs_df", hubs[["account_id", "kind", "value"]]) as frame:
        run.query("identity.keep_frame", target="_account_hubs", frame=frame)
    # a recipient as typed (孙梅 杭州, 王女士): the derived account's name is the person's
    # name in it, cleaned as ingest cleans every other recipient name; a title with a
    # surname alone names nobody, so that account carries no name
    raw = run.df("identity_hubs.recipient_names")
    names = pd.DataFrame(
        {"raw": raw["raw"].astype("string"), "clean": clean_person_name(raw["raw"])}
    )
    with registered(run, "_hub_names_df", names) as frame:
        run.query("identity.keep_frame", target="_hub_names", frame=frame)
    run.query("identity_hubs.route")
    run.query("identity_hubs.rekey_orders", table="orders")
    run.query("identity_hubs.derived_accounts")
    run.query("identity_hubs.earlier_first_seen", table="accounts")
    run.query("identity_hubs.add_accounts", table="accounts")
    run.query(
        "identity_hubs.drop_recipient_identifiers",
        {"kinds": list(RECIPIENT_KINDS)},
        table="identifiers",
    )
    run.query("identity_hubs.add_identifiers", table="identifiers")
    orders = run.df("identity_hubs.hub_orders")
    orders["build_id"] = build_id
    orders = orders.astype({c: "string" for c in ORDER_COLUMNS})
    ledger = run.df("identity_hubs.split_ledger")
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
