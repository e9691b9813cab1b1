"""Tmall / Taobao 订单报表: one row per order, GBK CSV, ``="..."`` wrapped numbers.

Account: ``tmall:<买家会员名>``. The masked 联系手机 and 买家支付宝账号 are
weak identifiers (``phone_masked``, ``alipay_masked``); the recipient name
(a person's name only: ``王女士`` gives none) and address are kept as
``name`` / ``address`` identifiers, and the ship-to as typed on each order
(``recipient_name``, ``recipient_phone``, ``recipient_address``). ``amount`` is
买家实际支付金额 (总金额 when the shop's report lacks it); a closed order
with 退款金额 > 0 is ``refunded``, not ``cancelled``.

Example
-------
>>> from scrm_lib.ingest import parse_file
>>> parse_file("tmall_orders_2025q1.csv").tables["orders"]  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from scrm_lib.ingest import base


def parse(ctx: base.Context) -> dict[str, Any]:
    """Turn a Tmall order report into orders, accounts and identifiers."""
    rows = ctx.rows
    order_id = ctx.ids("order_id", required=True)
    buyer = ctx.texts("buyer", required=True)
    created = ctx.timestamps("created_at", required=True)
    paid_at = ctx.timestamps("paid_at")
    amount = ctx.amounts("paid_amount", required=True)
    shipping = ctx.amounts("shipping")
    refund = ctx.amounts("refund_amount").fillna(0.0)
    quantity = ctx.ints("quantity")
    status_raw = ctx.texts("status")
    status = ctx.status("status")
    status = status.mask((status == "cancelled") & (refund > 0), "refunded")

    account = base.prefixed("tmall", buyer)
    phones = ctx.phones("phone")
    orders = pd.DataFrame(
        {
            base.ROW: rows,
            "platform": "tmall",
            "order_id": order_id,
            "line_id": "",
            "account_id": account,
            "created_at": created,
            "paid_at": paid_at,
            "amount": amount,
            "shipping": shipping,
            "refund_amount": refund,
            "status": status,
            "status_raw": status_raw,
            "items": ctx.texts("items"),
            "category": ctx.texts("category"),
            "quantity": quantity,
            "shop": ctx.texts("shop"),
            # the ship-to per order: a store's shared login is many buyers (identity)
            **base.recipient_columns(ctx, "phone", phones),
            "source_line": ctx.raw.lines,
        }
    )
    ids = [
        base.phone_identifiers(rows, account, phones),
        base.identifiers_frame(rows, account, "alipay_masked", ctx.ids("alipay")),
        base.identifiers_frame(rows, account, "name", base.recipient_names(ctx)),
        base.identifiers_frame(rows, account, "address", ctx.texts("address")),
    ]
    accounts = base.accounts_frame(
        rows, account, "tmall", buyer, display_name=buyer, first_seen=created
    )
    return {"orders": orders, "accounts": accounts, "identifiers": ids}
