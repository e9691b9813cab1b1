"""The KOC pool the referrals step writes into ``person_tags``."""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir

from scrm_lib.social.referrals.koc import CORE, POTENTIAL
from scrm_lib.tags.registry import Tag, declare_tag

SOURCE = "referrals"

KOC_TIER = declare_tag(Tag(
    "koc_tier", SOURCE, "KOC score at least koc_core (0.8): 核心KOC; at least koc_potential "
    "(0.6): 潜力KOC", "1", values=(CORE, POTENTIAL),
    description="KOC池: persons who bring buyers and speak well of the brand; invite them to "
                "seed campaigns",
))  # fmt: skip


def tag_rows(koc: ir.Table) -> ir.Table:
    """``person_id, tag, value, since`` from the ``koc_scores`` mart (since: the first invite)."""
    pool = koc.filter(koc.koc_tier.notnull())
    return pool.select("person_id", tag=ibis.literal(KOC_TIER.name), value=pool.koc_tier,
                       since=pool.first_invite_at)  # fmt: skip


def write(con: Any, build_id: str) -> int:
    """Write this build's KOC tags from its ``koc_scores`` mart."""
    from scrm_lib.tags.registry import write_tags

    return write_tags(con, SOURCE, tag_rows(con.table("koc_scores")), build_id=build_id)
