"""Mini-program customer-service messages (客服消息) into ``messages``.

JSON lines as the WeChat backend pushes them to the mini-program's server
(``ToUserName``, ``FromUserName``, ``CreateTime`` in unix seconds,
``MsgType``, ``Content``, ``MsgId``), with the replies the service staff
sent logged in the same shape plus ``KfAccount``.

A message is ``out`` when it names a ``KfAccount`` (then ``staff_id``), or
when its sender is the mini-program itself (an original id starting with
``gh_``, or one of the preset's ``own_ids``); every other message is ``in``,
from the user's openid. ``account_id`` is ``wechat:<openid>`` of the user
in the conversation (the sender of an ``in`` message, the recipient of an
``out`` one), the id the mini-program's user and order exports create;
``room_id`` is that openid too (one chat per user). Non-text messages keep
their row with a placeholder text (``[图片]``, ``[小程序卡片]``,
:func:`scrm_lib.ingest.comments.message_text`); an ``event`` is ``[进入会话]``
when it is the user entering the chat (``user_enter_tempsession``), else ``[事件]``.
``message_id`` is ``MsgId``, or for records without one (events) a hash of
account, time, type, event and text.

Example
-------
>>> from scrm_lib.ingest import parse_file
>>> parse_file("miniapp_service_0301.jsonl").tables["messages"]  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from scrm_lib.ingest import base
from scrm_lib.ingest import normalize as nz
from scrm_lib.ingest.comments import message_text
from scrm_lib.ingest.keys import content_hash, utc_micros

#: The prefix of a mini-program's or official account's original id.
OWN_PREFIX = "gh_"
#: Events the customer-service push carries, as the text their row is kept with.
EVENTS = {"user_enter_tempsession": "[进入会话]"}


def _exact_ids(ctx: base.Context, fld: str) -> pd.Series:
    """Ids as the JSON wrote them: a 64-bit ``MsgId`` in a column with gaps reads as a float."""
    col = ctx.cols.get(fld)
    if ctx.raw.kind != "jsonl" or col is None or "." in col:
        return ctx.ids(fld)
    values = [
        None if v is None or isinstance(v, dict | list) else str(v) for v in ctx.raw.pylist(col)
    ]
    return nz.halfwidth(pd.Series(values, index=ctx.index, dtype="str"))


def parse(ctx: base.Context) -> dict[str, Any]:
    """Turn customer-service message records into messages and accounts."""
    rows = ctx.rows
    sender = ctx.ids("from_user", required=True)
    receiver = ctx.ids("to_user")
    ts = ctx.timestamps("ts", required=True)
    kind = ctx.ids("msg_type", required=True)
    staff = ctx.ids("kf_account")
    own = {str(v) for v in ctx.option("own_ids", [])}
    outbound = (
        staff.notna() | sender.str.startswith(OWN_PREFIX, na=False) | sender.isin(own)
    ).astype(bool)
    openid = sender.where(~outbound, receiver)
    ctx.reject(outbound & receiver.isna(), "to_user", "missing value")
    account = base.prefixed("wechat", openid)

    event = ctx.ids("event")
    text = message_text(kind, ctx.texts("content"))
    is_event = (nz.text(kind).str.lower() == "event").fillna(False).astype(bool)
    text = text.mask(is_event, event.str.lower().map(EVENTS).fillna("[事件]"))

    msg_id = _exact_ids(ctx, "msg_id")
    if msg_id.isna().any():
        hashed = content_hash(
            account, utc_micros(ts.fillna(pd.Timestamp(0, tz="UTC"))), kind, event, text
        )
        msg_id = msg_id.where(msg_id.notna(), "miniapp:" + hashed)
    messages = pd.DataFrame(
        {
            base.ROW: rows,
            "message_id": msg_id,
            "account_id": account,
            "ts": ts,
            "channel": str(ctx.option("channel", "miniapp_service")),
            "room_id": openid,
            "direction": np.where(outbound, "out", "in"),
            "staff_id": staff,
            "text": text,
        }
    )
    accounts = base.accounts_frame(rows, account, "wechat", openid)
    ids = base.identifiers_frame(rows, account, "openid", openid)
    return {"messages": messages, "accounts": accounts, "identifiers": ids}
