"""The rules as a table, with how many persons each selects on a date.

Example
-------
>>> from scrm_lib.social.automation import automation_rules
>>> automation_rules()[["rule", "kind", "channels", "priority"]].head(3)  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import ibis
import pandas as pd

from scrm_lib.config import Settings, load_settings
from scrm_lib.engine import Warehouse, using
from scrm_lib.social.automation.config import automation_config
from scrm_lib.social.automation.rules import RuleSet, load_rules, rules_frame


def audience_sizes(con: Any, rules: RuleSet, day: dt.date, tz: str) -> dict[str, int]:
    """Persons each rule selects as of ``day`` (before suppression), counted in the engine."""
    from scrm_lib.social.automation.conditions import Inputs, audience
    from scrm_lib.social.automation.outbox import run_instant

    if not rules.rules:
        return {}
    with Inputs(con, run_instant(day, tz), day) as inp:
        parts = [audience(inp, r).select("person_id", rule=ibis.literal(r.name))
                 for r in rules.rules]  # fmt: skip
        u = ibis.union(*parts)
        df = con.execute(u.group_by("rule").aggregate(n=u.count()))
    return {str(k): int(v) for k, v in zip(df["rule"], df["n"], strict=True)}


def automation_rules(
    warehouse: Warehouse = None,
    *,
    date: str | dt.date | None = None,
    rules_file: str | Path | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """The rules (checked), one row each; with ``date``, the persons each selects on it.

    Parameters
    ----------
    date
        A run date: add ``audience`` (persons selected before suppression).
    rules_file
        A rules TOML (default: the configured one, else the shipped ``rules.toml``).

    Raises
    ------
    ConfigError
        A bad rule: one line naming the file and the rule.

    Examples
    --------
    >>> automation_rules()["rule"].tolist()[:2]  # doctest: +SKIP
    ['groupbuy_views_no_order', 'cart_unpaid_24h']
    """
    from scrm_lib.social.automation.outbox import parse_date

    settings = settings or load_settings()
    cfg = automation_config(settings, rules_file=str(rules_file) if rules_file else None)
    if date is None:
        return rules_frame(load_rules(cfg["rules_path"], channels=cfg["channels"]))
    with using(warehouse) as con:
        rules = load_rules(cfg["rules_path"], channels=cfg["channels"], con=con)
        sizes = audience_sizes(con, rules, parse_date(date), cfg["timezone"])
    df = rules_frame(rules)
    return df.assign(audience=df["rule"].map(sizes).fillna(0).astype("int64"))
