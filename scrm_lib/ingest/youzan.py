"""有赞 order export: one row per order, UTF-8 with BOM, phones in many spellings.

The account is ``youzan:<买家手机号 as E.164>``; the buyer phone is the
account key, so a row whose 买家手机号 is empty, masked or not a valid
number is rejected (column 买家手机号). The recipient's phone, when it
differs from the buyer's, is kept as a ``recipient_phone`` identifier (a
gift recipient is not the buyer, so it is not a linking ``phone``).

The recipient (收货人/提货人, their phone, and 收货地址 when the export has it)
is also kept on each order (``recipient_name``, ``recipient_phone``,
``recipient_address``): a shop that types its counter phone as 买家手机号
makes one "account" of many buyers, and the identity step then attributes
each of those orders by its own recipient (:mod:`scrm_lib.identity.account_hubs`).
The recipient is a ``name`` identifier only when it is a person's name
(``王女士`` gives none; the order keeps it as typed).
退款状态 退款成功 makes the order ``refunded`` with ``refund_amount`` equal
to its amount. 订单来源 goes to ``traffic_source``.

Example
-------
>>> from scrm_lib.ingest import parse_file
>>> parse_file("youzan_orders_2025.csv").tables["orders"]  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from scrm_lib.ingest import base
from scrm_lib.ingest import normalize as nz


def parse(ctx: base.Context) -> dict[str, Any]:
    """Turn a Youzan order export into orders, accounts and identifiers."""
    rows = ctx.rows
    order_id = ctx.ids("order_id", required=True)
    created = ctx.timestamps("created_at", required=True)
    paid_at = ctx.timestamps("paid_at")
    amount = ctx.amounts("amount", required=True)
    quantity = ctx.ints("quantity")
    status_raw = ctx.texts("status")
    status = ctx.status("status")
    refund_state = nz.map_values(
        nz.text(ctx.get("refund_status")), ctx.option("refund_status_map", {})
    )
    refunded = refund_state == "refunded"
    status = status.mask(refunded, "refunded")
    refund = amount.where(refunded, 0.0)

    buyer = ctx.phones("buyer_phone")
    raw_phone = ctx.get("buyer_phone")
    ctx.reject(buyer["kind"].isna(), "buyer_phone", "missing value")
    ctx.reject(buyer["kind"] == "phone_masked", "buyer_phone", "masked phone cannot key an account")
    ctx.reject(buyer["kind"] == "invalid", "buyer_phone", "invalid phone number", raw_phone)
    native = buyer["value"].where(buyer["kind"] == "phone")
    account = base.prefixed("youzan", native)

    rec = ctx.phones("recipient_phone")
    ship_to = base.recipient_columns(ctx, "recipient_phone", rec)
    orders = pd.DataFrame(
        {
            base.ROW: rows,
            "platform": "youzan",
            "order_id": order_id,
            "line_id": "",
            "account_id": account,
            "created_at": created,
            "paid_at": paid_at,
            "amount": amount,
            "refund_amount": refund,
            "status": status,
            "status_raw": status_raw,
            "items": ctx.texts("items"),
            "quantity": quantity,
            "traffic_source": ctx.texts("source"),
            **ship_to,
            "source_line": ctx.raw.lines,
        }
    )
    nickname = ctx.texts("nickname")
    rec_value = ship_to["recipient_phone"]
    other = rec_value.notna() & (rec_value != native)
    ids = [
        base.identifiers_frame(rows, account, "phone", native),
        base.identifiers_frame(rows, account, "nickname", nickname),
        base.identifiers_frame(rows, account, "name", base.recipient_names(ctx)),
        base.identifiers_frame(rows, account, "address", ship_to["recipient_address"]),
        base.identifiers_frame(rows[other], account[other], "recipient_phone", rec["value"][other]),
    ]
    accounts = base.accounts_frame(
        rows, account, "youzan", native, display_name=nickname, first_seen=created
    )
    return {"orders": orders, "accounts": accounts, "identifiers": ids}
