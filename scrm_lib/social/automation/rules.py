"""Automation rules: read a versioned TOML file, check every rule, name the bad one.

A rule says who (``when``: clauses over the person marts, events, orders, tags,
messages and churn scores, :mod:`.conditions`), what (``template``), how
(``channel``, ``kind``), how urgently (``priority``) and how it is measured
(``holdout``, ``conversion_days``). The column and tag clauses are the segment
builder's filters (:func:`scrm_lib.segments.definitions.validate_filters`), so a
rule and a saved segment speak one filter language; the other clauses add what a
trigger needs: counts within N days, time since the last order, a cart's age.

Example
-------
>>> rules = load_rules()
>>> rules.version, "cart_unpaid_24h" in rules.names()
('3', True)
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any

import pandas as pd

from scrm_lib.errors import ConfigError
from scrm_lib.social.automation.config import (
    CHANNEL_ALIASES,
    KINDS,
    SHIPPED_RULES,
    parse_hhmm,
)

_NAME = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
RULE_KEYS = {"name", "title", "kind", "channel", "template", "priority", "holdout",
             "window_days", "send_at", "conversion_days", "when", "description"}  # fmt: skip

#: Trigger clauses: the clause's key → the measures it offers.
MEASURES: dict[str, tuple[str, ...]] = {
    "events": ("count",),
    "orders": ("count", "days_since_last", "days_since_first"),
    "activity": ("days_since_last",),
    "cart": ("unpaid_hours",),
    "birthday": ("days_until",),
    "messages": ("count",),
    "person": ("days_since_first_seen",),
}
#: Columns of ``orders`` a clause's ``where`` may name.
ORDER_WHERE = ("traffic_source", "platform", "category", "shop", "channel_code", "groupbuy_id")
CLAUSE_KEYS = {"op", "value", "within_days", "within_hours", "attrs", "where"}
VALUE_OPS = ("==", "!=", ">", ">=", "<", "<=", "between", "in", "not_in")


@dataclass(frozen=True)
class Rule:
    """One checked rule (see the header of ``rules.toml`` for the keys)."""

    name: str
    title: str
    kind: str
    channels: tuple[str, ...]
    template: str
    priority: int
    holdout: float
    window_days: int
    send_at: str | None  # "HH:MM", "due", or None: the configured send_at
    conversion_days: int | None
    when: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class RuleSet:
    """The rules of one file, with its version and templates."""

    version: str
    path: str
    rules: tuple[Rule, ...]
    templates: dict[str, dict[str, Any]] = field(default_factory=dict)

    def names(self) -> list[str]:
        """The rule names, in file order."""
        return [r.name for r in self.rules]

    def get(self, name: str) -> Rule:
        """The rule called ``name``; an unknown name is a :class:`ConfigError`."""
        for r in self.rules:
            if r.name == name:
                return r
        raise ConfigError(f"no automation rule {name!r}; rules: {', '.join(self.names())}")


def _clause(where: str, c: Any, i: int, channels_ok: bool = True) -> dict[str, Any]:
    """One trigger clause, normalized; a bad key, measure or op is named."""
    at = f"{where}: clause {i}"
    kinds = [k for k in MEASURES if k in c]
    if len(kinds) != 1:
        raise ConfigError(f"{at}: say one of column, tag, {', '.join(MEASURES)} (not {sorted(c)})")
    kind = kinds[0]
    measure = c[kind]
    out: dict[str, Any] = {"clause": kind}
    if unknown := set(c) - CLAUSE_KEYS - {kind}:
        raise ConfigError(f"{at}: unknown keys {sorted(unknown)}")
    if kind == "events":
        types = [measure] if isinstance(measure, str) else measure
        if not isinstance(types, list) or not types or not all(isinstance(t, str) for t in types):
            raise ConfigError(f"{at}: events names an event type or a list of them")
        out.update(measure="count", types=types)
        attrs = c.get("attrs", {})
        if not isinstance(attrs, dict) or not all(isinstance(v, str) for v in attrs.values()):
            raise ConfigError(f"{at}: attrs maps an attribute to a text it contains")
        out["attrs"] = dict(attrs)
    elif kind == "messages":
        if not isinstance(measure, str):
            raise ConfigError(f"{at}: messages names an intent or 'negative'")
        out.update(measure="count", intent=measure)
    else:
        if measure not in MEASURES[kind]:
            raise ConfigError(
                f"{at}: unknown {kind} measure {measure!r}; known: {', '.join(MEASURES[kind])}"
            )
        out["measure"] = measure
    if "where" in c:
        w = c["where"]
        if kind != "orders" or not isinstance(w, dict):
            raise ConfigError(f"{at}: where is for orders: {{column = value or [values]}}")
        if bad := set(w) - set(ORDER_WHERE):
            raise ConfigError(
                f"{at}: unknown column {sorted(bad)[0]!r} in where; known: {', '.join(ORDER_WHERE)}"
            )
        out["where"] = {k: [v] if isinstance(v, str) else list(v) for k, v in w.items()}
    for key in ("within_days", "within_hours"):
        if key in c:
            v = c[key]
            if isinstance(v, bool) or not isinstance(v, int | float) or v <= 0:
                raise ConfigError(f"{at}: {key} must be a number above 0, not {v!r}")
            out[key] = float(v)
    op, value = c.get("op"), c.get("value")
    if op not in VALUE_OPS:
        raise ConfigError(f"{at}: unknown op {op!r}; known: {', '.join(VALUE_OPS)}")
    if op == "between" and not (isinstance(value, list) and len(value) == 2):
        raise ConfigError(f"{at}: between needs [low, high]")
    if op in ("in", "not_in") and not isinstance(value, list):
        raise ConfigError(f"{at}: {op} needs a list of values")
    vals = value if isinstance(value, list) else [value]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in vals):
        raise ConfigError(f"{at}: {kind} {out['measure']} compares with numbers, not {value!r}")
    out.update(op=op, value=value)
    return out


#: The modules that declare the tags a rule may name (their steps import them late).
_TAG_MODULES = ("scrm_lib.social.channels.tags", "scrm_lib.social.conversations.tags",
                "scrm_lib.social.referrals.tags", "scrm_lib.tags.derived")  # fmt: skip


def _segment_filter(where: str, c: dict[str, Any], i: int, con: Any) -> dict[str, Any]:
    """A column or tag clause, checked by the segment builder (one filter language)."""
    from scrm_lib.segments.definitions import validate_filters

    for module in _TAG_MODULES:
        import_module(module)  # their tags are known to the filter language once declared
    within = c.get("within_days")
    plain = {k: v for k, v in c.items() if k != "within_days"}
    if within is not None and "tag" not in c:
        raise ConfigError(f"{where}: clause {i}: within_days on a column clause")
    if within is not None and (isinstance(within, bool) or not isinstance(within, int | float)
                               or within <= 0):  # fmt: skip
        raise ConfigError(f"{where}: clause {i}: within_days must be a number above 0")
    try:
        (f,) = validate_filters([plain], con=con)
    except ConfigError as exc:
        raise ConfigError(f"{where}: clause {i}: {str(exc).removeprefix('filter 1: ')}") from None
    out = {"clause": "tag" if "tag" in f else "column", **f}
    if within is not None:
        out["within_days"] = float(within)
    return out


def validate_rule(
    raw: Any, *, templates: dict[str, Any], channels: dict[str, Any], path: str = "rules",
    con: Any = None,
) -> Rule:  # fmt: skip
    """One rule checked and normalized; the error names the file and the rule.

    Examples
    --------
    >>> from scrm_lib.social.automation.config import automation_config
    >>> r = validate_rule({"name": "x", "template": "T", "channel": "wecom",
    ...                    "when": [{"orders": "count", "op": "==", "value": 0}]},
    ...                   templates={"T": {}}, channels=automation_config()["channels"])
    >>> r.channels, r.kind, r.priority
    (('wecom_1v1',), 'marketing', 5)
    """
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise ConfigError(f"{path}: a [[rule]] needs a name")
    name = raw["name"]
    where = f"{path}: rule {name!r}"
    if not _NAME.match(name):
        raise ConfigError(f"{where}: a name is 1-64 letters, digits, '_' or '-'")
    if unknown := set(raw) - RULE_KEYS:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
    kind = raw.get("kind", "marketing")
    if kind not in KINDS:
        raise ConfigError(f"{where}: kind must be one of {', '.join(KINDS)}, not {kind!r}")
    chans = raw.get("channel")
    chans = [chans] if isinstance(chans, str) else chans
    if not isinstance(chans, list) or not chans:
        raise ConfigError(f"{where}: needs a channel (or a list of them)")
    resolved = []
    for ch in chans:
        ch = CHANNEL_ALIASES.get(ch, ch)
        if ch not in channels:
            raise ConfigError(f"{where}: unknown channel {ch!r}; known: {', '.join(channels)}")
        resolved.append(ch)
    template = raw.get("template")
    if template not in templates:
        raise ConfigError(
            f"{where}: unknown template {template!r}; declared: {', '.join(templates) or 'none'}"
        )
    prio = raw.get("priority", 5)
    if isinstance(prio, bool) or not isinstance(prio, int) or prio < 1:
        raise ConfigError(f"{where}: priority must be a whole number ≥ 1, not {prio!r}")
    hold = raw.get("holdout", 0.0)
    if isinstance(hold, bool) or not isinstance(hold, int | float) or not 0 <= hold < 1:
        raise ConfigError(f"{where}: holdout must be a share in [0, 1), not {hold!r}")
    window = raw.get("window_days", 7)
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ConfigError(f"{where}: window_days must be a whole number ≥ 1, not {window!r}")
    send_at = raw.get("send_at")
    if send_at is not None and send_at != "due":
        parse_hhmm(f"rule {name!r} send_at", send_at)
    conv = raw.get("conversion_days")
    if conv is not None and (isinstance(conv, bool) or not isinstance(conv, int) or conv < 1):
        raise ConfigError(f"{where}: conversion_days must be a whole number ≥ 1")
    when = raw.get("when")
    if isinstance(when, dict):
        when = [when]
    if not isinstance(when, list) or not when:
        raise ConfigError(f"{where}: needs a condition (when = [clauses])")
    clauses = []
    for i, c in enumerate(when, 1):
        if not isinstance(c, dict):
            raise ConfigError(f"{where}: clause {i} is not a table")
        if "column" in c or "tag" in c:
            clauses.append(_segment_filter(where, c, i, con))
        else:
            clauses.append(_clause(where, c, i))
    if send_at == "due" and not any(c["clause"] == "cart" for c in clauses):
        raise ConfigError(f"{where}: send_at = 'due' needs a clause with a due time (cart)")
    return Rule(
        name=name, title=str(raw.get("title", name)), kind=kind, channels=tuple(resolved),
        template=template, priority=prio, holdout=float(hold), window_days=window,
        send_at=send_at, conversion_days=conv, when=tuple(clauses),
    )  # fmt: skip


def load_rules(
    path: str | Path | None = None, *, channels: dict[str, Any] | None = None, con: Any = None
) -> RuleSet:
    """Read and check a rules file (default: the configured one, else the shipped one).

    Raises
    ------
    ConfigError
        One line naming the file and the rule: an unknown column, tag, op, template,
        channel or key; two rules with one name; no ``version``.

    Examples
    --------
    >>> load_rules().get("birthday").template
    'T_BIRTHDAY'
    """
    if channels is None or path is None:
        from scrm_lib.social.automation.config import automation_config

        cfg = automation_config()
        channels = channels or cfg["channels"]
        path = path or cfg["rules_path"]
    p = Path(path or SHIPPED_RULES)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such rules file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: not valid TOML ({exc})") from None
    if unknown := set(data) - {"version", "templates", "rule"}:
        raise ConfigError(f"{p}: unknown sections {sorted(unknown)}")
    version = data.get("version")
    if version is None or isinstance(version, bool):
        raise ConfigError(f"{p}: needs a version (bump it when a rule changes)")
    templates = data.get("templates", {})
    if not isinstance(templates, dict):
        raise ConfigError(f"{p}: [templates] must be a table of template ids")
    rules, seen = [], set()
    for raw in data.get("rule", []):
        rule = validate_rule(raw, templates=templates, channels=channels, path=str(p), con=con)
        if rule.name in seen:
            raise ConfigError(f"{p}: rule {rule.name!r}: the name is used twice")
        seen.add(rule.name)
        rules.append(rule)
    return RuleSet(version=str(version), path=str(p), rules=tuple(rules), templates=templates)


def rules_frame(rules: RuleSet) -> pd.DataFrame:
    """The rules as rows (the ``automation_rules`` mart without audiences).

    Examples
    --------
    >>> rules_frame(load_rules())["rule"].iloc[0]
    'groupbuy_views_no_order'
    """
    rows = [{
        "rule": r.name, "title": r.title, "kind": r.kind, "channels": ",".join(r.channels),
        "template": r.template, "priority": r.priority, "holdout": r.holdout,
        "window_days": r.window_days, "send_at": r.send_at or "default",
        "conversion_days": r.conversion_days,
        "condition": json.dumps(list(r.when), ensure_ascii=False, default=str),
        "rules_version": rules.version,
    } for r in rules.rules]  # fmt: skip
    return pd.DataFrame(rows)
