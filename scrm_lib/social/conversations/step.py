"""The conversations capability's build step (listed in :mod:`scrm_lib.warehouse.step_list`).

Tags every message of the ``messages`` table (intent, sentiment, layer, phrase)
into ``message_tags``, sums them per person into ``person_conversations`` (in the
engine), cuts private chats into conversations with their service times
(``service_conversations``, ``service_kpis``), writes the conversation tags
and the step's notes (``conversations_meta``: taxonomy and model versions, the
models' cards, counts per intent and layer, negative-share alerts).
"""

from __future__ import annotations

import logging
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from scrm_lib.warehouse.steps import Step

logger = logging.getLogger(__name__)

MARTS = ("message_tags", "person_conversations", "service_conversations", "service_kpis")
DAY = 86_400


def tag_messages_of(con: Any, tagger: Any) -> ir.Table:
    """Every message of ``con`` tagged: the ``message_tags`` columns, as an engine table.

    A message's tags depend only on its text and on who wrote it, and a brand's
    chats repeat themselves (2,335 distinct texts in 1.75 million messages): only
    the distinct pairs come to Python for the tagger, and the engine joins their
    tags back to the messages and their persons.
    """
    from scrm_lib.schema import MARTS as DECLARED
    from scrm_lib.warehouse.steps import person_map

    m = con.table("messages")
    # what the tagger reads: a missing text is an empty one; only "out" is staff
    m = m.mutate(_raw=m.text.fill_null(""), _staff=(m.direction == "out").fill_null(False))
    keys = con.execute(m.select("_raw", "_staff").distinct())
    speaker = np.where(keys["_staff"].to_numpy(dtype=bool), "staff", "customer")
    tags = tagger.tag(keys["_raw"].tolist(), speaker).drop(columns=["text"])
    tags = ibis.memtable(pd.concat([keys, tags], axis=1))
    j = m.inner_join(tags, ["_raw", "_staff"])
    pm = person_map(con)
    j = j.left_join(pm, j.account_id == pm.account_id)
    j = j.mutate(person_id=ibis.coalesce(j.person_id, j.account_id))
    schema = DECLARED["message_tags"].schema
    return j.select(*[j[c].cast(schema[c]).name(c) for c in schema.names])


def _counts(t: ir.Table, column: str) -> dict[str, int]:
    """``value → rows`` of ``column``, sorted by value (nulls left out)."""
    f = t.filter(t[column].notnull())
    c = f.group_by(column).aggregate(n=f.count()).execute()
    return {str(k): int(v) for k, v in sorted(zip(c[column], c["n"], strict=True))}


def person_rows(tags: ir.Table, cfg: dict[str, Any]) -> ir.Table:
    """Per person who wrote: recent intents and sentiment (the ``person_conversations`` mart)."""
    t = tags.filter(tags.direction != "out")
    ts = t.ts.epoch_seconds()
    as_of = t.ts.epoch_seconds().max().as_scalar()

    def recent(days: int) -> ir.BooleanValue:
        return ts >= as_of - int(days) * DAY

    service = t.intent.isin(("service_logistics", "service_return", "service_order", "complaint"))
    negative = t.sentiment == "negative"
    said = ~t.intent.isin(("other", "staff"))
    n = t.count()
    return t.group_by("person_id").aggregate(
        messages=n,
        last_message_at=t.ts.max(),
        purchase_intent_7d=((t.intent == "purchase_intent") & recent(cfg["purchase_intent_days"]))
        .sum()
        .cast("int64"),
        needs_explanation_14d=(
            (t.intent == "needs_explanation") & recent(cfg["needs_explanation_days"])
        )
        .sum()
        .cast("int64"),
        service_30d=(service & recent(cfg["recent_days"])).sum().cast("int64"),
        negative_30d=(negative & recent(cfg["recent_days"])).sum().cast("int64"),
        negative_share=negative.cast("float64").mean(),
        positive_share=(t.sentiment == "positive").cast("float64").mean(),
        last_intent=t.intent.argmax(t.ts, where=said),
        last_negative_at=t.ts.max(where=negative),
        last_negative_message_id=t.message_id.argmax(t.ts, where=negative),
    )


def daily_sentiment(tags: ir.Table, utc_offset_s: int) -> pd.DataFrame:
    """Customer messages and negative ones per local day: ``day, messages, negative``."""
    t = tags.filter(tags.direction != "out")
    day = (t.ts.epoch_seconds() + utc_offset_s).cast("int64").as_timestamp("s").date()
    t = t.mutate(day=day)
    return (
        t.group_by("day")
        .aggregate(messages=t.count(), negative=(t.sentiment == "negative").sum().cast("int64"))
        .order_by("day")
        .execute()
    )


def run(ctx: Any) -> dict[str, int]:
    """Build step: tag messages, person mart, service marts, tags and notes."""
    from scrm_lib.engine import materialize
    from scrm_lib.schema import MARTS as DECLARED
    from scrm_lib.social.conversations import service
    from scrm_lib.social.conversations import tags as conv_tags
    from scrm_lib.social.conversations.config import conversations_config
    from scrm_lib.social.conversations.tagger import Tagger
    from scrm_lib.value._base import meta_frame, write_mart

    con = ctx.con
    cfg = conversations_config(ctx.settings)
    meta: dict[str, Any] = {}
    tagged = 0
    if "messages" not in con.list_tables() or con.table("messages").count().execute() == 0:
        # nothing to read: the tagger (jieba, two models) is not even loaded
        frames = {name: pd.DataFrame() for name in MARTS}
        meta["note"] = "no messages: nothing to tag"
    else:
        tagger = Tagger.load(ctx.settings)
        tags = materialize(con, "message_tags", tag_messages_of(con, tagger))
        tagged = int(tags.count().execute())
        frames = {"person_conversations": person_rows(tags, cfg).execute()}
        frames["service_conversations"] = service.conversations(con, cfg).execute()
        kpis = service.service_kpis(con, cfg)
        frames["service_kpis"] = kpis.assign(week=kpis["week"].astype(str))
        daily = daily_sentiment(tags, service.utc_offset_s(cfg))
        alerts = service.negative_share_alert(daily, cfg)
        meta.update({
            "taxonomy_version": tagger.taxonomy.version,
            "sentiment_model": tagger.sentiment.card,
            "intent_model": tagger.intents.card if tagger.intents else None,
            "intents": _counts(tags, "intent"),
            "layers": _counts(tags, "layer"),
            "sentiment": _counts(tags, "sentiment"),
            "alerts": [str(d) for d in alerts.loc[alerts["alert"], "day"]],
        })  # fmt: skip
    for name in MARTS:
        if name in frames:
            write_mart(con, name, DECLARED[name].typed(frames[name]))
    meta["tags"] = conv_tags.write(con, ctx.build_id)
    write_mart(con, "conversations_meta", meta_frame({**meta, "build_id": ctx.build_id}))
    return {name: tagged if name == "message_tags" else len(frames[name]) for name in MARTS}


STEP = Step("conversations", run, engines=("duckdb", "pyspark"))
