"""小红书 shop order export (千帆 / 商家后台 订单导出): one row per SKU line, xlsx or CSV.

The account is ``xiaohongshu:<native>``. The native id is the buyer's
用户ID where the export carries it (some export templates and every
service-provider tool do); on rows without one it is a key derived from
the raw 收件人, 收件人手机号 and 详细地址, hashed the way Douyin buyers are
(:func:`scrm_lib.ingest.keys.douyin_buyer_key`, with an ``x`` instead of
the ``d`` so the two platforms' keys are told apart). A file with neither
a 用户ID column nor any of the recipient columns is refused: its rows could
not be attributed to anyone.

``order_id`` is 订单号 (``P`` + 18 digits) and ``line_id`` the SKU ID (or,
without one, the product name and spec, which stay the same across
re-exports where a row position would not). 售后状态 售后完成 / 退款成功
makes the line ``refunded``; when the file has a 退款金额 column the refund
is that amount and a line is refunded exactly when it is above zero (售后完成
also covers a withdrawn request). Amounts are yuan or fen as the preset's
``[units]`` say (``auto``: guessed per file, see :mod:`scrm_lib.ingest.units`);
the other money columns follow ``amount``. Without an 订单状态 column a line is ``paid`` when it
has a 支付时间 (or when the file has no such column) and ``pending`` otherwise.

Identifiers: the masked phone stays ``phone_masked`` (never a linking
key), a full one becomes ``phone``; ``name``, ``address`` (province + city +
district + detail) and ``city`` from the shipping address (``name`` only
when it is a person's name: ``王女士`` gives none); ``nickname`` from
买家昵称. The ship-to is also kept on each order as typed
(``recipient_name``, ``recipient_phone``, ``recipient_address``), what the
identity step splits a 用户ID shared by many buyers by.

Example
-------
>>> from scrm_lib.ingest import parse_file
>>> parse_file("xiaohongshu_orders_20250101_20250331.xlsx").tables["orders"]  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from scrm_lib.errors import InputFileError
from scrm_lib.ingest import base
from scrm_lib.ingest import normalize as nz
from scrm_lib.ingest.keys import douyin_buyer_key

PLATFORM = "xiaohongshu"
RECIPIENT_FIELDS = ("recipient", "phone", "address")


def buyer_key(name: pd.Series, phone: pd.Series, address: pd.Series) -> pd.Series:
    """A stable native id for a buyer the export names only by the shipping address.

    Example
    -------
    >>> buyer_key(pd.Series(["李雷"]), pd.Series(["139****0001"]), pd.Series(["南京西路1号"]))[0][0]
    'x'
    """
    return "x" + douyin_buyer_key(name, phone, address).str.slice(1)


def _status(ctx: base.Context, paid_at: pd.Series) -> pd.Series:
    if ctx.has("status"):
        return ctx.status("status")
    if not ctx.has("paid_at"):
        return pd.Series("paid", index=ctx.index, dtype="str")
    return pd.Series("pending", index=ctx.index, dtype="str").mask(paid_at.notna(), "paid")


def parse(ctx: base.Context) -> dict[str, Any]:
    """Turn a Xiaohongshu shop order export into orders, accounts and identifiers."""
    if not ctx.has("user_id") and not any(ctx.has(f) for f in RECIPIENT_FIELDS):
        raise InputFileError(
            ctx.path,
            "no buyer column for preset "
            f"{ctx.preset.name}: needs 用户ID, or 收件人 / 收件人手机号 / 详细地址",
        )
    rows = ctx.rows
    order_id = ctx.ids("order_id", required=True)
    created = ctx.timestamps("created_at", required=True)
    paid_at = ctx.timestamps("paid_at")
    ctx.timestamps("shipped_at")  # validated only: a garbage date is a damaged row
    ctx.timestamps("finished_at")
    amount = ctx.amounts("amount", required=True)
    shipping = ctx.amounts("shipping")
    ctx.amounts("unit_price")
    ctx.amounts("goods_total")
    quantity = ctx.ints("quantity")
    status = _status(ctx, paid_at)
    after = nz.map_values(nz.text(ctx.get("after_sale")), ctx.option("after_sale_status", {}))
    if ctx.has("refund_amount"):
        refund = ctx.amounts("refund_amount").fillna(0.0)
        refunded = refund > 0
    else:
        refunded = after == "refunded"
        refund = amount.where(refunded, 0.0)
    status = status.mask(refunded & (status != "pending"), "refunded")

    user_id = ctx.ids("user_id")
    name_raw = nz.text(ctx.get("recipient"))
    phone_raw = nz.text(ctx.get("phone"))
    addr_raw = nz.text(ctx.get("address"))
    no_buyer = user_id.isna() & name_raw.isna() & phone_raw.isna() & addr_raw.isna()
    label = "user_id" if ctx.has("user_id") else next(f for f in RECIPIENT_FIELDS if ctx.has(f))
    ctx.reject(no_buyer, label, "no buyer: 用户ID and the recipient are empty")
    derived = buyer_key(name_raw, phone_raw, addr_raw).astype("str")
    native = user_id.where(user_id.notna(), derived).where(~no_buyer)
    account = base.prefixed(PLATFORM, native)

    items = ctx.texts("items")
    spec = ctx.texts("sku_spec")
    items = items.where(spec.isna(), items.fillna("") + " " + spec.fillna(""))
    line_id = ctx.ids("sku_id")
    line_id = line_id.where(line_id.notna(), items).fillna("")
    phones = ctx.phones("phone")
    orders = pd.DataFrame(
        {
            base.ROW: rows,
            "platform": PLATFORM,
            "order_id": order_id,
            "line_id": line_id,
            "account_id": account,
            "created_at": created,
            "paid_at": paid_at,
            "amount": amount,
            "shipping": shipping,
            "refund_amount": refund,
            "status": status,
            "status_raw": ctx.texts("status"),
            "items": items,
            "quantity": quantity,
            "influencer_id": ctx.ids("influencer_id"),
            "traffic_source": ctx.texts("traffic_source"),
            **base.recipient_columns(ctx, "phone", phones),
            "source_line": ctx.raw.lines,
        }
    )
    nickname = ctx.texts("nickname")
    recipient = ctx.texts("recipient")
    ids = [
        base.phone_identifiers(rows, account, phones),
        base.identifiers_frame(rows, account, "nickname", nickname),
        *base.shipping_identifiers(ctx, rows, account),
    ]
    display = nickname.where(nickname.notna(), recipient)
    accounts = base.accounts_frame(
        rows, account, PLATFORM, native, display_name=display, first_seen=created
    )
    return {"orders": orders, "accounts": accounts, "identifiers": ids}
