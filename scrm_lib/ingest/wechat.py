"""WeChat mini-program exports (JSON lines): users, orders, events, referrals.

Accounts are ``wechat:<openid>``; the unionid, phone (E.164, or
``phone_masked``), nickname, birthday and city of a user are identifiers.
Orders carry fen or yuan (the preset's ``[units]``, the header, or the
data decide: :mod:`scrm_lib.ingest.units`); a file without a status is
``paid`` where it has a pay time. Their shipping address gives ``name``
(a person's name only: ``王女士`` gives none), ``address``, ``city`` and a
``recipient_phone`` (a full phone that never links alone: it may be a
gift's recipient), and is kept on the order as typed (``recipient_name``,
``recipient_phone``, ``recipient_address``: a counter tablet's one openid
is split by them in the identity step); their ``items`` list is
summarised: names joined with ``; ``, the first item's category, the total
quantity. Event types are mapped to the canonical vocabulary
(``add_to_cart`` → ``cart_add``, :mod:`scrm_lib.ingest.vocabulary`; a
preset's ``[event_types]`` adds spellings). Event attributes are the
``props`` object (whatever the file calls it: ``properties``, ``params``
...; known key spellings renamed, ``orderId`` → ``order_id``) plus
``page`` as canonical JSON (sorted keys, nulls dropped) and ``event_id``
hashes account, time, type and attributes, so the same event exported
twice is one row.

Example
-------
>>> from scrm_lib.ingest import parse_file
>>> parse_file("miniapp_events.jsonl").tables["events"]  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from scrm_lib.ingest import base
from scrm_lib.ingest import normalize as nz
from scrm_lib.ingest.keys import content_hash, utc_micros
from scrm_lib.ingest.nested import list_field, reject_non_objects, summarize_list, to_json
from scrm_lib.ingest.vocabulary import canonical_event_types, canonical_property_names


def parse(ctx: base.Context) -> dict[str, Any]:
    """Dispatch on the preset's ``kind``."""
    kinds = {"users": _users, "orders": _orders, "events": _events, "referrals": _referrals}
    return kinds[ctx.preset.kind or "users"](ctx)


def _account(ctx: base.Context, fld: str = "openid") -> tuple[pd.Series, pd.Series]:
    openid = ctx.ids(fld, required=True)
    return openid, base.prefixed("wechat", openid)


def _users(ctx: base.Context) -> dict[str, Any]:
    rows = ctx.rows
    openid, account = _account(ctx)
    first = ctx.timestamps("subscribe_time")
    nickname = ctx.texts("nickname")
    channel = ctx.ids("channel_code")
    birthday = nz.text(ctx.get("birthday"))
    # A birthday is a weak identifier, not a key: a bad one is dropped, not rejected.
    parsed = pd.to_datetime(birthday, format="%Y-%m-%d", errors="coerce")
    birthday = parsed.dt.strftime("%Y-%m-%d").astype("str").where(parsed.notna())
    ids = [
        base.identifiers_frame(rows, account, "openid", openid),
        base.identifiers_frame(rows, account, "unionid", ctx.ids("unionid")),
        base.phone_identifiers(rows, account, ctx.phones("phone")),
        base.identifiers_frame(rows, account, "nickname", nickname),
        base.identifiers_frame(rows, account, "birthday", birthday),
        base.identifiers_frame(rows, account, "city", ctx.texts("city")),
    ]
    accounts = base.accounts_frame(
        rows,
        account,
        "wechat",
        openid,
        display_name=nickname,
        first_seen=first,
        channel_code=channel,
    )
    return {"accounts": accounts, "identifiers": ids}


# An order line as the mini-program backend writes it; an order whose items do not
# fit (a string, an item that is not an object) is rejected on its own line.
ITEM = pa.struct(
    [
        ("sku", pa.string()),
        ("name", pa.string()),
        ("category", pa.string()),
        ("qty", pa.float64()),
        ("price", pa.float64()),
    ]
)


def _items(ctx: base.Context) -> pd.DataFrame:
    n = len(ctx.raw.df)
    arr = list_field(ctx, "items", ITEM)
    if arr is None:
        return pd.DataFrame(
            {"joined": pd.Series(pd.NA, dtype="str"), "total": np.nan, "first": pd.NA},
            index=range(n),
        )
    out = summarize_list(arr, join="name", total="qty", first="category")
    out.index = ctx.index
    return out


def _orders(ctx: base.Context) -> dict[str, Any]:
    rows = ctx.rows
    order_id = ctx.ids("order_id", required=True)
    openid, account = _account(ctx)
    created = ctx.timestamps("created_at", required=True)
    paid_at = ctx.timestamps("paid_at")
    amount = ctx.amounts("amount", required=True)
    refund = ctx.amounts("refund_amount").fillna(0.0)
    status = ctx.status("status")
    items = _items(ctx)
    phones = ctx.phones("recipient_phone")
    orders = pd.DataFrame(
        {
            base.ROW: rows,
            "platform": "wechat",
            "order_id": order_id,
            "line_id": "",
            "account_id": account,
            "created_at": created,
            "paid_at": paid_at,
            "amount": amount,
            "refund_amount": refund,
            "status": status,
            "status_raw": nz.text(ctx.get("status")),
            "items": items["joined"],
            "category": items["first"],
            "quantity": items["total"].round().astype("Int64"),
            "groupbuy_id": ctx.ids("groupbuy_id"),
            "channel_code": ctx.ids("channel_code"),
            **base.recipient_columns(ctx, "recipient_phone", phones),
            "source_line": ctx.raw.lines,
        }
    )
    return {
        "orders": orders,
        "accounts": base.accounts_frame(rows, account, "wechat", openid, first_seen=created),
        "identifiers": [
            base.identifiers_frame(rows, account, "openid", openid),
            *base.shipping_identifiers(ctx, rows, account, phones),
        ],
    }


