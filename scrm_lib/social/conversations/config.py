"""The ``[conversations]`` settings: the tagger's, the service KPIs' and the person windows'."""

from __future__ import annotations

from typing import Any

from scrm_lib.config import Settings, config_section, load_settings
from scrm_lib.social.conversations.service import DEFAULTS as SERVICE_DEFAULTS

DEFAULTS: dict[str, Any] = {
    # a classifier guess below this probability leaves the message `other`; a guess of
    # purchase_intent needs more: a 高意向 tag sends a salesperson, so a wrong one costs more
    # than a missed one. Chosen by 5-fold cross-validation of the whole tagger on the training
    # set (1,556 lines): the highest purchase_intent precision whose recall stays ≥ 0.87, then
    # macro-F1 (0.2 / 0.5: precision 0.855, recall 0.871, macro-F1 0.785; the former single
    # bar of 0.3: 0.809, 0.901, 0.765)
    "classifier_min_proba": 0.2,
    "purchase_intent_min_proba": 0.5,
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
