"""Derived tags: tags read off marts other steps already wrote (lifecycle, dormant, churn risk).

Each is declared here with the capability that owns the mart it reads as its
source, and written by the ``tags_derived`` build step at the end of the build
(:mod:`scrm_lib.tags.step`), so the value and churn steps need not know about
tags. ``since`` is the as-of day the mart was computed for (00:00 UTC): the
rule held on that day.

Example
-------
>>> from scrm_lib.tags.derived import DORMANT
>>> DORMANT.values
('dormant', 'lost')
"""

from __future__ import annotations

import json
import logging
from typing import Any

from scrm_lib.tags.registry import Tag, declare_tag, register_producer

logger = logging.getLogger(__name__)

#: Lifecycle stage codes of value_persons.stage (scrm_lib.value.lifecycle.STAGES, and
#: ``prospect``: interacting, never bought).
STAGE_CODES = ("prospect", "new", "growing", "mature", "dormant", "lost")

LIFECYCLE_STAGE = declare_tag(
    Tag(
        "lifecycle_stage",
        source="value",
        rule="the person's lifecycle stage in value_persons (value: the stage)",
        version="1",
        values=STAGE_CODES,
        description="新客, 成长, 成熟, 沉睡, 流失 as of the value mart's day",
    )
)
DORMANT = declare_tag(
    Tag(
        "dormant",
        source="value",
        rule="lifecycle stage dormant or lost: no purchase for over 90 days (value: the stage)",
        version="1",
        values=("dormant", "lost"),
        description="沉睡客户: a win-back audience",
    )
)
HIGH_CHURN_RISK = declare_tag(
    Tag(
        "high_churn_risk",
        source="churn",
        rule="churn_scores.risk_band is high",
        version="1",
        description="高流失风险: the churn model's high band",
    )
)


def _tables(con: Any) -> set[str]:
    return set(con.list_tables())


def _since(day: str | None) -> Any:
    import ibis
    import pandas as pd

    from scrm_lib.schema import TS

    stamp = pd.Timestamp(day, tz="UTC") if day else None
    return ibis.literal(stamp, type=TS)


def _value_as_of(con: Any) -> str | None:
    """The value mart's as-of day from ``value_meta`` (one small row)."""
    if "value_meta" not in _tables(con):
        return None
    m = con.table("value_meta")
    found = con.execute(m.filter(m.key == "as_of").select("value"))
    return json.loads(found["value"].iloc[0]) if len(found) else None


def _value_persons(con: Any) -> Any:
    if "value_persons" not in _tables(con):
        logger.warning("tags: no value_persons in this build: lifecycle and dormant tags skipped")
        return None
    return con.table("value_persons")


def lifecycle_rows(con: Any) -> Any:
    """``lifecycle_stage``: every person with a stage, the stage as the value."""
    v = _value_persons(con)
    if v is None:
        return None
    v = v.filter(v.stage.notnull())
    return v.select(
        "person_id", tag=_literal(LIFECYCLE_STAGE.name), value=v.stage,
        since=_since(_value_as_of(con)),
    )  # fmt: skip


def dormant_rows(con: Any) -> Any:
    """``dormant``: persons whose stage is dormant or lost, the stage as the value."""
    v = _value_persons(con)
    if v is None:
        return None
    v = v.filter(v.stage.isin(list(DORMANT.values or ())))
    return v.select(
        "person_id", tag=_literal(DORMANT.name), value=v.stage, since=_since(_value_as_of(con))
    )


def high_churn_risk_rows(con: Any) -> Any:
    """``high_churn_risk``: persons in the churn model's high band (no value)."""
    import ibis
    import pandas as pd

    if "churn_scores" not in _tables(con):
        logger.warning("tags: no churn_scores in this build: high_churn_risk not tagged")
        return None
    c = con.table("churn_scores")
    days = con.execute(c.as_of.max())
    day = None if days is None or pd.isna(days) else str(days)
    c = c.filter(c.risk_band == "high")
    return c.select(
        "person_id",
        tag=_literal(HIGH_CHURN_RISK.name),
        value=ibis.null("string"),
        since=_since(day),
    )


def _literal(text: str) -> Any:
    import ibis

    return ibis.literal(text, type="string")


register_producer("value", lifecycle_rows)
register_producer("value", dormant_rows)
register_producer("churn", high_churn_risk_rows)
