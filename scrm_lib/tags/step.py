"""The tags build steps (listed in :mod:`scrm_lib.warehouse.step_list`).

``tags`` runs right after identity and creates the empty, typed ``person_tags``,
so every later step may write its tags (:func:`scrm_lib.tags.registry.write_tags`).
``tags_derived`` runs last and writes the derived tags
(:mod:`scrm_lib.tags.derived`): each source's producers, unioned, in one write.
"""

from __future__ import annotations

from typing import Any

import scrm_lib.tags.derived  # noqa: F401  (declares the derived tags and their producers)
from scrm_lib.tags.registry import PRODUCERS, TABLE, ensure_table, write_tags
from scrm_lib.warehouse.steps import Step


def run(ctx: Any) -> dict[str, int]:
    """Create the empty ``person_tags`` in the warehouse being built."""
    ensure_table(ctx.con)
    return {TABLE: 0}


def run_derived(ctx: Any) -> dict[str, int]:
    """Write every derived tag from the marts the steps before wrote; rows written."""
    ensure_table(ctx.con)
    written = 0
    for source, producers in PRODUCERS.items():
        parts = [rows for fn in producers if (rows := fn(ctx.con)) is not None]
        if not parts:
            continue
        rows = parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]
        written += write_tags(ctx.con, source, rows, build_id=ctx.build_id)
    return {TABLE: written}


STEP = Step("tags", run)
STEP_LATE = Step("tags_derived", run_derived)
