"""Export dialects: one platform's file as different shops and export dates write it.

The same Tmall, Douyin or Youzan report comes out of each shop's back
office with other column spellings, without the columns the shop hid, with
columns the shop added, in another column order, sometimes under a title
row and in another encoding; a brand's own mini-program backend names its
JSON keys and spells its times as its developers chose. The generator
draws one dialect per file (from the ``dialects`` random stream), so a
sample folder holds the mix a real brand folder does, and a pipeline that
only reads the generator's favourite spelling fails the tests.

Every spelling here is one the shipped presets accept (``scrm_lib/presets``):
``tests/test_sample.py`` checks each alias and extra column against them.
What a file's dialect was is written to ``truth/noise.json`` under
``dialect``, so tests can map a file back to the documented columns.

Example
-------
>>> rng = np.random.default_rng(0)
>>> d = choose_table(rng, TMALL, list(TMALL.aliases))
>>> sorted(d)
['drop', 'encoding', 'extra', 'order', 'rename', 'time_format', 'title', 'unwrap_ids']
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class TableSpec:
    """What may vary in one platform's spreadsheet-like export."""

    aliases: dict[str, tuple[str, ...]]
    #: Columns a shop may hide without losing what the warehouse keys on
    #: (ids, times, amounts, statuses and identity evidence always stay).
    optional: tuple[str, ...]
    encodings: tuple[tuple[str, float], ...] = (("utf-8-sig", 1.0),)
    title: float = 0.0
    time_formats: tuple[tuple[str, float], ...] = (("iso", 1.0),)
    extras: tuple[str, ...] = ()
    unwrap_ids: float = 0.0  # share of files without the ="..." wrapper (Tmall)


# Columns shops add to their exports that no preset reads; ingest must tolerate them.
EXTRA_VALUES = {
    "物流公司": ("顺丰速运", "中通快递", "圆通速递", "韵达快递", "京东物流"),
    "物流单号": None,  # derived from the order id (see _extra)
    "发票抬头": ("", "", "", "个人", "杭州某某科技有限公司"),
    "会员等级": ("普通会员", "银卡会员", "金卡会员", "钻石会员"),
    "订单类型": ("普通订单", "普通订单", "预售订单", "拼团订单"),
    "是否手机订单": ("手机订单", "手机订单", ""),
    "商家标记": ("", "", "红旗", "蓝旗", "已核对"),
    "分销员": ("", "", "", "小美", "阿杰"),
    "活动优惠": ("0.00", "0.00", "5.00", "10.00", "20.00"),
}

TMALL = TableSpec(
    aliases={
        "订单编号": ("订单号", "订单ID"),
        "买家会员名": ("买家昵称", "会员名", "买家账号"),
        "买家支付宝账号": ("支付宝账号",),
        "买家应付邮费": ("邮费",),
        "买家实际支付金额": ("实付金额", "实付款", "买家实付金额"),
        "订单状态": ("交易状态",),
        "收货人姓名": ("收货人",),
        "联系手机": ("收货人手机号", "手机"),
        "订单创建时间": ("创建时间", "下单时间"),
        "订单付款时间": ("付款时间", "支付时间"),
        "宝贝标题": ("商品标题",),
        "宝贝总数量": ("商品数量", "购买数量"),
        "订单备注": ("卖家备注",),
    },
    optional=(
        "买家留言",
        "订单备注",
        "店铺名称",
        "宝贝种类",
        "买家应付货款",
        "总金额",
        "宝贝总数量",
    ),
    encodings=(("gbk", 0.6), ("gb18030", 0.2), ("utf-8-sig", 0.2)),
    time_formats=(("iso", 0.5), ("slash", 0.3), ("slash_s", 0.2)),
    extras=("物流公司", "物流单号", "发票抬头", "是否手机订单", "商家标记", "订单类型"),
    unwrap_ids=0.3,
)

