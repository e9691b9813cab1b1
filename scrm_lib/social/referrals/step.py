"""The referrals capability's build step (listed in :mod:`scrm_lib.warehouse.step_list`).

Runs after channels (a campaign's acquired persons are ``channel_acquisition``'s
referral persons) and conversations (the KOC sentiment reads ``message_tags``), and
before ``tags_derived``. Writes ``referral_edges``, ``referral_closure``,
``referral_persons``, ``referral_rewards``, ``referral_campaigns``,
``referral_abuse``, ``koc_scores``, ``referrals_meta`` and the KOC tags.
"""

from __future__ import annotations

import logging
from typing import Any

from scrm_lib.warehouse.steps import Step

logger = logging.getLogger(__name__)

MARTS = ("referral_edges", "referral_closure", "referral_persons", "referral_rewards",
         "referral_campaigns", "referral_abuse", "koc_scores")  # fmt: skip


def run(ctx: Any) -> dict[str, int]:
    """Build step: the graph, persons, rewards, campaigns, abuse flags, KOC scores and tags."""
    from scrm_lib.schema import MARTS as DECLARED
    from scrm_lib.social.referrals import tags
    from scrm_lib.social.referrals.analysis import compute
    from scrm_lib.value._base import meta_frame, write_mart

    con = ctx.con
    frames, meta = compute(con, settings=ctx.settings, closure_table="referral_closure")
    if "note" in meta:
        logger.warning("referrals: %s", meta["note"])
    for name, frame in frames.items():
        write_mart(con, name, DECLARED[name].typed(frame))
    meta["tags"] = tags.write(con, ctx.build_id)
    write_mart(con, "referrals_meta", meta_frame({**meta, "build_id": ctx.build_id}))
    return {name: len(frames[name]) if name in frames else _rows(con, name) for name in MARTS}


def _rows(con: Any, name: str) -> int:
    return int(con.table(name).count().execute()) if name in con.list_tables() else 0


STEP = Step("referrals", run, engines=("duckdb", "pyspark"))
