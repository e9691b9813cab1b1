"""Canonical tables: the contract between ingest and everything downstream.

Each table is an ibis schema, so the same definition types a DuckDB table,
a Spark table and the pandas frames an adapter hands over. ``KEYS`` names
the columns that identify a row: rows with the same key (the same order in
two overlapping exports, a duplicated line) are one row in the warehouse.

Times are UTC (``timestamp('UTC')``); money is ``decimal(18, 2)`` CNY;
refunds keep their row and carry ``status='refunded'`` and
``refund_amount``.

Example
-------
>>> from scrm_lib.schema import TABLES, KEYS
>>> KEYS["orders"]
('platform', 'order_id', 'line_id')
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt
import pandas as pd

TS = dt.Timestamp(timezone="UTC")
MONEY = dt.Decimal(18, 2)

TABLES: dict[str, ibis.Schema] = {
    # Every account seen in any source; ``first_seen`` is the earliest sighting.
    "accounts": ibis.schema(
        {
            "account_id": "string",
            "platform": "string",
            "native_id": "string",
            "display_name": "string",
            "first_seen": TS,
            "channel_code": "string",
            "extras": "string",  # see EXTRAS_DOC; personal data
            "source_file": "string",
        }
    ),
    # kind: phone (E.164), phone_masked, email, unionid, openid, external_userid,
    # member_no, alipay_masked, name, nickname, address, city, birthday, douyin_key.
    "identifiers": ibis.schema(
        {
            "account_id": "string",
            "kind": "string",
            "value": "string",
            "source_file": "string",
        }
    ),
    "orders": ibis.schema(
        {
            "platform": "string",
            "order_id": "string",
            "line_id": "string",  # sub-order id; "" when the export has one row per order
            "account_id": "string",
            "created_at": TS,
            "paid_at": TS,
            "amount": MONEY,  # what the buyer paid for this row, before refunds
            "shipping": MONEY,
            "refund_amount": MONEY,
            "status": "string",  # paid | refunded | cancelled | pending
            "status_raw": "string",
            "items": "string",
            "category": "string",
            "quantity": "int64",
            "shop": "string",
            "channel_code": "string",
            "influencer_id": "string",
            "traffic_source": "string",
            "groupbuy_id": "string",
            # ship-to of this order (personal data), kept per order: when the account key
            # is typed by staff (a counter phone), the order's own evidence of its buyer
            "recipient_name": "string",
            "recipient_phone": "string",  # E.164 when full, else as masked (138****5678)
            "recipient_address": "string",
            "extras": "string",  # see EXTRAS_DOC; personal data
            "source_file": "string",
            "source_line": "int64",
        }
    ),
    "events": ibis.schema(
        {
            "event_id": "string",  # content hash: the same event in two files is one row
            "account_id": "string",
            "ts": TS,
            "type": "string",
            "attributes": "string",  # JSON object
            "extras": "string",  # see EXTRAS_DOC; personal data
            "source_file": "string",
        }
    ),
    "messages": ibis.schema(
        {
            "message_id": "string",
            "account_id": "string",  # the customer in the conversation
            "ts": TS,
            "channel": "string",  # wecom_private | wecom_group
            "room_id": "string",
            "direction": "string",  # in (customer wrote) | out (staff wrote)
            "staff_id": "string",
            "text": "string",
            "source_file": "string",
        }
    ),
    "referrals": ibis.schema(
        {
            "inviter_account_id": "string",
            "invitee_account_id": "string",
            "ts": TS,
            "kind": "string",  # invite | group_leader | distributor
            "campaign": "string",
            "source_file": "string",
        }
    ),
    "touches": ibis.schema(
        {
            "touch_id": "string",
            "account_id": "string",
            "ts": TS,
            "channel": "string",
            "campaign": "string",
            "opened": "boolean",
            "clicked": "boolean",
            "source_file": "string",
        }
    ),
    "channels": ibis.schema(
        {
            "channel_id": "string",
            "name": "string",
            "type": "string",
            "cost": MONEY,
            "created_at": TS,
            "source_file": "string",
        }
    ),
    "assignments": ibis.schema(
        {
            "experiment": "string",
            "unit_type": "string",  # account | group
            "unit_id": "string",
            "variant": "string",
            "ts": TS,
            "source_file": "string",
        }
    ),
    "consent": ibis.schema(
        {
            "account_id": "string",
            "channel": "string",
            "granted": "boolean",
            "ts": TS,
            "source_file": "string",
        }
    ),
    "staff": ibis.schema(
        {
            "staff_id": "string",
            "name": "string",
            "department": "string",
            "source_file": "string",
        }
    ),
}

#: ``extras`` on accounts, orders and events: the source row's columns that no preset
#: field maps, as a JSON object keyed by the file's own header names (null when none).
#: They are kept rather than dropped, and may hold names, phones or addresses: the
#: column is personal data (:data:`PERSONAL_COLUMNS`), masked on the way out.
EXTRAS_DOC = "unmapped source columns as JSON (personal data)"

# ---------------------------------------------------------------- personal data
#
# The one declaration of which columns hold personal data and how each is masked
# on the way out (every dashboard table, every CSV/XLSX export, CLI or page):
# ``scrm_lib.access.privacy.mask_frame`` reads it and nothing else decides. The warehouse
# keeps clear values; only admins' unmask (audited) shows them.
#
# Kinds:
#   phone       138****5678 (a non-mobile number keeps its last four digits)
#   name        张** (the first character, one star per other character)
#   address     the first six characters, then …
#   email       a***@example.com
#   birthday    the year only: 1990-**-**
#   text        free text: phones, e-mails and ID-card numbers inside it masked
#   account     an account id ``platform:native``: the native part is masked when it is
#               a phone (phone:138****1351), an e-mail, holds a name (any non-ASCII
#               letter: tmall:夏**…) or is chosen by the user on its platform
#               (NICKNAME_PLATFORMS: dragon_liu is somebody's name); opaque platform
#               keys (openid, unionid, external_userid, hashed keys) are pseudonymous
#               and pass, so an export still joins back to the warehouse and platforms
#   identifier  masked by the row's identifier kind (``kind`` or ``role`` column,
#               IDENTIFIER_KINDS); an unknown kind is masked as a name
#   json        a JSON object (extras, attributes): keys kept, every string value cut
#               to its first character, phones and e-mails in numbers or text masked
#
# Marts and state tables are declared here by table name too; frames a page or an
# export computes (joins, renamed columns) fall back to PERSONAL_COLUMN_NAMES, then
# to the name patterns in ``scrm_lib.access.privacy``.
PERSONAL_KINDS = (
    "phone", "name", "address", "email", "birthday", "text", "account", "identifier", "json",
)  # fmt: skip

PERSONAL_COLUMNS: dict[str, dict[str, str]] = {
    # canonical tables
    "accounts": {
        "account_id": "account",
        "native_id": "account",
        "display_name": "name",
        "extras": "json",
    },
    "identifiers": {"account_id": "account", "value": "identifier"},
    "orders": {
        "account_id": "account",
        # an influencer or a group-buy leader is a person with a platform account too
        "influencer_id": "account",
        "recipient_name": "name",
        "recipient_phone": "phone",
        "recipient_address": "address",
        "extras": "json",
    },
    "events": {"account_id": "account", "attributes": "json", "extras": "json"},
    "messages": {"account_id": "account", "text": "text"},
    "referrals": {"inviter_account_id": "account", "invitee_account_id": "account"},
    "touches": {"account_id": "account"},
    "assignments": {"unit_id": "account"},  # an account id when unit_type = account
    "consent": {"account_id": "account"},
    "staff": {"name": "name"},
    "rejects": {"raw_value": "text"},
    # identity marts (scrm_lib.identity) and its state table
    "person_accounts": {"account_id": "account"},
    "persons": {"phone_masked": "phone", "name_masked": "name"},
    "identity_edges": {"a": "account", "b": "account", "value": "identifier"},
    "identity_hubs": {"account_id": "account", "value": "identifier"},
    "identity_hub_orders": {
        "hub_account_id": "account",
        "account_id": "account",
        "evidence": "text",
    },
    "identity_overrides": {"account_a": "account", "account_b": "account"},
}

#: Columns of computed frames, by name alone: the canonical names above (where every
#: table agrees on the kind) plus what pages and exports call them after a join.
PERSONAL_COLUMN_NAMES: dict[str, str] = {
    **{
        col: kind
        for cols in PERSONAL_COLUMNS.values()
        for col, kind in cols.items()
        if col not in ("a", "b")  # too generic alone: declared by table only
    },
    "phone": "phone",
    "email": "email",
    "address": "address",
    "nickname": "name",
    "detail": "text",  # the Customer 360 timeline
    "example_values": "text",  # Data health: rejected raw values by reason (lists)
    "left_id": "account",  # `scrm identity link-lists`: a list's own row ids
    "right_id": "account",
}

#: How each identifier kind (``identifiers.kind``) is masked; opaque platform keys as
#: account natives (pseudonymous unless they look like a phone or a name); ``None``
#: is not personal on its own.
IDENTIFIER_KINDS: dict[str, str | None] = {
    "phone": "phone",
    "phone_masked": "phone",
    "recipient_phone": "phone",
    "alipay_masked": "text",  # a masked phone or e-mail
    "email": "email",
    "name": "name",
    "nickname": "name",
    "recipient_name": "name",
    "address": "address",
    "recipient_address": "address",
    "birthday": "birthday",
    "city": None,
    "unionid": "account",
    "openid": "account",
    "external_userid": "account",
    "douyin_key": "account",
    "device": "account",
    "member_no": "account",
}

#: Platforms whose account key is a nickname the buyer typed (a Tmall 买家会员名):
#: masked whatever its script, since ``dragon_liu`` names a person as much as 刘龙 does.
NICKNAME_PLATFORMS = ("tmall",)

KEYS: dict[str, tuple[str, ...]] = {
    "accounts": ("account_id",),
    "identifiers": ("account_id", "kind", "value"),
    "orders": ("platform", "order_id", "line_id"),
    "events": ("event_id",),
    "messages": ("message_id",),
    "referrals": ("inviter_account_id", "invitee_account_id", "kind"),
    "touches": ("touch_id",),
    "channels": ("channel_id",),
    "assignments": ("experiment", "unit_type", "unit_id"),
    "consent": ("account_id", "channel", "ts"),
    "staff": ("staff_id",),
}

REJECTS = ibis.schema(
    {
        "file": "string",
        "line": "int64",  # 1-based line (CSV) or row (Excel) or record (JSON lines) in the file
        "column": "string",
        "reason": "string",
        "raw_value": "string",
    }
)


def empty_frame(table: str) -> pd.DataFrame:
    """An empty pandas frame with the canonical columns and dtypes of ``table``."""
    return conform(pd.DataFrame(), table)


def conform(df: pd.DataFrame, table: str) -> pd.DataFrame:
    """Return ``df`` with exactly the canonical columns of ``table``, in order.

    Missing columns are added as nulls; extra columns are dropped. Values are
    cast to the pandas dtype of the canonical type (money stays float here;
    the warehouse stores it as DECIMAL(18, 2)).
    """
    schema = REJECTS if table == "rejects" else TABLES[table]
    out = pd.DataFrame(index=df.index)
    for name, dtype in schema.items():
        col = df[name] if name in df.columns else pd.Series(pd.NA, index=df.index)
        out[name] = _cast(col, dtype)
    return out.reset_index(drop=True)


def _cast(col: pd.Series, dtype: dt.DataType) -> pd.Series:
    if dtype.is_timestamp():
        return pd.to_datetime(col, utc=True).astype("datetime64[us, UTC]")
    if dtype.is_decimal() or dtype.is_floating():
        return pd.to_numeric(col).astype("Float64")
    if dtype.is_integer():
        return pd.to_numeric(col).astype("Int64")
    if dtype.is_boolean():
        return col.astype("boolean")
    return col.astype("string")