DOUYIN = TableSpec(
    aliases={
        "主订单编号": ("订单编号", "订单号", "订单ID"),
        "选购商品": ("商品名称",),
        "商品数量": ("数量", "购买数量"),
        "订单应付金额": ("应付金额", "订单金额"),
        "收件人": ("收货人", "收件人姓名"),
        "收件人手机号": ("收货人手机号", "收件人电话", "联系电话"),
        "详细地址": ("收货地址", "收件地址"),
        "订单提交时间": ("下单时间", "创建时间"),
        "支付完成时间": ("支付时间", "付款时间"),
        "达人ID": ("作者ID",),
        "达人昵称": ("作者昵称",),
        "流量来源": ("流量渠道",),
    },
    optional=("商品规格", "商品ID", "商品单价", "支付方式", "买家留言", "订单完成时间", "达人昵称"),
    # the sheet, or the CSV some shops download instead
    encodings=(("xlsx", 0.7), ("utf-8", 0.15), ("utf-8-sig", 0.15)),
    title=0.5,
    time_formats=(("iso", 0.8), ("slash_s", 0.2)),
    extras=("物流公司", "物流单号", "订单类型", "活动优惠", "商家标记"),
)

YOUZAN = TableSpec(
    aliases={
        "订单号": ("订单编号",),
        "订单创建时间": ("下单时间", "创建时间"),
        "买家付款时间": ("付款时间", "支付时间"),
        "商品数量": ("购买数量", "数量"),
        "订单实付金额": ("实付金额", "实付款", "订单金额"),
        "收货人/提货人": ("收货人",),
        "收货人手机号/提货人手机号": ("收货人手机号",),
        "买家手机号": ("买家手机", "会员手机号", "下单人手机号"),
    },
    optional=("商品名称", "商品数量", "订单来源", "买家付款时间"),
    # re-saved from Excel on a Chinese Windows: the ANSI code page
    encodings=(("utf-8-sig", 0.75), ("gb18030", 0.25)),
    title=0.4,
    time_formats=(("iso", 0.7), ("slash_s", 0.15), ("cn", 0.15)),
    extras=("物流公司", "物流单号", "会员等级", "分销员", "活动优惠", "订单类型"),
)


def _pick(rng: np.random.Generator, weighted: tuple[tuple[str, float], ...]) -> str:
    p = np.array([w for _, w in weighted], dtype=float)
    return weighted[int(rng.choice(len(weighted), p=p / p.sum()))][0]


def choose_table(rng: np.random.Generator, spec: TableSpec, columns: list[str]) -> dict:
    """Draw one file's dialect: renames, dropped, extra columns, order, title, encoding.

    The result is plain JSON (it is recorded in ``truth/noise.json``);
    ``order`` is the final column order, or empty for the documented order.
    """
    rename: dict[str, str] = {}
    if rng.random() < 0.5:
        for c in columns:
            if c in spec.aliases and rng.random() < 0.6:
                opts = spec.aliases[c]
                rename[c] = opts[int(rng.integers(len(opts)))]
    drop: list[str] = []
    optional = [c for c in spec.optional if c in columns]
    if optional and rng.random() < 0.4:
        k = int(rng.integers(1, min(len(optional), 3) + 1))
        drop = sorted(str(c) for c in rng.choice(optional, size=k, replace=False))
    extra: list[str] = []
    if spec.extras and rng.random() < 0.4:
        k = int(rng.integers(1, min(len(spec.extras), 3) + 1))
        extra = [str(c) for c in rng.choice(spec.extras, size=k, replace=False)]
    final = [rename.get(c, c) for c in columns if c not in drop] + extra
    order = [final[i] for i in rng.permutation(len(final))] if rng.random() < 0.35 else []
    return {
        "rename": rename,
        "drop": drop,
        "extra": extra,
        "order": order,
        "title": bool(rng.random() < spec.title),
        "encoding": _pick(rng, spec.encodings),
        "time_format": _pick(rng, spec.time_formats),
        "unwrap_ids": bool(rng.random() < spec.unwrap_ids),
    }


def documented(spec: TableSpec) -> dict:
    """The dialect ``docs/raw-formats.md`` describes: nothing renamed, dropped or added."""
    return {
        "rename": {},
        "drop": [],
        "extra": [],
        "order": [],
        "title": False,
        "encoding": spec.encodings[0][0],
        "time_format": spec.time_formats[0][0],
        "unwrap_ids": False,
    }


