"""抖店 order export: one row per sub-order, xlsx (sometimes CSV), maybe a title row.

The export carries no buyer id, so the account is ``douyin:<key>`` with the
key from :func:`scrm_lib.ingest.keys.douyin_buyer_key` over the raw 收件人,
收件人手机号 and 详细地址 (the key is also stored as a ``douyin_key``
identifier). A row needs a recipient or a phone; the address is optional
(an export without 详细地址 keys its buyers by name and phone).
``order_id`` is 主订单编号 and ``line_id`` 子订单编号;
售后状态 退款成功 makes the line ``refunded`` with ``refund_amount`` equal
to its amount (the export has no separate refund amount); 退款中 leaves the
order status alone. 流量来源 is kept as exported (直播, 短视频, ...).
The ship-to is kept on each order (``recipient_name``, ``recipient_phone``
as E.164 or masked, ``recipient_address`` as province + city + district +
detail) for the identity step's account-key hub split.

Example
-------
>>> from scrm_lib.ingest import parse_file
>>> parse_file("douyin_orders_20250101_20250331.xlsx").tables["orders"]  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from scrm_lib.ingest import base
from scrm_lib.ingest import normalize as nz
from scrm_lib.ingest.keys import douyin_buyer_key


def parse(ctx: base.Context) -> dict[str, Any]:
    """Turn a Douyin shop export into orders, accounts and identifiers."""
    rows = ctx.rows
    order_id = ctx.ids("order_id", required=True)
    line_id = ctx.ids("line_id").fillna("")
    created = ctx.timestamps("created_at", required=True)
    paid_at = ctx.timestamps("paid_at")
    ctx.timestamps("finished_at")  # validated only: a garbage date is a damaged row
    amount = ctx.amounts("amount", required=True)
    shipping = ctx.amounts("shipping")
    ctx.amounts("unit_price")
    quantity = ctx.ints("quantity")
    status_raw = ctx.texts("status")
    status = ctx.status("status")
    after = nz.map_values(nz.text(ctx.get("after_sale")), ctx.option("after_sale_status", {}))
    refunded = after == "refunded"
    status = status.mask(refunded, "refunded")
    refund = amount.where(refunded, 0.0)

    name_raw = nz.text(ctx.get("recipient"))
    phone_raw = nz.text(ctx.get("phone"))
    # A recipient or a phone names the buyer; the address (absent from some
    # exports) only sharpens the key, so its lack loses nothing but precision.
    nobody = name_raw.isna() & phone_raw.isna()
    ctx.reject(nobody, "recipient" if ctx.has("recipient") else "phone", "missing value")
    addr_raw = nz.text(ctx.get("address"))
    key = douyin_buyer_key(name_raw, phone_raw, addr_raw).astype("str")
    account = base.prefixed("douyin", key)

    phones = ctx.phones("phone")
    items = ctx.texts("items")
    spec = ctx.texts("sku_spec")
    items = items.where(spec.isna(), items.fillna("") + " " + spec.fillna(""))
    orders = pd.DataFrame(
        {
            base.ROW: rows,
            "platform": "douyin",
            "order_id": order_id,
            "line_id": line_id,
            "account_id": account,
            "created_at": created,
            "paid_at": paid_at,
            "amount": amount,
            "shipping": shipping,
            "refund_amount": refund,
            "status": status,
            "status_raw": status_raw,
            "items": items,
            "quantity": quantity,
            "influencer_id": ctx.ids("influencer_id"),
            "traffic_source": ctx.texts("traffic_source"),
            **base.recipient_columns(ctx, "phone", phones),
            "source_line": ctx.raw.lines,
        }
    )
    recipient = ctx.texts("recipient")
    ids = [
        base.identifiers_frame(rows, account, "douyin_key", key),
        base.phone_identifiers(rows, account, phones),
        *base.shipping_identifiers(ctx, rows, account),
    ]
    accounts = base.accounts_frame(
        rows, account, "douyin", key, display_name=recipient, first_seen=created
    )
    return {"orders": orders, "accounts": accounts, "identifiers": ids}
