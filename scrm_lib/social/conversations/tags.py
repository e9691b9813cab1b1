"""The tags the conversations step writes into ``person_tags``: what people said lately."""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir

from scrm_lib.tags.registry import Tag, declare_tag

SOURCE = "conversations"

HIGH_INTENT = declare_tag(Tag(
    "high_intent", SOURCE, "a purchase-intent message in the last purchase_intent_days (7) days",
    "1", description="高意向: asked for the link, the price, stock or a group-buy lately",
))  # fmt: skip
NEEDS_EXPLANATION = declare_tag(Tag(
    "needs_explanation", SOURCE,
    "a needs-explanation message in the last needs_explanation_days (14) days", "1",
    description="需要讲解: hesitant, comparing, asking whether it suits them",
))  # fmt: skip
NEGATIVE_SENTIMENT = declare_tag(Tag(
    "negative_sentiment", SOURCE, "a negative message in the last recent_days (30) days", "1",
    description="负面情绪: unhappy lately; a service task before any marketing",
))  # fmt: skip
SERVICE_ISSUE = declare_tag(Tag(
    "service_issue", SOURCE,
    "a logistics, return, order request or a complaint in the last recent_days (30) days", "1",
    description="售后问题: an open service matter",
))  # fmt: skip


def tag_rows(people: ir.Table) -> ir.Table:
    """``person_id, tag, value, since`` from the ``person_conversations`` mart."""
    parts = []
    for tag, col in ((HIGH_INTENT, "purchase_intent_7d"), (NEEDS_EXPLANATION,
                     "needs_explanation_14d"), (NEGATIVE_SENTIMENT, "negative_30d"),
                     (SERVICE_ISSUE, "service_30d")):  # fmt: skip
        hit = people.filter(people[col] > 0)
        value = hit[col].cast("string")
        parts.append(
            hit.select("person_id", tag=ibis.literal(tag.name), value=value,
                       since=hit.last_message_at)
        )  # fmt: skip
    return ibis.union(*parts)


def write(con: Any, build_id: str) -> int:
    """Write this build's conversation tags from its ``person_conversations`` mart."""
    from scrm_lib.tags.registry import write_tags

    return write_tags(con, SOURCE, tag_rows(con.table("person_conversations")), build_id=build_id)
