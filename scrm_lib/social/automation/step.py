"""The automation capability's build step (listed in :mod:`scrm_lib.warehouse.step_list`).

Runs last among the person marts (its rules read the tags, message tags and churn
scores the steps before it wrote). Writes ``automation_rules``: the rules file as
checked, with each rule's audience on the day after the build's latest order (what
a run for that day would select before suppression). A broken rules file does not
take the build down: the step says why and writes no rules.

Outboxes are not built here: a run is a decision made on a date
(``scrm triggers run --date D``) and kept in the state folder across builds.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from scrm_lib.errors import ScrmError
from scrm_lib.warehouse.steps import Step

logger = logging.getLogger(__name__)


def next_run_date(con: Any, tz: str) -> dt.date | None:
    """The day after the latest order in ``con`` (local to ``tz``): the natural next run
    date of a warehouse; None without orders."""
    from scrm_lib.value._base import ValueDataError, resolve_as_of

    try:
        cut = resolve_as_of(con, None, tz)
    except ValueDataError:
        return None
    return cut.date + dt.timedelta(days=1)


def run(ctx: Any) -> dict[str, int]:
    """Build step: the checked rules and their audiences."""
    import pandas as pd

    from scrm_lib.schema import MARTS
    from scrm_lib.social.automation.analysis import audience_sizes
    from scrm_lib.social.automation.config import automation_config
    from scrm_lib.social.automation.rules import load_rules, rules_frame
    from scrm_lib.value._base import write_mart

    con = ctx.con
    try:
        cfg = automation_config(ctx.settings)
        rules = load_rules(cfg["rules_path"], channels=cfg["channels"], con=con)
    except ScrmError as exc:
        logger.warning("automation: no rules written: %s", exc)
        write_mart(con, "automation_rules", MARTS["automation_rules"].typed(pd.DataFrame()))
        return {"automation_rules": 0}
    df = rules_frame(rules)
    day = next_run_date(con, cfg["timezone"])
    if day is None:
        logger.warning("automation: no orders, so no latest day: audiences left empty")
    else:
        sizes = audience_sizes(con, rules, day, cfg["timezone"])
        df["audience"] = df["rule"].map(sizes).fillna(0).astype("int64")
    write_mart(con, "automation_rules", MARTS["automation_rules"].typed(df))
    return {"automation_rules": len(df)}


STEP = Step("automation", run, engines=("duckdb", "pyspark"))