def _hash(key: pd.Series) -> np.ndarray:
    """A stable per-row number from the row's key, so a duplicated row stays identical."""
    return pd.util.hash_pandas_object(key.astype("str"), index=False).to_numpy()


def _extra(name: str, h: np.ndarray) -> np.ndarray:
    if name == "物流单号":
        return ("SF" + pd.Series(h % 10**12).astype(str).str.zfill(12)).to_numpy(dtype=object)
    vals = np.array(EXTRA_VALUES[name], dtype=object)
    return vals[(h >> np.uint64(17)) % np.uint64(len(vals))]


def apply_table(df: pd.DataFrame, d: dict) -> pd.DataFrame:
    """The documented frame in dialect ``d`` (extra columns keyed on the first column)."""
    h = _hash(df.iloc[:, 0])
    out = df.drop(columns=d["drop"]).rename(columns=d["rename"])
    for name in d["extra"]:
        out[name] = _extra(name, h)
    if d["order"]:
        out = out[d["order"]]
    return out


# ---------------------------------------------------------------- JSON lines


@dataclass(frozen=True)
class JsonSpec:
    """What may vary in a JSON-lines export of the brand's own backend."""

    keys: dict[str, tuple[str, ...]]  # documented key -> spellings a backend uses
    time_units: tuple[tuple[str, float], ...] = (("ms", 1.0),)
    extras: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: documented key -> {documented value -> other spellings} (statuses, event names)
    values: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    #: share of files whose money is yuan under keys that do not say fen
    yuan: float = 0.0


MINIAPP_ORDERS = JsonSpec(
    keys={
        "order_no": ("out_trade_no", "order_id", "orderNo", "order_sn"),
        "openid": ("open_id", "buyer_openid"),
        "create_time": ("created_at", "createdAt", "order_time"),
        "pay_time": ("paid_at", "payment_time", "success_time"),
        "total_fee": ("amount_fen", "total_fen"),
        "status": ("order_status", "trade_state"),
        "refund_fee": ("refund_amount",),  # the unit the amount has in the same file
        "items": ("goods", "goods_list"),
        "groupbuy_id": ("group_buy_id", "pintuan_id"),
        "channel_code": ("scene_str",),
    },
    time_units=(("ms", 0.5), ("s", 0.2), ("local", 0.2), ("iso", 0.1)),
    extras={
        "appid": ("wx8c1d2e3f4a5b6c7d",),
        "trade_type": ("JSAPI", "JSAPI", "NATIVE"),
        "remark": ("", "", "请尽快发货", "不要放快递柜"),
    },
    values={
        "status": {
            "PAID": ("SUCCESS", "paid", "已支付"),
            "REFUNDED": ("REFUND", "refunded", "已退款"),
            "CLOSED": ("closed", "cancelled", "已关闭"),
            "NOTPAY": ("unpaid", "pending", "待支付"),
        }
    },
    yuan=0.3,
)
#: keys a yuan file writes its money under (read as yuan from the decimals)
YUAN_KEYS = {
    "total_fee": ("amount", "pay_amount", "total_amount"),
    "refund_fee": ("refund_amount",),
}
#: the wx.chooseAddress object: its documented keys and the short ones some backends store
MINIAPP_ADDRESS = JsonSpec(
    keys={
        "userName": ("name",),
        "telNumber": ("phone",),
        "provinceName": ("province",),
        "cityName": ("city",),
        "countyName": ("district",),
        "detailInfo": ("detail",),
    }
)
MINIAPP_EVENTS = JsonSpec(
    keys={
        "openid": ("open_id",),
        "event": ("event_name", "event_type", "action"),
        "page": ("page_path", "path"),
        "ts": ("timestamp", "event_time", "time"),
        "props": ("properties", "params"),
    },
    time_units=(("ms", 0.55), ("s", 0.2), ("local", 0.15), ("iso", 0.1)),
    extras={
        "appid": ("wx8c1d2e3f4a5b6c7d",),
        "sdk_version": ("3.3.4", "3.4.1", "3.5.0"),
        "network": ("wifi", "4g", "5g"),
    },
    values={
        "event": {
            "page_view": ("pageview", "pv", "浏览"),
            "cart_add": ("add_to_cart", "addcart", "加购"),
            "groupbuy_join": ("join_groupbuy", "参团"),
            "qr_scan": ("scan_qrcode", "扫码"),
            "share": ("share_app_message", "分享"),
        }
    },
)
MINIAPP_USERS = JsonSpec(
    keys={
        "openid": ("open_id",),
        "unionid": ("union_id",),
        "nickname": ("nickName", "nick_name"),
        "phone": ("phoneNumber", "purePhoneNumber", "mobile"),
        "gender": ("sex",),
        "subscribe_time": ("register_time", "first_visit_time"),
        "subscribe_scene": ("scene",),
        "qr_scene_str": ("channel_code", "scene_str"),
    },
    time_units=(("s", 0.6), ("ms", 0.25), ("local", 0.15)),
)


