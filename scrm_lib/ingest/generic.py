"""An adapter driven only by a TOML preset: load another shop's export without code.

Beyond the common keys (see :mod:`scrm_lib.ingest.presets`) a generic
preset says which canonical table its rows feed and how to type each
field::

    name = "acme_orders"
    adapter = "generic"
    table = "orders"               # any canonical table (scrm_lib.schema.TABLES)
    platform = "acme"              # account ids become acme:<native id>
    readers = ["csv", "xlsx"]
    files = ["acme_*.csv"]
    required = ["order_id", "buyer", "created_at", "amount"]

    [columns]                      # canonical column (or helper field) = aliases
    order_id = ["订单号", "Order No"]
    buyer = ["会员手机", "Mobile"]
    created_at = "下单时间"
    amount = "实付金额"
    status = "状态"
    nickname = "昵称"

    [types]                        # optional; defaults follow the canonical type
    amount = "amount"              # text | id | timestamp | amount | amount_fen |
                                   # int | bool | phone

    [account]                      # how the account id is formed
    field = "buyer"                # field holding the native id
    kind = "phone"                 # optional: native id is a phone -> E.164; a bad
                                   # phone rejects the row
    display_name = "nickname"      # optional fields for the accounts table
    # first_seen = "created_at"
    # channel_code = "..."

    [identifiers]                  # field = identifier kind
    nickname = "nickname"

    [status]                       # orders: raw label -> paid|refunded|cancelled|pending
    "已付款" = "paid"

    [constants]                    # fixed values for canonical columns
    type = "page_view"             # e.g. the event type of a one-type log

    attributes = ["page", "sku"]   # events: fields gathered into the attributes JSON

Canonical columns the file does not map are null; ``events.event_id`` and
``touches.touch_id`` are content hashes when not mapped; event types go
through the shared vocabulary (:mod:`scrm_lib.ingest.vocabulary`, plus the
preset's ``[event_types]``). Money columns read their unit as described in
:mod:`scrm_lib.ingest.units` (``amount_fen`` forces fen). A field whose
typed value cannot be parsed rejects its row (naming the header).

Example
-------
>>> from scrm_lib.ingest import parse_file
>>> parse_file("acme_orders.csv", preset="presets/acme_orders.toml")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from scrm_lib.errors import ConfigError
from scrm_lib.ingest import normalize as nz
from scrm_lib.ingest.base import (
    ROW,
    Context,
    accounts_frame,
    identifiers_frame,
    phone_identifiers,
)
from scrm_lib.ingest.keys import content_hash, utc_micros
from scrm_lib.ingest.nested import to_json
from scrm_lib.ingest.vocabulary import canonical_event_types
from scrm_lib.schema import TABLES

TYPES = ("text", "id", "timestamp", "amount", "amount_fen", "int", "bool", "phone")


def _default_type(name: str, table: str) -> str:
    dtype = dict(TABLES[table].items()).get(name)
    if dtype is None:
        return "text"
    if dtype.is_timestamp():
        return "timestamp"
    if dtype.is_decimal() or dtype.is_floating():
        return "amount"
    if dtype.is_integer():
        return "int"
    if dtype.is_boolean():
        return "bool"
    return "id" if name.endswith("_id") else "text"


def typed(ctx: Context, fld: str, kind: str) -> pd.Series:
    """The normalized values of ``fld`` as ``kind`` (rejecting unparseable cells)."""
    if kind == "timestamp":
        return ctx.timestamps(fld)
    if kind == "amount":
        return ctx.amounts(fld)
    if kind == "amount_fen":
        return ctx.amounts(fld, scale=100)
    if kind == "int":
        return ctx.ints(fld)
    if kind == "bool":
        return ctx.bools(fld)
    if kind == "phone":
        return ctx.phones(fld)["value"]
    if kind == "id":
        return ctx.ids(fld)
    return ctx.texts(fld)


def parse(ctx: Context) -> dict[str, Any]:
    """Build the preset's target table, plus accounts and identifiers when configured."""
    where = ctx.preset.path or ctx.preset.name
    table = ctx.option("table")
    if table not in TABLES:
        raise ConfigError(f"{where}: table must be one of {', '.join(TABLES)}, not {table!r}")
    types = {str(k): str(v) for k, v in ctx.option("types", {}).items()}
    bad = sorted({v for v in types.values() if v not in TYPES})
    if bad:
        raise ConfigError(f"{where}: types {bad} are not one of {', '.join(TYPES)}")
    platform = ctx.preset.platform or ctx.preset.name
    rows = ctx.rows
    for fld in ctx.preset.required:
        ctx.reject(nz.text(ctx.get(fld)).isna(), fld, "missing value")

    cols: dict[str, Any] = {ROW: rows}
    values: dict[str, pd.Series] = {}
    for fld in ctx.preset.columns:
        if not ctx.has(fld) or fld in ctx.option("attributes", []):
            continue
        values[fld] = typed(ctx, fld, types.get(fld, _default_type(fld, table)))
        if fld in TABLES[table]:
            cols[fld] = values[fld]
    for name, value in ctx.option("constants", {}).items():
        cols[name] = value

    out: dict[str, Any] = {}
    acc = ctx.option("account", {})
    account = None
    if acc:
        native = _native(ctx, acc)
        account = (platform + ":" + native).where(native.notna())
        cols.setdefault("account_id", account)

        def hint(key: str) -> pd.Series | None:
            return values.get(acc[key]) if key in acc else None

        out["accounts"] = accounts_frame(
            rows,
            account,
            platform,
            native,
            display_name=hint("display_name"),
            first_seen=hint("first_seen"),
            channel_code=hint("channel_code"),
        )
    ids = []
    for fld, kind in ctx.option("identifiers", {}).items():
        if account is None or not ctx.has(fld):
            continue
        if kind == "phone":
            ids.append(phone_identifiers(rows, account, ctx.phones(fld)))
        else:
            ids.append(identifiers_frame(rows, account, kind, nz.nfc(ctx.get(fld))))
    if ids:
        out["identifiers"] = ids

    if table == "orders":
        cols.setdefault("platform", platform)
        cols["line_id"] = cols.get("line_id", pd.Series("", index=rows.index))
        if isinstance(cols["line_id"], pd.Series):
            cols["line_id"] = cols["line_id"].fillna("")
        if ctx.has("status") and ctx.preset.status:
            cols["status_raw"] = ctx.texts("status")
            cols["status"] = ctx.status("status")
        cols["source_line"] = ctx.raw.lines
    frame = pd.DataFrame(cols, index=rows.index)
    if table == "events":
        if "type" in frame:
            kind = frame["type"]
            kind = kind if isinstance(kind, pd.Series) else pd.Series(kind, index=rows.index)
            frame["type"] = canonical_event_types(kind, ctx.option("event_types"))
        attrs = ctx.option("attributes", [])
        src = pd.DataFrame({a: nz.text(ctx.get(a)) for a in attrs}, index=rows.index)
        src = src.astype(object).where(src.notna(), None)
        frame["attributes"] = to_json(src.to_dict("records")) if attrs else "{}"
        if "event_id" not in frame:
            frame["event_id"] = content_hash(
                frame.get("account_id", pd.Series(pd.NA, index=rows.index)),
                utc_micros(frame["ts"]),
                frame["type"].astype("str"),
                frame["attributes"],
            )
    if table == "touches" and "touch_id" not in frame:
        frame["touch_id"] = content_hash(
            frame["account_id"],
            utc_micros(frame["ts"]),
            frame.get("channel", pd.Series(pd.NA, index=rows.index)),
            frame.get("campaign", pd.Series(pd.NA, index=rows.index)),
        )
    out[table] = frame
    return out


def _native(ctx: Context, acc: dict[str, Any]) -> pd.Series:
    fld = acc.get("field")
    if not fld or fld not in ctx.preset.columns:
        where = ctx.preset.path or ctx.preset.name
        raise ConfigError(f"{where}: [account] field must name a field of [columns]")
    if acc.get("kind") == "phone":
        phones = ctx.phones(fld)
        good = phones["kind"] == "phone"
        raw = nz.text(ctx.get(fld))
        ctx.reject(raw.notna() & ~good, fld, "invalid phone number")
        return phones["value"].where(good)
    native = ctx.ids(fld)
    ctx.reject(native.isna(), fld, "missing value")
    return native
