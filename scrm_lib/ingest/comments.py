"""Comments and direct messages from Douyin (抖音) and Xiaohongshu (小红书) into ``messages``.

Two kinds, one adapter; the preset's ``platform`` (``douyin`` /
``xiaohongshu``) prefixes the account ids and its ``channel`` option names
the channel (``douyin_comment``, ``douyin_dm``, ``xhs_comment``,
``xhs_dm``).

- comments (评论管理 / 笔记评论 exports): one ``in`` message per comment,
  ``message_id`` = 评论ID, ``room_id`` = the video, live room or note it was
  left on. ``account_id`` is ``<platform>:<用户ID>`` (or the 抖音号 /
  小红书号 on a row without a 用户ID); a row without any user id is kept
  with ``account_id`` null, since the text still counts for the video. The
  brand's reply in a 回复内容 column becomes its own ``out`` message
  (``<评论ID>:reply``, same account and room, at 回复时间 or, without one, at
  the comment's time). A row the export marks as written by the author
  (是否作者回复 = 是) or whose user id is one of the preset's ``own_ids`` is
  itself an ``out`` message with no customer.
- messages (私信 exports): one message per row, ``room_id`` = 会话ID.
  ``direction`` comes from a sender-role column when the export has one
  (用户 / 商家 ...), else from whether 发送方 is the user the row names
  (用户ID / 抖音号), else from which party is the brand: an id in the
  preset's ``own_ids``, or the party present in the most conversations (a
  brand account's export has it in every one); in a file of one
  conversation where both parties tie, the sender of its first message is
  the user (the brand cannot open a private chat). ``account_id`` is the
  user's id; a party written as a nickname rather than an id (it holds
  characters no platform id has) leaves ``account_id`` null. Without a
  消息ID the ``message_id`` is a hash of the platform, conversation, sender,
  time, type and text.

Non-text messages keep their row: the text is a placeholder such as
``[图片]`` (:func:`message_text`), so later tagging sees them as ``other``
instead of losing them. Blank comment text stays null. A timestamp that
does not parse rejects its row (file, line, column and value in the reject).

Example
-------
>>> from scrm_lib.ingest import parse_file
>>> parse_file("douyin_comments_0301.xlsx").tables["messages"]  # doctest: +SKIP
"""

from __future__ import annotations

import unicodedata
from typing import Any

import numpy as np
import pandas as pd

from scrm_lib.ingest import base
from scrm_lib.ingest import normalize as nz
from scrm_lib.ingest.keys import content_hash, utc_micros

#: Message types (as exports and the WeChat push spell them) to the placeholder a
#: non-text message gets as its text; ``None``: a text message, its content is the text.
MESSAGE_TYPES: dict[str, str | None] = {
    "text": None,
    "文本": None,
    "文字": None,
    "image": "[图片]",
    "img": "[图片]",
    "picture": "[图片]",
    "图片": "[图片]",
    "voice": "[语音]",
    "audio": "[语音]",
    "语音": "[语音]",
    "video": "[视频]",
    "shortvideo": "[视频]",
    "视频": "[视频]",
    "sticker": "[表情]",
    "emoji": "[表情]",
    "emotion": "[表情]",
    "表情": "[表情]",
    "表情包": "[表情]",
    "miniprogrampage": "[小程序卡片]",
    "小程序": "[小程序卡片]",
    "小程序卡片": "[小程序卡片]",
    "link": "[链接]",
    "链接": "[链接]",
    "share": "[分享]",
    "分享": "[分享]",
    "card": "[卡片]",
    "卡片": "[卡片]",
    "名片": "[名片]",
    "product": "[商品卡片]",
    "商品": "[商品卡片]",
    "商品卡片": "[商品卡片]",
    "order": "[订单]",
    "订单": "[订单]",
    "location": "[位置]",
    "位置": "[位置]",
    "file": "[文件]",
    "文件": "[文件]",
    "event": "[事件]",
}

#: Sender roles (a 发送方类型 column, or a 发送方 holding a role instead of an id).
SENDER_ROLES: dict[str, str] = {
    **dict.fromkeys(
        ("用户", "粉丝", "客户", "买家", "访客", "顾客", "user", "customer", "fan", "visitor"), "in"
    ),
    **dict.fromkeys(("收到", "接收", "收", "received", "inbound", "in"), "in"),
    **dict.fromkeys(
        (
            "商家",
            "企业",
            "企业号",
            "品牌",
            "官方",
            "客服",
            "主播",
            "作者",
            "达人",
            "店铺",
            "本人",
            "我",
            "我方",
            "自动回复",
            "merchant",
            "brand",
            "staff",
            "author",
            "shop",
            "auto",
        ),
        "out",
    ),
    **dict.fromkeys(("发出", "发送", "回复", "sent", "outbound", "out"), "out"),
}