def _event_attributes(ctx: base.Context) -> pd.Series:
    reject_non_objects(ctx, "props")
    page = nz.text(ctx.get("page"))
    fast = _distinct_attributes(ctx, page)
    if fast is not None:
        return fast
    rendered = _attributes_json(ctx, np.arange(len(ctx.index)), page.to_numpy(), None)
    return pd.Series(rendered, index=ctx.index, dtype="str")


def _props_arrow(ctx: base.Context) -> pa.ChunkedArray | None:
    if not ctx.has("props"):
        return None
    col = ctx.cols["props"]
    if ctx.raw.arrow is None or col not in ctx.raw.arrow.column_names:
        return None
    return ctx.raw.arrow.column(col)


def _distinct_attributes(ctx: base.Context, page: pd.Series) -> pd.Series | None:
    """Canonical JSON computed once per distinct (props, page): events repeat a few shapes.

    The rows are grouped by every leaf value of ``props`` (and whether each
    nested object is null) plus the page; None when ``props`` holds lists
    or is not an Arrow column (then every row is rendered).
    """
    props = _props_arrow(ctx) if ctx.has("props") else None
    if ctx.has("props") and props is None:
        return None
    # rows are grouped by integer codes of each key (equal values, equal codes; missing its
    # own code): grouping the values themselves made a Python object per cell
    keys: dict[str, np.ndarray] = {"page": pd.factorize(page)[0]}
    if props is not None:
        todo = [("p", props.combine_chunks() if isinstance(props, pa.ChunkedArray) else props)]
        while todo:
            name, arr = todo.pop()
            if pa.types.is_struct(arr.type):
                keys[name + "#null"] = arr.is_null().to_numpy(zero_copy_only=False)
                for i in range(arr.type.num_fields):
                    todo.append((f"{name}.{i}", arr.field(i)))
            elif pa.types.is_nested(arr.type):
                return None
            else:
                codes = pc.dictionary_encode(arr, null_encoding="encode").indices
                keys[name] = codes.to_numpy(zero_copy_only=False)
    frame = pd.DataFrame(keys)
    codes = frame.groupby(list(frame.columns), dropna=False, sort=False).ngroup().to_numpy()
    first = pd.Series(np.arange(len(codes))).groupby(codes, sort=True).first().to_numpy()
    rendered = _attributes_json(ctx, first, page.to_numpy()[first], props)
    return pd.Series(np.asarray(rendered, dtype=object)[codes], index=ctx.index, dtype="str")


def _attributes_json(ctx: base.Context, rows, page: np.ndarray, props) -> list[str | None]:
    """Canonical JSON of ``{**props, "page": page}`` for the given row positions."""
    if props is not None:
        picked = props.take(pa.array(np.asarray(rows, dtype=np.int64))).to_pylist()
    elif ctx.has("props"):
        every = ctx.raw.pylist(ctx.cols["props"])
        picked = [every[i] for i in np.arange(len(every))[np.asarray(rows)]]
    else:
        picked = [None] * len(page)
    merged = [
        {
            **(canonical_property_names(p) if isinstance(p, dict) else {}),
            **({"page": pg} if isinstance(pg, str) else {}),
        }
        for p, pg in zip(picked, page, strict=True)
    ]
    return to_json(merged)


def event_ids(account: pd.Series, ts: pd.Series, kind: pd.Series, attrs: pd.Series) -> pd.Series:
    """The content hash of an event: account, UTC microseconds, type and attributes."""
    return content_hash(account, utc_micros(ts), kind, attrs)


def _events(ctx: base.Context) -> dict[str, Any]:
    rows = ctx.rows
    openid, account = _account(ctx)
    ts = ctx.timestamps("ts", required=True)
    kind = canonical_event_types(ctx.ids("event", required=True), ctx.option("event_types"))
    attrs = _event_attributes(ctx)
    events = pd.DataFrame(
        {
            base.ROW: rows,
            "event_id": event_ids(account, ts, kind, attrs),
            "account_id": account,
            "ts": ts,
            "type": kind,
            "attributes": attrs,
        }
    )
    return {
        "events": events,
        "accounts": base.accounts_frame(rows, account, "wechat", openid),
        "identifiers": base.identifiers_frame(rows, account, "openid", openid),
    }


def _referrals(ctx: base.Context) -> dict[str, Any]:
    rows = ctx.rows
    inviter, inviter_acc = _account(ctx, "inviter")
    invitee, invitee_acc = _account(ctx, "invitee")
    ts = ctx.timestamps("ts", required=True)
    kind = ctx.ids("kind").fillna("invite")
    referrals = pd.DataFrame(
        {
            base.ROW: rows,
            "inviter_account_id": inviter_acc,
            "invitee_account_id": invitee_acc,
            "ts": ts,
            "kind": kind,
            "campaign": ctx.texts("campaign"),
        }
    )
    accounts = [
        base.accounts_frame(rows, inviter_acc, "wechat", inviter),
        base.accounts_frame(rows, invitee_acc, "wechat", invitee),
    ]
    return {"referrals": referrals, "accounts": accounts}
