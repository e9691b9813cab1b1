"""A rule's condition and channels in the marketer's words, Chinese or English.

The rules file holds conditions as clauses (``rules.py``); the page, the notebook and
the CLI show them through these functions, so every surface says the same.
"""

from __future__ import annotations

import json

from scrm_lib.labels import has_label, label, value_label

OPS_ZH = {"==": "=", "!=": "≠", ">": ">", ">=": "≥", "<": "<", "<=": "≤"}
MEASURES_ZH = {
    ("orders", "count"): "订单数",
    ("orders", "days_since_last"): "距上次下单天数",
    ("orders", "days_since_first"): "距首单天数",
    ("activity", "days_since_last"): "沉默天数（无事件、订单或消息）",
    ("cart", "unpaid_hours"): "加购后未支付小时数",
    ("birthday", "days_until"): "距生日天数",
    ("person", "days_since_first_seen"): "首次出现至今天数",
}
MEASURES_EN = {
    ("orders", "count"): "orders",
    ("orders", "days_since_last"): "days since the last order",
    ("orders", "days_since_first"): "days since the first order",
    ("activity", "days_since_last"): "days silent (no event, order or message)",
    ("cart", "unpaid_hours"): "hours since a cart add, unpaid",
    ("birthday", "days_until"): "days to the birthday",
    ("person", "days_since_first_seen"): "days since first seen",
}


def _values(column: str, value: object, zh: bool) -> str:
    vals = value if isinstance(value, list) else [value]
    if column in ("early_warning",) or isinstance(vals[0], bool):
        return "、".join(("是" if v else "否") if zh else ("yes" if v else "no") for v in vals)
    shown = [str(value_label(column, v, "zh" if zh else "en")) for v in vals]
    return ("、" if zh else ", ").join(shown)


def _compare(op: str, value: object, zh: bool, column: str = "") -> str:
    if op == "between":
        lo, hi = value  # type: ignore[misc]
        return f"介于 {lo}–{hi}" if zh else f"between {lo} and {hi}"
    if op in ("in", "not_in"):
        word = {"in": ("属于", "in"), "not_in": ("不属于", "not in")}[op][0 if zh else 1]
        return f"{word} {_values(column, value, zh)}"
    return f"{OPS_ZH.get(op, op)} {_values(column, value, zh) if column else value}"


def _window(c: dict, zh: bool) -> str:
    if c.get("within_hours"):
        n = f"{c['within_hours']:g}"
        return f"近{n}小时" if zh else f" in the last {n} hours"
    if c.get("within_days"):
        n = f"{c['within_days']:g}"
        return f"近{n}天" if zh else f" in the last {n} days"
    return ""


def clause_words(c: dict, zh: bool = True) -> str:
    """One clause of a rule's condition in the marketer's words."""
    kind, lang = c.get("clause"), "zh" if zh else "en"
    win = _window(c, zh)
    if kind == "column":
        col = c["column"]
        name = label(col, lang) if has_label(col, lang) else col
        if col == "early_warning" and c.get("op") == "==" and c.get("value") is True:
            return "在流失预警名单上" if zh else "on the churn early-warning list"
        return f"{name} {_compare(c['op'], c.get('value'), zh, col)}"
    if kind == "tag":
        tag = c["tag"]
        name = value_label("tag", tag, lang) if tag != "channel_type" else label(tag, lang)
        vals = _values(tag, c["value"], zh) if c.get("value") else ""
        has = c.get("op") == "has_tag"
        if zh:
            since = f"（{win}获得）" if win else ""
            return f"{'有' if has else '没有'}标签 {name}{'：' + vals if vals else ''}{since}"
        since = f" (given{win})" if win else ""
        return f"{'has' if has else 'lacks'} tag {name}{': ' + vals if vals else ''}{since}"
    if kind == "events":
        types = ("、" if zh else ", ").join(str(value_label("type", t, lang))
                                            for t in c.get("types", []))  # fmt: skip
        attrs = c.get("attrs") or {}
        where = "".join(f"（{k}含“{v}”）" if zh else f" ({k} contains '{v}')"
                        for k, v in attrs.items())  # fmt: skip
        if zh:
            return f"{win}{types}{where}次数 {_compare(c['op'], c['value'], zh)}"
        return f"{types} events{where}{win} {_compare(c['op'], c['value'], zh)}"
    if kind == "messages":
        intent = c.get("intent", "")
        if intent == "negative":
            what = "负面情绪消息数" if zh else "negative messages"
        else:
            what = (f"{value_label('intent', intent, lang)}消息数" if zh
                    else f"{value_label('intent', intent, lang)} messages")  # fmt: skip
        if zh:
            return f"{win}{what} {_compare(c['op'], c['value'], zh)}"
        return f"{what}{win} {_compare(c['op'], c['value'], zh)}"
    key = (kind, c.get("measure"))
    what = (MEASURES_ZH if zh else MEASURES_EN).get(key, f"{kind} {c.get('measure')}")
    where = c.get("where") or {}
    if where:
        vals = ["/".join(v) for v in where.values()]
        what = (f"{'、'.join(vals)}来源的{what}" if zh
                else f"{what} from {', '.join(vals)}")  # fmt: skip
    if zh:
        return f"{win}{what} {_compare(c['op'], c['value'], zh)}"
    return f"{what}{win} {_compare(c['op'], c['value'], zh)}"


def condition_words(condition: str, zh: bool = True) -> str:
    """A rule's condition (the clauses' JSON) as one line: every clause must hold."""
    try:
        clauses = json.loads(condition)
    except (TypeError, ValueError):
        return str(condition)
    return ("；且 " if zh else "; and ").join(clause_words(c, zh) for c in clauses)


def channels_words(channels: str, lang: str) -> str:
    """A rule's channels in order of preference (``wecom,sms``) as labels."""
    return " → ".join(str(value_label("channel", c, lang)) for c in str(channels).split(",") if c)
