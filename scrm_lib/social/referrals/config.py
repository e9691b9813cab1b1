"""The ``[referrals]`` settings of ``scrm.toml``: defaults here, validated in one place.

Example
-------
>>> referrals_config(conversion_days=14)["conversion_days"]
14
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from scrm_lib.config import Settings, config_section
from scrm_lib.errors import ConfigError

KINDS = ("invite", "group_leader", "distributor")
#: What the KOC score weighs; each part is a percentile rank among scored persons.
KOC_PARTS = ("downstream_gmv", "conversion", "engagement", "sentiment")
#: Retention and GMV of acquired persons are measured over these many days.
HORIZONS = (30, 90)

#: Defaults of the ``[referrals]`` section.
REFERRALS_DEFAULTS: dict[str, Any] = {
    # converted invitee: their first order within this many days of the invite
    "conversion_days": 30,
    # 邀请有礼: a rule is earned once per inviter and campaign
    "reward_rules": [
        {"name": "邀请满5人", "converted": 5, "kinds": ["invite"], "cost": 50.0},
    ],
    # 刷单: this many invites by one inviter within burst_minutes
    "burst_minutes": 10,
    "burst_min_invites": 5,
    # this many invitees of one inviter sharing a device, address or phone
    "shared_min_invitees": 3,
    # an inviter with at least this many invitees of whom none ever bought
    "never_buy_min_invitees": 5,
    "identifier_kinds": ["device", "address", "phone", "phone_masked"],
    # engagement: group messages (message_tags) and these event types
    "share_events": ["share"],
    "review_events": ["review"],
    "koc_weights": {"downstream_gmv": 0.4, "conversion": 0.2, "engagement": 0.2, "sentiment": 0.2},
    "koc_core": 0.8,
    "koc_potential": 0.6,
    # the conversion part: invite conversion shrunk towards everyone's by this many invitees
    "koc_conversion_prior": 5,
    # only persons who brought at least this many persons are ranked as KOC
    "koc_min_invitees": 1,
}


def _whole(key: str, v: Any, least: int = 0) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < least:
        raise ConfigError(f"[referrals] {key} must be a whole number ≥ {least}, not {v!r}")
    return v


def _names(key: str, v: Any) -> list[str]:
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
        raise ConfigError(f"[referrals] {key} must list names, not {v!r}")
    return list(v)


def _date(key: str, v: Any) -> str | None:
    if v is None:
        return None
    try:
        return dt.date.fromisoformat(str(v)).isoformat()
    except ValueError:
        raise ConfigError(f"[referrals] {key} must be a date (YYYY-MM-DD), not {v!r}") from None


def validate_rules(rules: Any) -> list[dict[str, Any]]:
    """Reward rules, normalized; a bad one is named by its number.

    A rule: ``name``, ``converted`` (converted invitees needed), optional ``kinds``
    (link kinds counted; default ``invite``), ``campaign`` (only this one; default each
    campaign on its own), ``since`` / ``until`` (local dates the invite falls in) and
    ``cost`` (CNY per reward; 0 when free).

    Examples
    --------
    >>> validate_rules([{"name": "邀请满3人", "converted": 3}])[0]["kinds"]
    ['invite']
    """
    if not isinstance(rules, list):
        raise ConfigError("[referrals] reward_rules must be a list of rules")
    out, seen = [], set()
    for i, r in enumerate(rules, 1):
        where = f"[referrals] reward_rules {i}"
        if not isinstance(r, dict) or not isinstance(r.get("name"), str) or not r["name"]:
            raise ConfigError(f"{where}: needs a 'name'")
        if r["name"] in seen:
            raise ConfigError(f"{where}: the name {r['name']!r} is used twice")
        seen.add(r["name"])
        known = {"name", "converted", "kinds", "campaign", "since", "until", "cost"}
        if unknown := set(r) - known:
            raise ConfigError(f"{where} ({r['name']}): unknown keys {sorted(unknown)}")
        rule = {
            "name": r["name"],
            "converted": _whole(f"reward_rules {i} converted", r.get("converted"), 1),
            "kinds": _names(f"reward_rules {i} kinds", r.get("kinds", ["invite"])),
            "campaign": r.get("campaign"),
            "since": _date(f"reward_rules {i} since", r.get("since")),
            "until": _date(f"reward_rules {i} until", r.get("until")),
            "cost": r.get("cost", 0.0),
        }
        if bad := set(rule["kinds"]) - set(KINDS):
            raise ConfigError(f"{where} ({r['name']}): kinds {sorted(bad)}: one of {KINDS}")
        c = rule["cost"]
        if isinstance(c, bool) or not isinstance(c, int | float) or c < 0:
            raise ConfigError(f"{where} ({r['name']}): cost must be a number ≥ 0, not {c!r}")
        rule["cost"] = float(c)
        out.append(rule)
    return out


def referrals_config(settings: Settings | None = None, **overrides: Any) -> dict[str, Any]:
    """The ``[referrals]`` settings: defaults, ``scrm.toml``, then ``overrides`` (None skipped).

    Examples
    --------
    >>> referrals_config(koc_core=0.9)["koc_core"]
    0.9
    """
    cfg = config_section("referrals", REFERRALS_DEFAULTS, settings, **overrides)
    for key in ("conversion_days", "never_buy_min_invitees", "koc_min_invitees"):
        cfg[key] = _whole(key, cfg[key])
    for key in ("burst_minutes", "burst_min_invites", "shared_min_invitees"):
        cfg[key] = _whole(key, cfg[key], 1)
    for key in ("identifier_kinds", "share_events", "review_events"):
        cfg[key] = _names(key, cfg[key])
    cfg["reward_rules"] = validate_rules(cfg["reward_rules"])
    w = cfg["koc_weights"]
    if not isinstance(w, dict) or set(w) - set(KOC_PARTS):
        raise ConfigError(f"[referrals] koc_weights takes the parts {', '.join(KOC_PARTS)}")
    for part, v in w.items():
        if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
            raise ConfigError(f"[referrals] koc_weights {part} must be a number ≥ 0, not {v!r}")
    if sum(w.values()) <= 0:
        raise ConfigError("[referrals] koc_weights must give some part a weight above 0")
    cfg["koc_weights"] = {p: float(w.get(p, 0.0)) for p in KOC_PARTS}
    v = cfg["koc_conversion_prior"]
    if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
        raise ConfigError(f"[referrals] koc_conversion_prior must be a number ≥ 0, not {v!r}")
    cfg["koc_conversion_prior"] = float(v)
    for key in ("koc_core", "koc_potential"):
        v = cfg[key]
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= 1:
            raise ConfigError(f"[referrals] {key} must be a score in [0, 1], not {v!r}")
        cfg[key] = float(v)
    if cfg["koc_potential"] > cfg["koc_core"]:
        raise ConfigError("[referrals] koc_potential must not be above koc_core")
    return cfg
