"""The ``[conversations]`` settings: the tagger's, the service KPIs' and the person windows'."""

from __future__ import annotations

from typing import Any

from scrm_lib.config import Settings, config_section, load_settings
from scrm_lib.social.conversations.service import DEFAULTS as SERVICE_DEFAULTS

DEFAULTS: dict[str, Any] = {
    # a classifier guess below this probability leaves the message `other`
    # (0.3: the best macro-F1 in 5-fold cross-validation of the whole tagger on the training set)
    "classifier_min_proba": 0.3,
    # another taxonomy file (same shape as the shipped taxonomy.toml); None: the shipped one
    "taxonomy": None,
    # person windows (days before the latest message in the warehouse)
    "purchase_intent_days": 7,
    "needs_explanation_days": 14,
    "recent_days": 30,
    **{k: v for k, v in SERVICE_DEFAULTS.items() if k != "timezone"},
}


def conversations_config(settings: Settings | None = None, **overrides: Any) -> dict[str, Any]:
    """``[conversations]`` from ``scrm.toml`` over :data:`DEFAULTS`, then non-None ``overrides``.

    ``timezone`` is the project's (``settings.timezone``).

    Examples
    --------
    >>> conversations_config(answer_within_minutes=10)["answer_within_minutes"]
    10
    """
    settings = settings or load_settings()
    cfg = config_section("conversations", DEFAULTS, settings, **overrides)
    cfg["timezone"] = settings.timezone
    return cfg
