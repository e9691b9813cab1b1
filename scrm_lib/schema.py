"""Canonical tables: the contract between ingest and everything downstream.

Each table is an ibis schema, so the same definition types a DuckDB table,
a Spark table and the pandas frames an adapter hands over. ``KEYS`` names
the columns that identify a row: rows with the same key (the same order in
two overlapping exports, a duplicated line) are one row in the warehouse.

Times are UTC (``timestamp('UTC')``); money is ``decimal(18, 2)`` CNY;
refunds keep their row and carry ``status='refunded'`` and
``refund_amount``.

The marts the build steps write (and the tables capabilities keep in the
state store) are declared here too, in :data:`MARTS`: columns with their
meaning, key, owning capability, personal-data columns and which columns a
segment may filter on. Segments, masking and the dashboard read the
declaration; a new capability declares its marts with :func:`declare_mart`.

Example
-------
>>> from scrm_lib.schema import TABLES, KEYS, MARTS
>>> KEYS["orders"]
('platform', 'order_id', 'line_id')
>>> MARTS["churn_scores"].owner, MARTS["churn_scores"].key
('churn', ('person_id',))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

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
            "campaign": "string",  # the campaign the code belongs to (2025双11拉新)
            "staff_id": "string",  # the staff member a 活码 belongs to (WeCom userid)
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
    # One answer to one question: a questionnaire row with both questions is two rows.
    "surveys": ibis.schema(
        {
            "survey_id": "string",  # the export's answer id (序号, 评价ID), else a content hash
            "account_id": "string",
            "ts": TS,
            "kind": "string",  # csat (1–5) | nps (0–10)
            "score": "float64",
            "staff_id": "string",  # who served the customer, when the export names them
            "channel": "string",  # where the survey was answered (miniapp_service, wjx, …)
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
# Marts and state tables declare theirs with the mart (``Mart.personal``, below), which
# adds them here by table name; frames a page or an export computes (joins, renamed
# columns) fall back to PERSONAL_COLUMN_NAMES, then to the name patterns in
# ``scrm_lib.access.privacy``.
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
    "surveys": {"account_id": "account"},
    "rejects": {"raw_value": "text"},
    # marts and state tables: added by declare_mart (MARTS, below)
}

#: Columns of computed frames, by name alone: the canonical names above (where every
#: table agrees on the kind), what pages and exports call them after a join, and the
#: declared marts' personal columns (added by declare_mart).
_BY_TABLE_ONLY = ("a", "b")  # too generic alone: personal by table only
PERSONAL_COLUMN_NAMES: dict[str, str] = {
    **{
        col: kind
        for cols in PERSONAL_COLUMNS.values()
        for col, kind in cols.items()
        if col not in _BY_TABLE_ONLY
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

#: Column names the name patterns would take for a person's but that name things the
#: brand owns: a channel code's label (海报-门店收银台) is not a customer's name. A table
#: that declares one of them personal still has it masked.
NOT_PERSONAL_COLUMN_NAMES = frozenset({"channel_name"})

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
    # the same answer in two overlapping exports is one row
    "surveys": ("account_id", "ts", "kind"),
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


# ---------------------------------------------------------------- marts
#
# Every table a build step writes into the warehouse, and every table a capability
# keeps in the state store (``store="state"``: it survives rebuilds), declared once:
# the step that writes it, segments (which columns are filters), masking (which are
# personal data), health and the dashboard read this instead of their own lists.

Store = Literal["warehouse", "state"]


@dataclass(frozen=True, eq=False)
class Mart:
    """A declared mart: its columns and types, key, owning capability and meaning.

    Parameters
    ----------
    name
        Table name.
    owner
        The capability whose step (or state code) writes it (``identity``, ``value``).
    description
        One line: what a row is.
    schema
        Column types. ``!int64`` / ``!boolean`` (not nullable) type pandas frames
        as ``int64`` / ``bool``; nullable ones as ``Int64`` / ``boolean``.
    key
        Columns that identify a row.
    meanings
        Column → what it holds (shown by ``scrm segment columns``).
    filters
        Columns a segment may filter on: a mart keyed by ``person_id`` with
        filters joins the segment builder's table (:mod:`scrm_lib.segments`).
    personal
        Column → personal-data kind (:data:`PERSONAL_KINDS`), masked on the way out.
    store
        ``warehouse`` (rebuilt every build) or ``state`` (the state store).
    parts
        Written by several steps, each replacing its own table ``<name>__<writer>``;
        the mart is their union (:mod:`scrm_lib.warehouse.parts`).

    Examples
    --------
    >>> m = Mart("toy_scores", owner="toy", description="one row per person",
    ...          schema=ibis.schema({"person_id": "string", "toy_score": "float64"}),
    ...          key=("person_id",), filters=("toy_score",))
    >>> m.typed(pd.DataFrame({"person_id": ["P1"]})).dtypes.astype(str).tolist()
    ['string', 'float64']
    """

    name: str
    owner: str
    description: str
    schema: ibis.Schema
    key: tuple[str, ...]
    meanings: Mapping[str, str] = field(default_factory=dict)
    filters: tuple[str, ...] = ()
    personal: Mapping[str, str] = field(default_factory=dict)
    store: Store = "warehouse"
    parts: bool = False

    def __post_init__(self) -> None:
        names = set(self.schema.names)
        for what, cols in (("key", self.key), ("filters", self.filters),
                           ("meanings", self.meanings), ("personal", self.personal)):  # fmt: skip
            if unknown := [c for c in cols if c not in names]:
                raise ValueError(f"mart {self.name}: {what} names unknown columns {unknown}")
        if bad := {k for k in self.personal.values() if k not in PERSONAL_KINDS}:
            raise ValueError(f"mart {self.name}: unknown personal-data kinds {sorted(bad)}")

    @property
    def columns(self) -> dict[str, str]:
        """Column → meaning, in table order (the column's name when none is given)."""
        return {c: self.meanings.get(c, c) for c in self.schema.names}

    @property
    def dtypes(self) -> dict[str, str]:
        """Column → pandas dtype."""
        return {c: _pandas_dtype(t) for c, t in self.schema.items()}

    def typed(self, df: pd.DataFrame) -> pd.DataFrame:
        """``df`` with exactly the mart's columns and types (so an empty mart is typed too).

        Examples
        --------
        >>> MARTS["value_persons"].typed(pd.DataFrame()).shape
        (0, 16)
        """
        out = pd.DataFrame(
            {c: df[c] if c in df else pd.Series(index=df.index) for c in self.schema.names}
        )
        for c, t in self.schema.items():
            # Spark hands timestamps back without a zone; its session runs in UTC, so
            # they are UTC instants (DuckDB's come with the zone already)
            if t.is_timestamp() and t.timezone and _naive_datetimes(out[c]):
                out[c] = out[c].dt.tz_localize("UTC")
        return out.astype(self.dtypes)


def _naive_datetimes(s: pd.Series) -> bool:
    """Whether ``s`` holds datetimes without a time zone.

    >>> _naive_datetimes(pd.Series(pd.to_datetime(["2025-01-01"])))
    True
    >>> _naive_datetimes(pd.Series(pd.to_datetime(["2025-01-01"], utc=True)))
    False
    """
    return pd.api.types.is_datetime64_dtype(s.dtype) and getattr(s.dtype, "tz", None) is None


def _pandas_dtype(t: dt.DataType) -> str:
    if t.is_string():
        return "string"
    if t.is_integer():
        return "Int64" if t.nullable else "int64"
    if t.is_boolean():
        return "boolean" if t.nullable else "bool"
    if t.is_floating() or t.is_decimal():
        return "float64"
    if t.is_timestamp():
        return "datetime64[us, UTC]"
    raise ValueError(f"no pandas dtype for {t}")


#: Every declared mart and state table, by name (in declaration order).
MARTS: dict[str, Mart] = {}


def declare_mart(mart: Mart) -> Mart:
    """Register ``mart`` (a capability declares its marts at import); return it.

    Its personal columns join :data:`PERSONAL_COLUMNS`; its filters (when keyed
    by ``person_id``) appear in ``scrm segment columns``. Declaring a name again
    replaces the declaration; a filter another person mart already offers is refused.

    Examples
    --------
    >>> declare_mart(MARTS["churn_scores"]).name
    'churn_scores'
    """
    if mart.name in TABLES or mart.name == "rejects":
        raise ValueError(f"mart {mart.name}: a canonical table has this name")
    if mart.key == ("person_id",):
        for other in segment_marts():
            if other.name != mart.name and (same := set(other.filters) & set(mart.filters)):
                raise ValueError(
                    f"mart {mart.name}: filters {sorted(same)} are already {other.name}'s"
                )
    MARTS[mart.name] = mart
    if mart.personal:
        PERSONAL_COLUMNS[mart.name] = dict(mart.personal)
        for col, kind in mart.personal.items():
            if col not in _BY_TABLE_ONLY:
                PERSONAL_COLUMN_NAMES.setdefault(col, kind)
    return mart


def segment_marts() -> list[Mart]:
    """Warehouse marts keyed by ``person_id`` that offer segment filters, in declaration order.

    Examples
    --------
    >>> [m.name for m in segment_marts()]  # doctest: +NORMALIZE_WHITESPACE
    ['value_persons', 'churn_scores', 'channel_acquisition', 'person_conversations',
     'referral_persons', 'koc_scores']
    """
    return [
        m
        for m in MARTS.values()
        if m.store == "warehouse" and m.key == ("person_id",) and m.filters
    ]


def typed(df: pd.DataFrame, mart: str) -> pd.DataFrame:
    """``df`` with exactly the columns and types of the declared mart ``mart``."""
    return MARTS[mart].typed(df)


def _mart(
    name: str,
    owner: str,
    description: str,
    columns: dict[str, tuple[str | dt.DataType, str]],
    *,
    key: tuple[str, ...],
    filters: tuple[str, ...] = (),
    personal: dict[str, str] | None = None,
    store: Store = "warehouse",
    parts: bool = False,
) -> Mart:
    """Declare a mart from ``{column: (type, meaning)}``."""
    return declare_mart(
        Mart(
            name, owner, description,
            schema=ibis.schema({c: t for c, (t, _) in columns.items()}),
            key=key,
            meanings={c: m for c, (_, m) in columns.items()},
            filters=filters,
            personal=personal or {},
            store=store,
            parts=parts,
        )
    )  # fmt: skip


_META = {"key": ("string", "what"), "value": ("string", "its value, JSON")}

# identity (scrm_lib.identity.step): the person graph
_mart("person_accounts", "identity", "every account's person (the contract between steps)", {
    "account_id": ("string", "account"),
    "person_id": ("string", "person"),
}, key=("account_id",), personal={"account_id": "account"})  # fmt: skip
_mart("persons", "identity", "customer 360: one row per person", {
    "person_id": ("string", "person"),
    "n_accounts": ("int64", "accounts of the person"),
    "platforms": ("string", "platforms of the person's accounts, comma-separated"),
    "n_platforms": ("int64", "platforms (a bare phone is none)"),
    "first_seen": (TS, "first sighting of any account"),
    "last_seen": (TS, "last activity of any account"),
    "acquisition_platform": ("string", "platform of the first account"),
    "acquisition_channel": ("string", "channel code of the first account with one"),
    "phone_masked": ("string", "a mainland mobile, masked"),
    "name_masked": ("string", "a name, masked"),
    "city": ("string", "a city"),
}, key=("person_id",), personal={"phone_masked": "phone", "name_masked": "name"})  # fmt: skip
_mart("identity_edges", "identity", "the ledger: one row per edge considered, with evidence", {
    "a": ("string", "account"),
    "b": ("string", "account"),
    "stage": ("string", "deterministic, probabilistic or override"),
    "rule": ("string", "the rule or model that proposed the edge"),
    "kind": ("string", "identifier kind shared"),
    "value": ("string", "identifier value shared"),
    "match_probability": ("float64", "probabilistic match probability"),
    "compared": ("string", "comparison levels, JSON"),
    "used": ("boolean", "not cut by an override"),
    "build_id": ("string", "build"),
}, key=("a", "b", "stage", "rule", "kind", "value"),
   personal={"a": "account", "b": "account", "value": "identifier"})  # fmt: skip
_mart("identity_hubs", "identity", "hubs: shared identifiers and account keys of many buyers", {
    "scope": ("string", "identifier or account_key"),
    "kind": ("string", "identifier kind"),
    "value": ("string", "identifier value"),
    "n_accounts": ("int64", "accounts sharing it"),
    "hub_limit": ("int64", "the limit it passed"),
    "account_id": ("string", "the hub account (account_key)"),
    "n_orders": ("int64", "orders of the hub account"),
    "n_receiver_names": ("int64", "distinct recipient names"),
    "n_receiver_phones": ("int64", "distinct recipient phones"),
    "n_addresses": ("int64", "distinct addresses"),
    "n_devices": ("int64", "distinct devices"),
    "n_unattributed": ("int64", "orders left with nobody"),
}, key=("scope", "kind", "value", "account_id"),
   personal={"account_id": "account", "value": "identifier"})  # fmt: skip
_mart("identity_hub_orders", "identity", "order lines of account-key hubs, re-keyed", {
    "platform": ("string", "platform"),
    "order_id": ("string", "order"),
    "line_id": ("string", "order line"),
    "hub_account_id": ("string", "the hub account"),
    "account_id": ("string", "the account the line went to"),
    "evidence": ("string", "why"),
    "build_id": ("string", "build"),
}, key=("platform", "order_id", "line_id"),
   personal={"hub_account_id": "account", "account_id": "account", "evidence": "text"})  # fmt: skip
_mart("identity_stages", "identity", "how the probabilistic stage ran, and why", {
    "build_id": ("string", "build"),
    "stage": ("string", "stage"),
    "mode": ("string", "trained, priors or skipped"),
    "reason": ("string", "why"),
    "records": ("int64", "records compared"),
    "candidate_pairs": ("int64", "pairs blocked"),
    "columns": ("string", "comparison columns, JSON"),
    "details": ("string", "details, JSON"),
}, key=("build_id", "stage"))  # fmt: skip
_mart("person_id_history", "identity", "old to new person ids since the previous build", {
    "old_person_id": ("string", "person id before"),
    "new_person_id": ("string", "person id now"),
    "reason": ("string", "merge or split"),
    "n_accounts": ("int64", "accounts moved"),
    "build_id": ("string", "build"),
}, key=("old_person_id", "new_person_id"))  # fmt: skip
_mart("identity_overrides", "identity", "admins' link, never-link and split decisions", {
    "override_id": ("string", "override"),
    "action": ("string", "never_link, force_link or split"),
    "account_a": ("string", "account"),
    "account_b": ("string", "account"),
    "reason": ("string", "why"),
    "username": ("string", "who"),
    "ts": (TS, "when"),
}, key=("override_id",), personal={"account_a": "account", "account_b": "account"},
   store="state")  # fmt: skip

# value (scrm_lib.value.persons): everything a segment filters on, per person
_VALUE_COLUMNS: dict[str, tuple[str, str]] = {
    "person_id": ("string", "person"),
    "platform": ("string", "platform with most of the person's orders"),
    "channel": ("string", "acquisition channel code (first account with one)"),
    "recency_days": ("int64", "days since the last purchase"),
    "frequency": ("!int64", "purchases"),
    "monetary": ("float64", "net spend, CNY"),
    "r_score": ("int64", "recency score 1-5"),
    "f_score": ("int64", "frequency score 1-5"),
    "m_score": ("int64", "monetary score 1-5"),
    "rfm_segment": ("string", "RFM segment code"),
    "layer": ("string", "behaviour layer code"),
    "stage": ("string", "lifecycle stage code"),
    "actions": ("!int64", "interactions in the last 365 days"),
    "p_alive": ("float64", "BG/NBD probability the person is still a customer"),
    "expected_purchases": ("float64", "expected purchases over the CLV horizon"),
    "clv": ("float64", "expected net spend over the CLV horizon, CNY"),
}
_mart("value_persons", "value", "one row per person: RFM, layer, stage, platform, channel, CLV",
      _VALUE_COLUMNS, key=("person_id",), filters=tuple(_VALUE_COLUMNS))  # fmt: skip
_mart("value_meta", "value", "the value mart's as-of date and CLV fit", _META, key=("key",))

# churn (scrm_lib.churn.scoring): the current model's scores of this build
_mart("churn_scores", "churn", "one row per scored person: churn risk and value at risk", {
    "person_id": ("string", "person"),
    "churn_probability": ("float64", "calibrated probability of no purchase within the horizon"),
    "risk_band": ("string", "churn risk: high / medium / low"),
    "risk_rank": ("!int64", "1 = highest probability"),
    "recency_days": ("!int64", "days since the last purchase"),
    "silent_days": ("!int64", "days since the last interaction of any kind"),
    "pre_churn_silent": ("!boolean", "silent for silent_days or more (the 30-day rule)"),
    "early_warning": ("!boolean", "high churn risk or silent 30 days"),
    "clv": ("float64", "expected net spend over the CLV horizon, CNY (value mart)"),
    "monetary": ("float64", "net spend so far, CNY (value mart)"),
    "value_at_risk": ("float64", "churn probability x CLV, CNY"),
    "reasons": ("string", "top reasons in words (early-warning persons)"),
    "as_of": ("string", "the day the features end"),
    "model_version": ("string", "the churn model that scored"),
    "build_id": ("string", "the build the scores were computed on"),
}, key=("person_id",),
   filters=("churn_probability", "risk_band", "early_warning", "value_at_risk", "silent_days"),
)  # fmt: skip
_mart("churn_meta", "churn", "the churn step's model, as-of date and notes", _META, key=("key",))

# segments and experiments keep what people decide in the state store
_mart("segments", "segments", "saved segment versions: definition, author, build", {
    "name": ("!string", "segment"),
    "version": ("!int32", "version, from 1"),
    "author": ("!string", "who saved it"),
    "created_at": (dt.Timestamp(timezone="UTC", nullable=False), "when"),
    "description": ("string", "what it is for"),
    "definition": ("!string", "filters, JSON"),
    "build_id": ("string", "the build it was evaluated on"),
    "persons": ("int64", "members"),
}, key=("name", "version"), store="state")  # fmt: skip
_mart("segment_members", "segments", "the persons of each saved segment version", {
    "name": ("!string", "segment"),
    "version": ("!int32", "version"),
    "person_id": ("!string", "person"),
}, key=("name", "version", "person_id"), store="state")  # fmt: skip
_mart("experiment_exposures", "experiments", "first exposure of each person to an experiment", {
    "experiment": ("!string", "experiment"),
    "person_id": ("!string", "person"),
    "variant": ("!string", "arm, holdout or global_holdout"),
    "ts": (dt.Timestamp(timezone="UTC", nullable=False), "first exposure"),
}, key=("experiment", "person_id"), store="state")  # fmt: skip

# tags (scrm_lib.tags): every capability's tags on persons, written through one registry
_mart("person_tags", "tags", "one row per person, tag and value: who carries which tag, and why", {
    "person_id": ("!string", "person"),
    "tag": ("!string", "tag (declared in scrm_lib.tags.TAGS)"),
    "value": ("string", "the tag's value (null: the tag alone)"),
    "source": ("!string", "the capability that wrote it"),
    "rule": ("string", "what earns the tag, in one line"),
    "rule_version": ("string", "version of the rule"),
    "since": (TS, "since when the person carries it"),
    "build_id": ("string", "the build that wrote it"),
}, key=("person_id", "tag", "value"), parts=True)  # fmt: skip

# channels (scrm_lib.social.channels.step): acquisition, channel value, staff, the journey
_mart("channel_acquisition", "channels", "one row per person: the channel that acquired them", {
    "person_id": ("string", "person"),
    "rule": ("string", "attribution rule: first_touch or last_touch (before the first order)"),
    "channel_type": ("string", "acquisition channel type (活码, 广告, referral, organic, …)"),
    "campaign": ("string", "campaign of the acquiring channel code or referral"),
    "channel_code": ("string", "acquiring channel code (活码, 达人ID)"),
    "channel_name": ("string", "name of the channel code"),
    "staff_id": ("string", "staff member (导购) who added the person, else the 活码's owner"),
    "touch": ("string", "kind of the acquiring touch (wecom_add, qr_scan, referral, …)"),
    "touch_at": (TS, "time of the acquiring touch"),
    "touch_platform": ("string", "platform of the acquiring touch"),
    "evidence": ("string", "the row that shows the touch (table:id)"),
    "inviter_person_id": ("string", "who invited the person (referrals)"),
    "touches": ("!int64", "touches considered by the rule"),
    "acquired_at": (TS, "first appearance of the person"),
    "acquisition_cohort": ("string", "month of acquisition (YYYY-MM, local time)"),
    "first_order_at": (TS, "time of the first counted order"),
    "high_value_referral": ("!boolean", "referred by an existing customer (高价值渠道)"),
}, key=("person_id",), personal={"evidence": "account"},
   filters=("channel_type", "campaign", "channel_code", "staff_id", "touch",
            "acquisition_cohort", "high_value_referral"))  # fmt: skip


def _horizon_columns(days: tuple[int, ...]) -> dict[str, tuple[str, str]]:
    out = {}
    for h in days:
        out[f"gmv{h}_n"] = ("!int64", f"persons acquired at least {h} days ago")
        out[f"gmv{h}_per_person"] = ("float64", f"net GMV per person in {h} days after acquisition")
        out[f"gmv{h}_lo"] = ("float64", f"{h}-day GMV per person, lower bound (t)")
        out[f"gmv{h}_hi"] = ("float64", f"{h}-day GMV per person, upper bound (t)")
    return out


_CHANNEL_VALUE = {
    "level": ("string", "total, channel_type, campaign, channel_code or staff"),
    "key": ("string", "the channel type, campaign, code or staff id"),
    "cohort": ("string", "acquisition month (YYYY-MM), or all"),
    "channel_type": ("string", "channel type of the row (codes and campaigns: their type)"),
    "campaign": ("string", "campaign of the row"),
    "channel_name": ("string", "name of the channel code"),
    "persons": ("!int64", "persons acquired"),
    "conv_n": ("!int64", "persons acquired long enough ago to judge conversion"),
    "conv_k": ("!int64", "of them, with a first order within conversion_days"),
    "conversion": ("float64", "conversion to a first order within conversion_days"),
    "conversion_lo": ("float64", "conversion, lower bound (Wilson)"),
    "conversion_hi": ("float64", "conversion, upper bound (Wilson)"),
    "median_days_to_first_order": ("float64", "median days from acquisition to the first order"),
    "buyers": ("!int64", "persons with an order after acquisition"),
    "repeat_k": ("!int64", "buyers with two or more orders"),
    "repeat_rate": ("float64", "share of buyers with two or more orders"),
    "repeat_lo": ("float64", "repeat rate, lower bound (Wilson)"),
    "repeat_hi": ("float64", "repeat rate, upper bound (Wilson)"),
    **_horizon_columns((30, 90, 365)),
    "gmv_total": ("float64", "net GMV since acquisition, CNY"),
    "clv_n": ("!int64", "persons with a CLV"),
    "clv_mean": ("float64", "mean CLV (value mart)"),
    "clv_lo": ("float64", "mean CLV, lower bound (t)"),
    "clv_hi": ("float64", "mean CLV, upper bound (t)"),
    "p_alive": ("float64", "mean P(alive) (value mart)"),
    "churn_scored": ("!int64", "persons with a churn score"),
    "churn_risk": ("float64", "mean churn probability"),
    "high_risk": ("!int64", "persons at high churn risk"),
    "high_risk_share": ("float64", "share of scored persons at high churn risk"),
    "cost": ("float64", "cost of the channel codes (empty when any lacks one)"),
    "codes_without_cost": ("int64", "channel codes of the group without a cost"),
    "cost_per_person": ("float64", "cost per person acquired"),
    "cac": ("float64", "cost per buyer (CAC)"),
    "roi_gmv": ("float64", "(GMV since acquisition - cost) / cost"),
    "roi_clv": ("float64", "(GMV since acquisition + expected CLV - cost) / cost"),
    "rankable": ("!boolean", "at least min_cohort persons: ranked"),
    "rank": ("int64", "rank by 90-day GMV per person among rankable groups"),
}
_mart("channel_value", "channels", "one row per channel group and cohort: its persons' value",
      _CHANNEL_VALUE, key=("level", "key", "cohort"))  # fmt: skip
_mart("channel_staff", "channels", "one row per staff member (导购): contacts, handovers, GMV", {
    "staff_id": ("string", "WeCom userid"),
    "name": ("string", "staff member's name"),
    "department": ("string", "department"),
    "contacts_added": ("!int64", "persons they added"),
    "acquired": ("!int64", "persons acquired through them"),
    "deleted_by_contact": ("!int64", "contacts who deleted them"),
    "deleted_by_staff": ("!int64", "contacts they deleted"),
    "handed_over": ("!int64", "contacts handed to another staff member"),
    "received": ("!int64", "contacts received in handovers"),
    "transfer_failed": ("!int64", "contacts whose transfer failed"),
    "first_orders": ("!int64", "contacts whose first order came after the add"),
    "buyers": ("!int64", "contacts who ordered after the add"),
    "contacts_gmv": ("float64", "net GMV of their contacts after the add"),
    "lost_gmv": ("float64", "net GMV their handed-over contacts bought after leaving them"),
    "responses": ("!int64", "customer message bursts answered in private chats"),
    "median_response_minutes": ("float64", "median minutes to answer"),
}, key=("staff_id",), personal={"name": "name"})  # fmt: skip
_mart("journey_funnel", "channels", "one row per funnel step, group and cohort", {
    "by": ("string", "what the groups are (channel_type)"),
    "group": ("string", "the group, or all"),
    "cohort": ("string", "acquisition month, or all"),
    "step_no": ("!int64", "step number"),
    "step": ("string", "step name"),
    "persons": ("!int64", "persons reaching the step"),
    "previous": ("!int64", "persons reaching the step before"),
    "median_hours_from_previous": ("float64", "median hours from the step before (strict order)"),
    "from_previous": ("float64", "conversion from the step before"),
    "from_previous_lo": ("float64", "conversion from the step before, lower bound (Wilson)"),
    "from_previous_hi": ("float64", "conversion from the step before, upper bound (Wilson)"),
    "from_start": ("float64", "conversion from the first step"),
    "worst": ("!boolean", "the step that loses the most in its group"),
    "mode": ("string", "strict or any order"),
}, key=("by", "group", "cohort", "step_no"))  # fmt: skip
_mart("channels_meta", "channels", "the channels step's as-of date, rule and unknown codes",
      _META, key=("key",))  # fmt: skip

# ---------------------------------------------------------------- conversations
_mart("message_tags", "conversations", "one row per chat message: its intent and sentiment", {
    "message_id": ("string", "message"),
    "person_id": ("string", "the customer in the conversation (OneID)"),
    "account_id": ("string", "the customer's account"),
    "ts": (TS, "when it was sent"),
    "channel": ("string", "wecom_private, wecom_group, miniapp_service, douyin_comment, …"),
    "direction": ("string", "in (the customer wrote) or out (staff wrote)"),
    "staff_id": ("string", "staff member in the conversation"),
    "intent": ("string", "purchase_intent, needs_explanation, service_*, complaint, churn_risk, "
                         "praise, other; staff for staff messages"),
    "layer": ("string", "what decided the intent: dictionary, classifier, rule, speaker, none"),
    "phrase": ("string", "the dictionary phrase that matched"),
    "confidence": ("float64", "classifier probability (1 for a dictionary match)"),
    "sentiment": ("string", "positive, neutral or negative"),
    "sentiment_score": ("float64", "P(positive) after emoji and slang cues"),
    "reason": ("string", "why a message was not read (empty, [图片]) or was read as sarcasm"),
    "taxonomy_version": ("string", "version of the phrase dictionary"),
    "intent_model": ("string", "id of the intent classifier (its model card)"),
    "sentiment_model": ("string", "id of the sentiment model (its model card)"),
}, key=("message_id",), personal={"account_id": "account"})  # fmt: skip
_mart("person_conversations", "conversations", "one row per person who wrote: recent intents "
      "and sentiment", {
    "person_id": ("string", "person"),
    "messages": ("!int64", "messages the person wrote"),
    "last_message_at": (TS, "their latest message"),
    "purchase_intent_7d": ("!int64", "purchase-intent (高意向) messages in the last 7 days"),
    "needs_explanation_14d": ("!int64", "needs-explanation (需要讲解) messages, last 14 days"),
    "service_30d": ("!int64", "service requests and complaints in the last 30 days"),
    "negative_30d": ("!int64", "negative messages in the last 30 days"),
    "negative_share": ("float64", "share of their messages that are negative"),
    "positive_share": ("float64", "share of their messages that are positive"),
    "last_intent": ("string", "intent of their latest message other than `other`"),
    "last_negative_at": (TS, "their latest negative message"),
    "last_negative_message_id": ("string", "its message id"),
}, key=("person_id",), filters=("purchase_intent_7d", "needs_explanation_14d", "service_30d",
                                 "negative_30d", "negative_share", "last_intent"))  # fmt: skip
_mart("service_conversations", "conversations", "one row per private-chat conversation: "
      "first response and resolution in business time", {
    "conversation_id": ("string", "channel:account:start"),
    "account_id": ("string", "the customer's account"),
    "channel": ("string", "wecom_private, miniapp_service, douyin_dm, xhs_dm"),
    "staff_id": ("string", "first staff member who answered (else the one written to)"),
    "started_ts": (TS, "first customer message"),
    "first_response_s": ("int64", "business seconds to the first answer"),
    "resolution_s": ("int64", "business seconds to the last staff message"),
    "customer_messages": ("int64", "customer messages"),
    "staff_messages": ("int64", "staff messages"),
    "answered": ("boolean", "a staff member answered"),
}, key=("conversation_id",), personal={"account_id": "account"})  # fmt: skip
_mart("service_kpis", "conversations", "per staff member and local week: answered share, "
      "first response and resolution", {
    "staff_id": ("string", "staff member"),
    "week": ("string", "local Monday of the week (YYYY-MM-DD)"),
    "conversations": ("int64", "conversations"),
    "answered": ("int64", "answered conversations"),
    "answered_share": ("float64", "answered share"),
    "median_first_response_min": ("float64", "median business minutes to the first answer"),
    "p90_first_response_min": ("float64", "90th percentile"),
    "answered_within": ("int64", "answered within [conversations] answer_within_minutes"),
    "within_share": ("float64", "share of all conversations answered within"),
    "within_lo": ("float64", "Wilson interval, low"),
    "within_hi": ("float64", "Wilson interval, high"),
    "median_resolution_min": ("float64", "median business minutes to the last staff message"),
}, key=("staff_id", "week"))  # fmt: skip
_mart("conversations_meta", "conversations", "the conversations step's taxonomy, models and "
      "counts", _META, key=("key",))  # fmt: skip

# ---------------------------------------------------------------- referrals
# (scrm_lib.social.referrals.step): the person-level referral graph, fission campaigns,
# abuse flags and the KOC pool
_mart("referral_edges", "referrals", "one row per referrals link, with both persons after OneID", {
    "inviter_person_id": ("string", "the inviter (group-buy leader, distributor)"),
    "invitee_person_id": ("string", "the person invited"),
    "inviter_account_id": ("string", "the inviter's account"),
    "invitee_account_id": ("string", "the invitee's account"),
    "ts": (TS, "when the link was made"),
    "kind": ("string", "invite, group_leader or distributor"),
    "campaign": ("string", "fission campaign (裂变活动), or (无活动)"),
    "self_referral": ("!boolean", "both accounts are one person: flagged, never counted"),
}, key=("inviter_account_id", "invitee_account_id", "kind"),
   personal={"inviter_account_id": "account", "invitee_account_id": "account"})  # fmt: skip
_mart("referral_closure", "referrals", "one row per person and a person down their chains", {
    "ancestor_id": ("string", "the person upstream"),
    "descendant_id": ("string", "a person they reach along links, at any depth"),
    "depth": ("!int64", "links on the shortest chain between them"),
}, key=("ancestor_id", "descendant_id"))  # fmt: skip
_mart("referral_persons", "referrals", "one row per person in the referral graph", {
    "person_id": ("string", "person"),
    "invited_by": ("string", "who brought them first (person)"),
    "invited_at": (TS, "their first incoming link"),
    "invited_kind": ("string", "its kind: invite, group_leader or distributor"),
    "invited_campaign": ("string", "its campaign"),
    "generation": ("int64", "depth from a root (0: nobody invited them; empty: only on a ring)"),
    "direct_invitees": ("!int64", "persons they linked directly (any kind)"),
    "converted_invitees": ("!int64", "of them, first order within conversion_days of the link"),
    "invite_conversion": ("float64", "converted_invitees / direct_invitees"),
    "downstream_persons": ("!int64", "persons down their chains at any depth, each once"),
    "downstream_gmv": ("float64", "net GMV of the downstream persons since each was invited"),
    "downstream_depth": ("!int64", "the deepest generation below them"),
    "net_gmv": ("float64", "their own net GMV"),
    "gmv_since_invited": ("float64", "their own net GMV since their first incoming link"),
    "first_order_at": (TS, "their first counted order"),
    "first_invite_at": (TS, "their first outgoing link"),
    "group_leader_persons": ("!int64", "persons they brought as a group-buy leader (团长)"),
    "group_leader_gmv": ("float64", "those persons' net GMV since the link"),
    "distributor_persons": ("!int64", "persons they brought as a distributor (分销员)"),
    "distributor_gmv": ("float64", "those persons' net GMV since the link"),
    "self_referrals": ("!int64", "links to themselves after OneID (flagged, not counted)"),
    "in_ring": ("!boolean", "they reach themselves along links"),
    "rewards": ("string", "reward rules earned, comma-separated"),
    "reward_cost": ("float64", "cost of the rewards earned, CNY"),
}, key=("person_id",), filters=("direct_invitees", "converted_invitees", "downstream_persons",
                                 "downstream_gmv", "generation"))  # fmt: skip
_mart("referral_rewards", "referrals", "one row per reward earned: rule, inviter and campaign", {
    "person_id": ("string", "the inviter"),
    "rule": ("string", "the reward rule (邀请满5人)"),
    "campaign": ("string", "the campaign it was earned in"),
    "converted": ("!int64", "converted invitees the inviter has under the rule"),
    "earned_at": (TS, "first order of the converted invitee that earned it"),
    "cost": ("float64", "the rule's cost per reward, CNY"),
}, key=("person_id", "rule", "campaign"))  # fmt: skip
_HORIZON_RETENTION = {
    col: spec
    for h in (30, 90)
    for col, spec in {
        f"matured_{h}": ("!int64", f"acquired persons acquired at least {h} days ago"),
        f"retained_{h}": ("!int64", f"of them, with an order within {h} days of acquisition"),
        f"retention_{h}": ("float64", f"retained_{h} / matured_{h}"),
        f"gmv{h}_per_person": ("float64", f"net GMV in {h} days after acquisition per person"),
    }.items()
}
_mart("referral_campaigns", "referrals", "one row per fission campaign, then per acquisition "
      "channel type for comparison", {
    "level": ("string", "campaign or channel_type"),
    "key": ("string", "the campaign, or the channel type (referral: all fission)"),
    "links": ("!int64", "links in the campaign (self-referrals left out)"),
    "participants": ("!int64", "persons who invited"),
    "invitees": ("!int64", "persons invited"),
    "converted": ("!int64", "invitees with a first order within conversion_days"),
    "seeds": ("!int64", "participants nobody invited in the campaign"),
    "generations": ("!int64", "the deepest generation below a seed"),
    "self_referrals": ("!int64", "self-referral links (flagged, not counted)"),
    "invites_per_participant": ("float64", "invitees / participants"),
    "invite_conversion": ("float64", "converted / invitees"),
    "k_factor": ("float64", "invites per participant × invite conversion"),
    "rewards": ("!int64", "rewards earned"),
    "reward_cost": ("float64", "their cost, CNY"),
    "acquired": ("!int64", "persons acquired (channel_acquisition)"),
    "cost_per_acquired": ("float64", "reward cost per person acquired"),
    **_HORIZON_RETENTION,
    "first_at": (TS, "first link"),
    "last_at": (TS, "last link"),
}, key=("level", "key"))  # fmt: skip
_mart("referral_abuse", "referrals", "one row per abuse flag and person, with its evidence", {
    "flag": ("string", "self_referral, ring, never_buy, shared_device, shared_address, "
                       "shared_phone or burst"),
    "person_id": ("string", "the inviter (or the person on a ring)"),
    "persons": ("int64", "persons involved (invitees, ring members, invites in the burst)"),
    "related": ("string", "related persons, comma-separated (up to 20)"),
    "campaign": ("string", "campaign of the links"),
    "first_at": (TS, "first link involved"),
    "last_at": (TS, "last link involved"),
    "kind": ("string", "the shared identifier's kind (device, address, recipient_phone, …)"),
    "value": ("string", "the shared identifier (personal data)"),
    "evidence": ("string", "what was seen, in words"),
}, key=("flag", "person_id", "kind", "value"), personal={"value": "identifier"})  # fmt: skip
_mart("koc_scores", "referrals", "one row per scored person: KOC score, parts and tier", {
    "person_id": ("string", "person"),
    "koc_score": ("float64", "weighted mean of the parts' scores, 0-1"),
    "koc_tier": ("string", "核心KOC, 潜力KOC or empty"),
    "koc_rank": ("!int64", "rank by score"),
    "top_part": ("string", "the part that added the most"),
    "explanation": ("string", "the parts by what they added"),
    "direct_invitees": ("!int64", "persons they linked directly"),
    "converted_invitees": ("!int64", "of them, converted"),
    "invite_conversion": ("float64", "converted / direct invitees"),
    "downstream_persons": ("!int64", "persons down their chains"),
    "downstream_gmv": ("float64", "their net GMV since invited"),
    "group_messages": ("!int64", "messages they wrote in WeCom groups"),
    "shares": ("!int64", "share events"),
    "reviews": ("!int64", "review events"),
    "engagement": ("!int64", "group messages + shares + reviews"),
    "sentiment": ("float64", "mean P(positive) of their group messages"),
    **{f"s_{p}": ("float64", f"{p} part score, 0-1")
       for p in ("downstream_gmv", "conversion", "engagement", "sentiment")},
    **{f"c_{p}": ("float64", f"{p} part's contribution to the score")
       for p in ("downstream_gmv", "conversion", "engagement", "sentiment")},
    "first_invite_at": (TS, "their first outgoing link"),
}, key=("person_id",), filters=("koc_score", "koc_tier"))  # fmt: skip
_mart("referrals_meta", "referrals", "the referrals step's settings, KOC weights and counts",
      _META, key=("key",))  # fmt: skip

# ---------------------------------------------------------------- automation
# (scrm_lib.social.automation): rules, the outbox each run keeps, and results
_mart("automation_rules", "automation", "one row per automation rule of the build's rules file", {
    "rule": ("string", "rule name"),
    "title": ("string", "what marketers call it"),
    "kind": ("string", "marketing (capped) or service"),
    "channels": ("string", "channels in order of preference, comma-separated"),
    "template": ("string", "template id"),
    "priority": ("!int64", "1 first when the cap or a quota leaves too little room"),
    "holdout": ("float64", "share of the rule's persons kept as a hold-out"),
    "window_days": ("!int64", "one message per person within this many days"),
    "send_at": ("string", "local send time, due (when the condition became true) or default"),
    "conversion_days": ("int64", "an order within this many days of the send converts"),
    "condition": ("string", "the rule's clauses, JSON"),
    "rules_version": ("string", "version of the rules file"),
    "audience": ("int64", "persons the rule selects on the build's latest day"),
}, key=("rule",))  # fmt: skip
# kept as Parquet, one file per run date, under data/state/automation/outbox/ (see
# scrm_lib.social.automation.outbox for why not the warehouse)
_mart("automation_outbox", "automation", "one row per rule and person a run selected: "
      "planned (to send or held out) or suppressed with the reason", {
    "run_date": ("string", "the run's date (data before its local midnight)"),
    "run_id": ("string", "the run: date, rules version and build"),
    "row_id": ("string", "run date:rule:person"),
    "rule": ("string", "rule name"),
    "title": ("string", "what marketers call the rule"),
    "kind": ("string", "marketing or service"),
    "priority": ("!int64", "the rule's priority (1 first)"),
    "template": ("string", "template id"),
    "campaign": ("string", "auto:<rule>:<date>: the campaign the sending tool logs"),
    "person_id": ("string", "person"),
    "channel": ("string", "channel chosen (wecom_1v1, miniapp_push, sms, staff_task, …)"),
    "platform": ("string", "platform of the account to reach"),
    "account_id": ("string", "the account to reach"),
    "staff_id": ("string", "the person's staff member (导购)"),
    "arm": ("string", "send or holdout (the rule's hold-out: recorded, not sent)"),
    "send": ("!boolean", "planned and not held out: the sending tool sends it"),
    "status": ("string", "planned or suppressed"),
    "reason": ("string", "why suppressed: opt_out, no_opt_in, no_account, no_staff, window, "
                         "stale, quota, frequency_cap"),
    "evidence": ("string", "what the condition saw, in numbers"),
    "due_at": (TS, "when the rule wanted to send"),
    "planned_at": (TS, "when to send, after quiet hours"),
    "rules_version": ("string", "version of the rules file"),
    "build_id": ("string", "the build the run read"),
}, key=("run_date", "rule", "person_id"), personal={"account_id": "account"},
   store="state")  # fmt: skip
