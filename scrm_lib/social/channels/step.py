"""The channels capability's build step (listed in :mod:`scrm_lib.warehouse.step_list`).

Runs after value and churn (it reads CLV, P(alive) and churn scores) and
writes ``channel_acquisition``, ``channel_value``, ``channel_staff``,
``journey_funnel``, ``channels_meta`` and the acquisition tags.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from scrm_lib.warehouse.steps import Step

logger = logging.getLogger(__name__)

MARTS = ("channel_acquisition", "channel_value", "channel_staff", "journey_funnel")


def run(ctx: Any) -> dict[str, int]:
    """Build step: attribute, value, staff view and funnel with the configured settings."""
    from scrm_lib.schema import MARTS as DECLARED
    from scrm_lib.social.channels import tags
    from scrm_lib.social.channels.analysis import compute
    from scrm_lib.value._base import ValueDataError, meta_frame, write_mart

    con = ctx.con
    try:
        frames, meta = compute(con, settings=ctx.settings)
    except ValueDataError as exc:
        # no orders yet: empty marts, and the meta says why
        logger.warning("channels: %s", exc)
        frames, meta = {name: pd.DataFrame() for name in MARTS}, {"error": str(exc)}
    for name in MARTS:
        write_mart(con, name, DECLARED[name].typed(frames[name]))
    meta["tags"] = tags.write(con, ctx.build_id)
    write_mart(con, "channels_meta", meta_frame({**meta, "build_id": ctx.build_id}))
    return {name: len(frames[name]) for name in MARTS}


STEP = Step("channels", run, engines=("duckdb", "pyspark"))