def choose_json(rng: np.random.Generator, spec: JsonSpec, keys: list[str]) -> dict:
    """Draw one JSON file's dialect: key and value spellings, key order, units, extra keys."""
    yuan = bool(rng.random() < spec.yuan)
    rename = {}
    if rng.random() < 0.5:
        for k in keys:
            if k in spec.keys and rng.random() < 0.7:
                opts = spec.keys[k]
                rename[k] = opts[int(rng.integers(len(opts)))]
    if yuan:
        for k, opts in YUAN_KEYS.items():
            if k in keys:
                rename[k] = opts[int(rng.integers(len(opts)))]
    values = {}
    for k, spellings in spec.values.items():
        if k in keys and rng.random() < 0.5:
            values[k] = {v: alt[int(rng.integers(len(alt)))] for v, alt in spellings.items()}
    extra = []
    if spec.extras and rng.random() < 0.4:
        names = sorted(spec.extras)
        k = int(rng.integers(1, len(names) + 1))
        extra = sorted(str(c) for c in rng.choice(names, size=k, replace=False))
    final = [rename.get(k, k) for k in keys] + extra
    order = [final[i] for i in rng.permutation(len(final))] if rng.random() < 0.35 else []
    return {
        "rename": rename,
        "values": values,
        "extra": extra,
        "order": order,
        "time_unit": _pick(rng, spec.time_units),
        "money": "yuan" if yuan else "fen",
    }


def render_json(fields: dict[str, pd.Series], d: dict, spec: JsonSpec | None = None) -> pd.Series:
    """JSON objects, one a row, from per-key JSON value text (NA = key absent on that row).

    ``fields`` maps each documented key to its values already written as
    JSON (``'"abc"'``, ``'12'``, ``'null'``); keys come out renamed, in the
    dialect's order, with the dialect's extra keys (their values keyed on
    the first field, so a duplicated line stays identical).
    """
    first = next(iter(fields.values()))
    n = len(first)
    vals = {d["rename"].get(k, k): v.reset_index(drop=True) for k, v in fields.items()}
    if d["extra"] and spec is not None:
        h = _hash(first.reset_index(drop=True))
        for name in d["extra"]:
            opts = np.array(spec.extras[name], dtype=object)
            text = opts[(h >> np.uint64(11)) % np.uint64(len(opts))]
            vals[name] = '"' + pd.Series(text, dtype="str") + '"'
    for k, spelled in d.get("values", {}).items():
        k = d["rename"].get(k, k)
        table = {f'"{v}"': f'"{alt}"' for v, alt in spelled.items()}
        vals[k] = vals[k].map(table).fillna(vals[k])
    order = d["order"] or list(vals)
    body = pd.Series("", index=range(n), dtype="str")
    for k in order:
        v = vals[k]
        frag = ',"' + k + '":' + v
        body = body + frag.fillna("")
    return "{" + body.str.slice(1) + "}"


def json_time(window, t_ms: np.ndarray, unit: str) -> pd.Series:
    """Unix milliseconds as the dialect writes them: ``ms``, ``s``, local text or ISO + offset."""
    ms = np.asarray(t_ms, dtype="int64")
    if unit == "ms":
        return pd.Series(ms).astype(str)
    if unit == "s":
        return pd.Series(ms // 1000).astype(str)
    t = ms // 1000 - window.unix_start
    text = window.local_text(t) if unit == "local" else window.iso_offset(t)
    return '"' + pd.Series(text, dtype="str") + '"'