def _key(s: pd.Series) -> pd.Series:
    return nz.halfwidth(s).str.lower()


def message_text(kind: pd.Series, content: pd.Series) -> pd.Series:
    """The text a message is kept with: its content, or a placeholder for a non-text type.

    An unknown type without content gets ``[<type>]`` (``[其他消息]`` for a type name
    longer than 8 characters), so the row is never empty.

    Example
    -------
    >>> message_text(
    ...     pd.Series(["text", "image", "图片", "gift", "red_packet_v2", None]),
    ...     pd.Series(["你好", "http://x/1.jpg", None, None, None, "在吗"]),
    ... ).tolist()
    ['你好', '[图片]', '[图片]', '[gift]', '[其他消息]', '在吗']
    """
    k = _key(kind)
    placeholder = k.map(MESSAGE_TYPES)
    known = k.isin(list(MESSAGE_TYPES))
    raw = nz.text(kind).astype("str")
    # short enough to read as a placeholder ([<at most 8 characters>]) wherever text is tagged
    unknown = ("[" + raw.where(raw.str.len() <= 8, "其他消息") + "]").where(k.notna() & ~known)
    by_type = placeholder.where(known, unknown).astype("str")
    # a known non-text type shows its placeholder even when the export adds a URL or title
    out = by_type.where(known & by_type.notna(), content)
    return out.where(out.notna(), by_type).astype("str")


def parse(ctx: base.Context) -> dict[str, Any]:
    """Dispatch on the preset's ``kind``."""
    kinds = {"comments": _comments, "messages": _direct}
    return kinds[ctx.preset.kind or "comments"](ctx)


def _platform(ctx: base.Context) -> str:
    return ctx.preset.platform or "douyin"


def _channel(ctx: base.Context, default: str) -> str:
    return str(ctx.option("channel", default))


def _own_ids(ctx: base.Context) -> set[str]:
    return {unicodedata.normalize("NFKC", str(v)).strip() for v in ctx.option("own_ids", [])}


# ---------------------------------------------------------------- comments


def _comments(ctx: base.Context) -> dict[str, Any]:
    rows = ctx.rows
    platform = _platform(ctx)
    comment_id = ctx.ids("comment_id", required=True)
    ts = ctx.timestamps("ts", required=True)
    reply_ts = ctx.timestamps("reply_ts")
    room = ctx.ids("room_id")
    # the platform's user id where the row has one, else the public handle (抖音号 / 小红书号)
    user = ctx.ids("user_id")
    user = user.where(user.notna(), ctx.ids("handle"))
    nickname = ctx.texts("nickname")
    text = ctx.texts("text")
    reply = ctx.texts("reply")
    by_author, bad = nz.parse_bools(ctx.get("by_author"))
    # a flag the export writes some other way (作者 / 用户) is a role, not a yes/no
    role = _key(ctx.get("by_author")).map(SENDER_ROLES)
    own = (by_author.fillna(False).astype(bool) | (role == "out")).astype(bool)
    ctx.reject(bad & role.isna(), "by_author", "not a yes/no value")
    own |= user.isin(_own_ids(ctx)).fillna(False).astype(bool)
    account = base.prefixed(platform, user).where(~own)
    channel = _channel(ctx, f"{platform}_comment")
    comments = pd.DataFrame(
        {
            base.ROW: rows,
            "message_id": comment_id,
            "account_id": account,
            "ts": ts,
            "channel": channel,
            "room_id": room,
            "direction": np.where(own, "out", "in"),
            "staff_id": pd.Series(pd.NA, index=ctx.index, dtype="str"),
            "text": text,
        }
    )
    has_reply = reply.notna().to_numpy()
    replies = comments[has_reply].assign(
        message_id=(comment_id[has_reply] + ":reply").to_numpy(),
        ts=reply_ts[has_reply].where(reply_ts[has_reply].notna(), ts[has_reply]).to_numpy(),
        direction="out",
        text=reply[has_reply].to_numpy(),
    )
    accounts = base.accounts_frame(
        rows[~own], account[~own], platform, user[~own], display_name=nickname[~own]
    )
    return {"messages": [comments, replies], "accounts": accounts}


