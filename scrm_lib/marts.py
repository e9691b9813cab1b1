"""Build steps after the canonical tables: identity stitching, then the person marts.

``scrm build`` runs every registered step, in order, on the warehouse being
built (before it is published), so readers only ever see canonical tables
and marts from the same build. A step is a function
``step(ctx: StepContext) -> dict[str, int]`` returning row counts of the
tables it wrote; steps register here by dotted path so this module imports
nothing heavy.

Contract between steps (what later steps and readers may rely on):

- ``person_accounts(account_id, person_id)``: every account's person, written
  by the identity step. Until it exists, per-person code falls back to one
  person per account (:func:`person_map` does that fallback in one place).

Example
-------
>>> [name for name, _ in STEPS]  # doctest: +SKIP
['identity', 'value']
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrm_lib.errors import ConfigError

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from scrm_lib.config import Settings

logger = logging.getLogger(__name__)

#: (name, "module:function"), run in this order by the build.
STEPS: list[tuple[str, str]] = [
    ("identity", "scrm_lib.identity.step:run"),
    ("value", "scrm_lib.value.persons:run"),
    ("churn", "scrm_lib.churn.scoring:run"),
]


@dataclass
class StepContext:
    """What a build step gets: the warehouse under construction and where it came from."""

    con: Any  # ibis backend on the warehouse being built (read-write)
    settings: Settings
    build_id: str
    previous_warehouse: Path | None = None  # the published warehouse this build replaces
    timings: dict[str, float] = field(default_factory=dict)


def run_steps(
    ctx: StepContext, *, progress=None, only: Sequence[str] | None = None
) -> dict[str, dict[str, int]]:
    """Run the registered steps in order (``only``: just these); return their row counts."""
    import time

    known = [name for name, _ in STEPS]
    unknown = sorted(set(only or ()) - set(known))
    if unknown:
        raise ConfigError(f"unknown build step {unknown[0]!r}; steps: {', '.join(known)}")
    counts: dict[str, dict[str, int]] = {}
    for name, target in STEPS:
        if only is not None and name not in only:
            continue
        module, func = target.split(":")
        if progress is not None:
            progress(f"step {name}")
        started = time.perf_counter()
        counts[name] = getattr(import_module(module), func)(ctx) or {}
        ctx.timings[f"step_{name}"] = round(time.perf_counter() - started, 4)
        logger.info("build step %s: %s", name, counts[name])
    return counts


def person_map(con: Any) -> ir.Table:
    """``account_id → person_id``: the identity result, or one person per account."""
    if "person_accounts" in con.list_tables():
        return con.table("person_accounts").select("account_id", "person_id")
    accounts = con.table("accounts")
    return accounts.select("account_id", person_id=accounts.account_id)
