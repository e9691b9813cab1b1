"""The ``[channels]`` settings of ``scrm.toml``: defaults here, validated in one place.

Example
-------
>>> channels_config(attribution="last_touch")["attribution"]
'last_touch'
"""

from __future__ import annotations

from typing import Any

from scrm_lib.config import Settings, config_section
from scrm_lib.errors import ConfigError

RULES = ("first_touch", "last_touch")
#: Net GMV per person is measured over these many days after acquisition.
HORIZONS = (30, 90, 365)
MODES = ("strict", "any")

#: The default journey: each step is reached by any of its event types, or by the
#: person's n-th order (``order = 2`` with ``within_days``: of the first order).
DEFAULT_STEPS: list[dict[str, Any]] = [
    {"name": "scan_or_add", "events": ["qr_scan", "wecom_add", "wecom_follow"]},
    {"name": "group_or_follow", "events": ["group_join", "wecom_follow", "subscribe"]},
    {"name": "view", "events": ["groupbuy_join", "page_view"]},
    {"name": "cart", "events": ["cart_add"]},
    {"name": "first_order", "order": 1},
    {"name": "second_order_90d", "order": 2, "within_days": 90},
]

#: Defaults of the ``[channels]`` section.
CHANNELS_DEFAULTS: dict[str, Any] = {
    # first_touch: the earliest touch; last_touch: the last touch at or before the first order
    "attribution": "first_touch",
    # a touch this many hours after the first order still counts (a cashier's code is
    # scanned while paying, and logged after the order)
    "grace_hours": 24,
    # first touch: only touches within this many days of the person's first appearance
    # acquire (0: any touch before the first order); a scan a year later acquires nobody
    "acquisition_days": 7,
    # converted: a first order within this many days of acquisition
    "conversion_days": 30,
    # a group smaller than this is shown but never ranked
    "min_cohort": 30,
    "confidence": 0.95,
    # 高价值渠道: referred by a person with at least this many orders before the invite
    "referral_inviter_min_orders": 1,
    "funnel_mode": "strict",
    "funnel_steps": DEFAULT_STEPS,
}


def channels_config(settings: Settings | None = None, **overrides: Any) -> dict[str, Any]:
    """The ``[channels]`` settings: defaults, then ``scrm.toml``, then ``overrides`` (None skipped).

    Examples
    --------
    >>> channels_config(min_cohort=50)["min_cohort"]
    50
    """
    cfg = config_section("channels", CHANNELS_DEFAULTS, settings, **overrides)
    for key in (
        "conversion_days",
        "min_cohort",
        "referral_inviter_min_orders",
        "grace_hours",
        "acquisition_days",
    ):
        v = cfg[key]
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ConfigError(f"[channels] {key} must be a whole number ≥ 0, not {v!r}")
    if cfg["attribution"] not in RULES:
        raise ConfigError(
            f"[channels] attribution must be one of {', '.join(RULES)}, not {cfg['attribution']!r}"
        )
    if cfg["funnel_mode"] not in MODES:
        raise ConfigError(
            f"[channels] funnel_mode must be one of {', '.join(MODES)}, not {cfg['funnel_mode']!r}"
        )
    if not 0.5 <= float(cfg["confidence"]) < 1:
        raise ConfigError(f"[channels] confidence must be in [0.5, 1), not {cfg['confidence']!r}")
    cfg["funnel_steps"] = validate_steps(cfg["funnel_steps"])
    return cfg


def validate_steps(steps: Any) -> list[dict[str, Any]]:
    """Check journey steps; return them normalized. A bad step is named by its number.

    Examples
    --------
    >>> validate_steps([{"name": "cart", "events": "cart_add"}, {"name": "buy", "order": 1}])
    [{'name': 'cart', 'events': ['cart_add']}, {'name': 'buy', 'order': 1}]
    """
    if not isinstance(steps, list) or len(steps) < 2:
        raise ConfigError("[channels] funnel_steps must list at least two steps")
    out, names = [], set()
    for i, s in enumerate(steps, 1):
        if not isinstance(s, dict) or not isinstance(s.get("name"), str) or not s["name"]:
            raise ConfigError(f"funnel step {i}: needs a 'name'")
        if s["name"] in names:
            raise ConfigError(f"funnel step {i}: the name {s['name']!r} is used twice")
        names.add(s["name"])
        events, order = s.get("events"), s.get("order")
        if (events is None) == (order is None):
            raise ConfigError(f"funnel step {i} ({s['name']}): give either 'events' or 'order'")
        if unknown := set(s) - {"name", "events", "order", "within_days"}:
            raise ConfigError(f"funnel step {i} ({s['name']}): unknown keys {sorted(unknown)}")
        step: dict[str, Any] = {"name": s["name"]}
        if events is not None:
            events = [events] if isinstance(events, str) else events
            if not (events and isinstance(events, list) and all(type(x) is str for x in events)):
                raise ConfigError(f"funnel step {i} ({s['name']}): 'events' lists event types")
            step["events"] = list(events)
        else:
            if isinstance(order, bool) or not isinstance(order, int) or order < 1:
                raise ConfigError(f"funnel step {i} ({s['name']}): 'order' is 1, 2, …")
            step["order"] = order
        if "within_days" in s:
            w = s["within_days"]
            if "order" not in step or isinstance(w, bool) or not isinstance(w, int) or w < 1:
                raise ConfigError(
                    f"funnel step {i} ({s['name']}): 'within_days' (days after the first "
                    "order) goes with 'order'"
                )
            step["within_days"] = w
        out.append(step)
    return out
