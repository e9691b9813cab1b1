"""The ``[automation]`` settings of ``scrm.toml``: defaults here, validated in one place.

Every limit the suppression step applies lives here, with where its default comes
from. A brand overrides any of them in ``scrm.toml``::

    [automation]
    cap_messages = 3
    quiet_start = "22:00"
    quotas = { wecom_1v1 = { max = 1, per = "day" }, official_account = { max = 4, per = "month" } }

Example
-------
>>> automation_config(cap_messages=3)["cap_messages"]
3
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from scrm_lib.config import Settings, config_section, load_settings
from scrm_lib.errors import ConfigError

#: The rules shipped with scrm (a brand points ``rules_file`` at its own copy).
SHIPPED_RULES = Path(__file__).with_name("rules.toml")

KINDS = ("marketing", "service")
PERIODS = ("day", "month")

#: Defaults of the ``[automation]`` section.
AUTOMATION_DEFAULTS: dict[str, Any] = {
    # the rules (TOML with a version); empty: the shipped rules.toml
    "rules_file": "",
    # frequency cap: at most cap_messages marketing messages per person in any
    # cap_days days, counting past touches and every rule's planned sends
    "cap_messages": 2,
    "cap_days": 7,
    # quiet hours, local wall-clock time of the project's time zone: a send planned
    # inside them moves to quiet_end; moved more than stale_hours after it was due,
    # it is dropped as stale (a cart reminder two days late helps nobody)
    "quiet_start": "21:00",
    "quiet_end": "09:00",
    "stale_hours": 36,
    # each rule's sends are planned for this local time of the run's day unless the
    # condition gives its own due time (a cart's 24 hours)
    "send_at": "10:00",
    # conversion: a counted order within this many days of the planned send
    "conversion_days": 7,
    # Channels: which accounts carry them and whether the person must have opted in
    # (a granted consent row) rather than merely not opted out.
    # - sms: 《通信短信息服务管理规定》(工信部令第31号, 2015) art. 18: no commercial SMS
    #   without the user's consent or request, so an explicit grant is required.
    # - miniapp_push: a WeChat subscription message needs the user's subscription first
    #   (订阅消息, developers.weixin.qq.com/miniprogram/dev/framework/open-ability/
    #   subscribe-message.html: a one-time subscription allows one message), so a grant.
    # - staff_task: a task for the person's staff member (导购), not a message to the
    #   customer: no account, no consent, no quota.
    "channels": {
        "wecom_1v1": {"platforms": ["wecom"], "opt_in": False},
        "wecom_group": {"platforms": ["wecom"], "opt_in": False},
        "miniapp_push": {"platforms": ["wechat"], "opt_in": True},
        "official_account": {"platforms": ["wechat"], "opt_in": False},
        "sms": {"platforms": ["phone"], "opt_in": True},
        "staff_task": {"platforms": [], "opt_in": False},
    },
    # Platform quotas per person, channel and local period, counting the message kinds
    # listed (default: marketing; a 1:1 service follow-up is not a mass message).
    # - wecom_1v1: 企业微信「群发消息给客户」: a customer receives at most one mass
    #   message per day from the company (管理后台 › 客户联系 › 群发消息 help page,
    #   open.work.weixin.qq.com/help2/pc/14766 as read in 2024; the limit has changed
    #   over the years and staff-created mass messages have their own count: not
    #   verified against today's page, check yours).
    # - wecom_group: one customer-group mass message per day, same page, same caveat.
    # - official_account: a 服务号 may send 4 broadcasts (群发) per month to each
    #   follower (mp.weixin.qq.com 公众号 FAQ, 群发次数); template messages are not
    #   counted by WeChat but are by this quota: keep it if you send them as marketing.
    # - miniapp_push: no per-period limit; each message needs a subscription (above).
    # - sms: carriers and vendors throttle per number (e.g. Aliyun's default flow
    #   control for verification codes), but no published marketing-SMS limit could be
    #   verified: none by default.
    "quotas": {
        "wecom_1v1": {"max": 1, "per": "day"},
        "wecom_group": {"max": 1, "per": "day"},
        "official_account": {"max": 4, "per": "month"},
    },
    # where runs are kept (empty: <state_db folder>/automation)
    "state_dir": "",
}

#: Aliases a rule may use for a channel.
CHANNEL_ALIASES = {"wecom": "wecom_1v1", "miniapp_subscribe": "miniapp_push", "task": "staff_task"}


def parse_hhmm(key: str, v: Any) -> int:
    """``"21:00"`` as seconds after local midnight; a bad value is named.

    Examples
    --------
    >>> parse_hhmm("quiet_start", "21:30")
    77400
    """
    try:
        t = dt.time.fromisoformat(str(v))
    except ValueError:
        raise ConfigError(f"[automation] {key} must be a time HH:MM, not {v!r}") from None
    return t.hour * 3600 + t.minute * 60


def _whole(key: str, v: Any, least: int = 0) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < least:
        raise ConfigError(f"[automation] {key} must be a whole number ≥ {least}, not {v!r}")
    return v


def _channels(v: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(v, dict) or not v:
        raise ConfigError("[automation] channels must be a table of channels")
    out = {}
    for name, spec in v.items():
        if not isinstance(spec, dict) or set(spec) - {"platforms", "opt_in"}:
            raise ConfigError(f"[automation] channels {name}: takes platforms and opt_in")
        plats = spec.get("platforms", [])
        if not isinstance(plats, list) or not all(isinstance(p, str) for p in plats):
            raise ConfigError(f"[automation] channels {name}: platforms must list platforms")
        out[name] = {"platforms": list(plats), "opt_in": bool(spec.get("opt_in", False))}
    return out


def _quotas(v: Any, channels: dict[str, Any]) -> dict[str, dict[str, Any]]:
    if not isinstance(v, dict):
        raise ConfigError("[automation] quotas must be a table of channel = {max, per}")
    out = {}
    for ch, spec in v.items():
        if ch not in channels:
            raise ConfigError(
                f"[automation] quotas {ch}: not a channel; known: {', '.join(channels)}"
            )
        if not isinstance(spec, dict) or not {"max", "per"} <= set(spec) <= {"max", "per", "kinds"}:
            raise ConfigError(f"[automation] quotas {ch}: needs max and per (and maybe kinds)")
        if spec["per"] not in PERIODS:
            raise ConfigError(f"[automation] quotas {ch}: per must be one of {PERIODS}")
        kinds = spec.get("kinds", ["marketing"])
        if not isinstance(kinds, list) or not kinds or set(kinds) - set(KINDS):
            raise ConfigError(f"[automation] quotas {ch}: kinds lists some of {KINDS}")
        out[ch] = {"max": _whole(f"quotas {ch} max", spec["max"]), "per": spec["per"],
                   "kinds": list(kinds)}  # fmt: skip
    return out


def automation_config(settings: Settings | None = None, **overrides: Any) -> dict[str, Any]:
    """The ``[automation]`` settings: defaults, ``scrm.toml``, then ``overrides`` (None skipped).

    Adds ``timezone`` (the project's), ``quiet_start_s`` / ``quiet_end_s`` / ``send_at_s``
    (seconds after local midnight), the resolved ``rules_path`` and ``state_path``.

    Examples
    --------
    >>> cfg = automation_config(quiet_start="22:00")
    >>> cfg["quiet_start_s"], cfg["quotas"]["official_account"]
    (79200, {'max': 4, 'per': 'month', 'kinds': ['marketing']})
    """
    settings = settings or load_settings()
    cfg = config_section("automation", AUTOMATION_DEFAULTS, settings, **overrides)
    for key in ("cap_messages", "conversion_days"):
        cfg[key] = _whole(key, cfg[key])
    for key in ("cap_days", "stale_hours"):
        cfg[key] = _whole(key, cfg[key], 1)
    for key in ("quiet_start", "quiet_end", "send_at"):
        cfg[f"{key}_s"] = parse_hhmm(key, cfg[key])
    cfg["channels"] = _channels(cfg["channels"])
    cfg["quotas"] = _quotas(cfg["quotas"], cfg["channels"])
    cfg["timezone"] = settings.timezone
    rules = str(cfg["rules_file"] or "")
    path = Path(rules).expanduser() if rules else SHIPPED_RULES
    cfg["rules_path"] = path if path.is_absolute() else settings.home / path
    state = str(cfg["state_dir"] or "")
    sp = Path(state).expanduser() if state else settings.state_db.parent / "automation"
    cfg["state_path"] = sp if sp.is_absolute() else settings.home / sp
    return cfg
