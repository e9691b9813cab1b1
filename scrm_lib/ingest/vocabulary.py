"""One vocabulary of event types and event property names, for every adapter that reads events.

Shops' backends name the same action many ways (``add_to_cart``,
``addToCart``, ``加购``); features, marts and the person timeline count
the canonical names only (``cart_add``; see ``scrm_lib/churn/features.py``
and ``scrm_lib/value/layers.py``). :func:`canonical_event_types` maps every
known spelling to its canonical name and keeps unknown names as they are
(stripped, NFKC): a new kind of event is data, not an error.

Spellings are compared in :func:`event_key` form: NFKC, lower case,
without spaces, ``_``, ``-``, ``.`` and ``:``, so ``Add-To-Cart``,
``add_to_cart`` and ``addToCart`` are one spelling.

:func:`canonical_property_names` does the same for the keys of an event's
properties object (``orderId`` → ``order_id``, ``kw`` → ``keyword``), so
downstream code finds ``channel_code``, ``groupbuy_id``, ``order_id`` and
``keyword`` whatever the shop called them.

Example
-------
>>> import pandas as pd
>>> names = pd.Series(["add_to_cart", "addToCart", "加购", "my_event", None])
>>> canonical_event_types(names).tolist()
['cart_add', 'cart_add', 'cart_add', 'my_event', nan]
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Any

import pandas as pd

# fmt: off
#: canonical event type -> the other spellings shops use (the canonical name matches itself).
EVENT_TYPES: dict[str, tuple[str, ...]] = {
    "page_view": (
        "pageview", "view_page", "page_visit", "visit", "screen_view", "pv",
        "浏览", "页面浏览", "访问", "访问页面", "浏览页面",
    ),
    "cart_add": (
        "add_to_cart", "addcart", "add_cart", "add_to_basket", "cart_added",
        "加购", "加入购物车", "添加购物车", "加车",
    ),
    "cart_remove": ("remove_from_cart", "removecart", "cart_delete", "移出购物车", "删除购物车"),
    "groupbuy_join": (
        "join_groupbuy", "groupbuy", "group_buy", "join_group_buy", "pintuan", "join_pintuan",
        "参团", "拼团", "参加拼团", "加入拼团",
    ),
    "groupbuy_start": ("start_groupbuy", "open_groupbuy", "开团", "发起拼团"),
    "share": (
        "share_app_message", "onshareappmessage", "share_timeline", "forward",
        "分享", "转发", "分享给好友",
    ),
    "qr_scan": (
        "scan", "scan_qr", "scan_qrcode", "qrcode_scan", "qr_code_scan", "扫码", "扫描二维码",
    ),
    "group_join": ("join_group", "enter_group", "入群", "加群", "进群"),
    "group_leave": ("leave_group", "quit_group", "exit_group", "退群", "离群"),
    "search": ("search_query", "keyword_search", "搜索"),
    "favorite": ("collect", "add_favorite", "favourite", "like_goods", "收藏"),
    "checkout": ("begin_checkout", "submit_order", "place_order", "下单", "提交订单"),
    "purchase": ("pay", "pay_success", "payment", "paid", "支付成功", "付款"),
    "coupon_claim": ("get_coupon", "receive_coupon", "claim_coupon", "领券", "领取优惠券"),
    "login": ("sign_in", "signin", "登录"),
    "subscribe": ("subscribe_oa", "关注公众号"),
}

#: canonical property key -> other spellings of it in an event's properties object.
PROPERTY_NAMES: dict[str, tuple[str, ...]] = {
    "order_id": ("order_no", "orderno", "out_trade_no", "trade_no", "订单号", "订单编号"),
    "keyword": ("kw", "search_keyword", "search_word", "query", "q", "关键词", "搜索词"),
    "channel_code": ("channelcode", "qr_scene_str", "scene_str", "渠道码"),
    "groupbuy_id": ("group_buy_id", "pintuan_id", "拼团id", "团id"),
    "sku": ("sku_id", "sku_code"),
}
# fmt: on

_SEP = re.compile(r"[\s_\-.:]+")


def event_key(name: str) -> str:
    """The comparison form of an event or property name.

    Example
    -------
    >>> event_key("Add-To-Cart") == event_key("add_to_cart") == event_key("addToCart")
    True
    """
    return _event_key(str(name))


@functools.lru_cache(maxsize=8192)
def _event_key(name: str) -> str:
    # Called for every key of every event's properties: a log repeats a few dozen names.
    return _SEP.sub("", unicodedata.normalize("NFKC", name).strip().lower())


def _lookup(table: dict[str, tuple[str, ...]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for canon, others in table.items():
        for spelling in (canon, *others):
            out.setdefault(event_key(spelling), canon)
    return out


_EVENTS = _lookup(EVENT_TYPES)
_PROPS = _lookup(PROPERTY_NAMES)


def canonical_event_types(names: pd.Series, extra: dict[str, str] | None = None) -> pd.Series:
    """Map event names to the canonical vocabulary; unknown names kept (stripped, NFKC).

    Parameters
    ----------
    names
        Raw event names (any dtype; missing stays missing).
    extra
        More spellings (raw name -> canonical), e.g. a preset's ``[event_types]``;
        they win over the built-in table.

    Returns
    -------
    pandas.Series
        ``str`` dtype, same index.

    Example
    -------
    >>> canonical_event_types(pd.Series(["PAGE_VIEW", "扫码"])).tolist()
    ['page_view', 'qr_scan']
    """
    lookup = {**_EVENTS, **{event_key(k): str(v) for k, v in (extra or {}).items()}}
    # Everything per distinct name: event logs repeat a handful of names millions of times,
    # and pandas normalizes Unicode one Python call per row.
    codes, distinct = pd.factorize(names.astype("string"))
    clean = pd.Series(distinct, dtype="string").str.normalize("NFKC").str.strip()
    canon = [None if pd.isna(n) or n == "" else lookup.get(event_key(n), n) for n in clean]
    out = pd.array([*canon, None], dtype="str").take(codes)
    return pd.Series(out, index=names.index)


def canonical_property_names(props: Any) -> Any:
    """An event's properties with known key spellings renamed (a canonical key with a value wins).

    Example
    -------
    >>> sorted(canonical_property_names({"orderId": "A1", "kw": "面膜", "color": "red"}).items())
    [('color', 'red'), ('keyword', '面膜'), ('order_id', 'A1')]
    """
    if not isinstance(props, dict):
        return props
    out: dict[str, Any] = {}
    renamed: list[tuple[str, str, Any]] = []
    for k, v in props.items():
        canon = _PROPS.get(event_key(k), k)
        if canon == k:
            out[k] = v
        else:
            renamed.append((k, canon, v))
    for k, canon, v in renamed:
        if out.get(canon) is None:
            out[canon] = v
        else:  # both spellings hold a value: keep the other one under its own name
            out[k] = v
    return out