# ---------------------------------------------------------------- direct messages

#: What a platform user id looks like: letters, digits and ``_ . -`` (no CJK, no spaces).
_ID_SHAPE = r"[0-9A-Za-z_.\-]+"


def _brand_party(conv: pd.Series, sender: pd.Series, receiver: pd.Series, ts: pd.Series) -> str:
    """The brand's own id: the party present in the most conversations of the file."""
    pairs = pd.concat(
        [
            pd.DataFrame({"conv": conv.to_numpy(), "party": sender.to_numpy()}),
            pd.DataFrame({"conv": conv.to_numpy(), "party": receiver.to_numpy()}),
        ],
        ignore_index=True,
    ).dropna()
    if pairs.empty:
        return ""
    reach = pairs.drop_duplicates().groupby("party").size().sort_values(ascending=False)
    if len(reach) > 1 and reach.iloc[0] == reach.iloc[1]:
        # a tie (one conversation): the party that did not open the earliest chat
        first = ts.fillna(pd.Timestamp.max.tz_localize("UTC")).to_numpy().argmin()
        opener = sender.iloc[first]
        tied = reach[reach == reach.iloc[0]].index
        others = [p for p in tied if p != opener]
        return str(others[0]) if others else ""
    return str(reach.index[0])


def _direct(ctx: base.Context) -> dict[str, Any]:
    rows = ctx.rows
    platform = _platform(ctx)
    ts = ctx.timestamps("ts", required=True)
    sender = ctx.ids("sender", required=True)
    receiver = ctx.ids("receiver")
    conv = ctx.ids("conversation_id")
    user = ctx.ids("user_id")
    user = user.where(user.notna(), ctx.ids("handle"))
    own_ids = _own_ids(ctx)

    role = _key(ctx.get("sender_role")).map(SENDER_ROLES)
    sender_role = _key(sender).map(SENDER_ROLES)
    # 发送方 holds roles (用户 / 商家) only when every value is one; else an id that merely
    # spells a role word is still an id
    if sender_role[sender.notna()].isna().any():
        sender_role = pd.Series(pd.NA, index=ctx.index, dtype="str")
    role = role.where(role.notna(), sender_role)
    direction = role.copy()
    undecided = direction.isna()
    if undecided.any() and (ctx.has("user_id") or ctx.has("handle")):
        by_user = pd.Series(np.where((sender == user).fillna(False), "in", "out"), index=ctx.index)
        direction = direction.where(~(undecided & user.notna()), by_user)
        undecided = direction.isna()
    if undecided.any():
        parties = sender.where(sender_role.isna())
        # without a 会话ID a conversation is the pair of parties
        low, high = sender.fillna(""), receiver.fillna("")
        pair = low.where(low < high, high) + "|" + high.where(low < high, low)
        key = conv.where(conv.notna(), pair)
        brand = own_ids or {_brand_party(key, parties, receiver, ts)} - {""}
        guess = pd.Series(np.where(sender.isin(brand), "out", "in"), index=ctx.index)
        direction = direction.where(~undecided, guess)
    direction = direction.astype("str")

    # the customer: the row's user column, else the party on the user's side
    party = sender.where(direction == "in", receiver).where(sender_role.isna())
    party = party.where(party.str.fullmatch(_ID_SHAPE, na=False))
    native = user.where(user.notna(), party)
    account = base.prefixed(platform, native)
    room = conv.where(conv.notna(), native)

    kind = ctx.texts("msg_type")
    text = message_text(kind, ctx.texts("text"))
    message_id = ctx.ids("message_id")
    if message_id.isna().any():
        hashed = content_hash(
            pd.Series(platform, index=ctx.index),
            room,
            sender,
            utc_micros(ts.fillna(pd.Timestamp(0, tz="UTC"))),
            kind,
            text,
        )
        message_id = message_id.where(message_id.notna(), platform + ":" + hashed)
    messages = pd.DataFrame(
        {
            base.ROW: rows,
            "message_id": message_id,
            "account_id": account,
            "ts": ts,
            "channel": _channel(ctx, f"{platform}_dm"),
            "room_id": room,
            "direction": direction,
            "staff_id": pd.Series(pd.NA, index=ctx.index, dtype="str"),
            "text": text,
        }
    )
    accounts = base.accounts_frame(
        rows, account, platform, native, display_name=ctx.texts("nickname")
    )
    return {"messages": messages, "accounts": accounts}
