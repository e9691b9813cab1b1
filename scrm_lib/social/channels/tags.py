"""The acquisition tags the channels step writes into ``person_tags``."""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir

from scrm_lib.tags.registry import Tag, declare_tag

SOURCE = "channels"

CHANNEL_TYPE = declare_tag(Tag(
    "channel_type", SOURCE, "the acquisition channel type under the attribution rule", "1",
    description="渠道类型: how the person came (活码, 广告, 老客转介绍, 自然流量, …)",
))  # fmt: skip
CHANNEL_CODE = declare_tag(Tag(
    "channel_code", SOURCE, "the acquiring channel code (活码, 达人ID) under the attribution rule",
    "1", description="渠道码 / 活码 that acquired the person",
))  # fmt: skip
HIGH_VALUE_CHANNEL = declare_tag(Tag(
    "high_value_channel", SOURCE,
    "acquired through a referral by a person with referral_inviter_min_orders orders before the "
    "invite", "1", description="高价值渠道: referred by an existing customer",
))  # fmt: skip


def tag_rows(acq: ir.Table) -> ir.Table:
    """``person_id, tag, value, since`` for every acquisition tag of ``acq``.

    ``acq`` is the ``channel_acquisition`` mart (or a table with its columns).
    """
    coded = acq.filter(acq.channel_code.notnull())
    hv = acq.filter(acq.high_value_referral)
    return ibis.union(
        acq.select("person_id", tag=ibis.literal(CHANNEL_TYPE.name), value=acq.channel_type,
                   since=acq.acquired_at),
        coded.select("person_id", tag=ibis.literal(CHANNEL_CODE.name), value=coded.channel_code,
                     since=coded.acquired_at),
        hv.select("person_id", tag=ibis.literal(HIGH_VALUE_CHANNEL.name),
                  value=ibis.null("string"), since=hv.acquired_at),
    )  # fmt: skip


def write(con: Any, build_id: str) -> int:
    """Write the acquisition tags of this build from its ``channel_acquisition`` mart."""
    from scrm_lib.tags.registry import write_tags

    return write_tags(con, SOURCE, tag_rows(con.table("channel_acquisition")), build_id=build_id)
