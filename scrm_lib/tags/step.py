"""The tags build steps (listed in :mod:`scrm_lib.warehouse.step_list`).

``tags`` runs right after identity: it holds the place where the tag steps
begin, and writes nothing, since each source writes its own part of
``person_tags`` (:func:`scrm_lib.tags.registry.write_tags`) and the build
assembles them after the last step (:mod:`scrm_lib.warehouse.parts`).
``tags_derived`` runs late and writes the derived tags
(:mod:`scrm_lib.tags.derived`): each source's producers, unioned, in one write.
Both run on either engine: a source's part is written whole, never changed in place.
"""

from __future__ import annotations

from typing import Any

import scrm_lib.tags.derived  # noqa: F401  (declares the derived tags and their producers)
from scrm_lib.tags.registry import PRODUCERS, TABLE, write_tags
from scrm_lib.warehouse.steps import Step

BOTH = ("duckdb", "pyspark")


def run(ctx: Any) -> dict[str, int]:
    """Nothing to create: ``person_tags`` is assembled from the sources' parts."""
    return {TABLE: 0}


def run_derived(ctx: Any) -> dict[str, int]:
    """Write every derived tag from the marts the steps before wrote; rows written."""
    written = 0
    for source, producers in PRODUCERS.items():
        parts = [rows for fn in producers if (rows := fn(ctx.con)) is not None]
        if not parts:
            continue
        rows = parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]
        written += write_tags(ctx.con, source, rows, build_id=ctx.build_id)
    return {TABLE: written}


STEP = Step("tags", run, engines=BOTH)
STEP_LATE = Step("tags_derived", run_derived, engines=BOTH)
