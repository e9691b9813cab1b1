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
#: column is personal data, masked on the way out like every other one
#: (``scrm_lib.privacy.PII_COLUMNS``).
EXTRAS_DOC = "unmapped source columns as JSON (personal data)"
PERSONAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "accounts": ("extras",),
    "orders": ("extras",),
    "events": ("extras",),
}

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
