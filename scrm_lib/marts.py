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
import re
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
    chosen = [(name, target) for name, target in STEPS if only is None or name in only]
    restore = _cap_engine(ctx) if chosen else None
    try:
        for name, target in chosen:
            module, func = target.split(":")
            if progress is not None:
                progress(f"step {name}")
            started = time.perf_counter()
            counts[name] = getattr(import_module(module), func)(ctx) or {}
            ctx.timings[f"step_{name}"] = round(time.perf_counter() - started, 4)
            logger.info("build step %s: %s", name, counts[name])
            _free_memory()
    finally:
        if restore is not None:
            _raw(ctx.con).execute(f"SET memory_limit = '{restore}'")
    return counts


#: DuckDB memory limit of the warehouse connection while the steps run (``[steps]
#: memory_limit`` in scrm.toml): the steps also hold pandas frames and Splink's own
#: database, so the table build's cap would leave no room for them under 8 GiB.
STEPS_MEMORY_LIMIT = "3GB"
_POWERS = {"": 0, "K": 1, "M": 2, "G": 3, "T": 4}


def _bytes(limit: str) -> float | None:
    """``'3GB'``, ``'2.5 GiB'`` → bytes as DuckDB reads them (GB = 10⁹, GiB = 2³⁰); None if not.

    >>> _bytes("3GB"), _bytes("512 MiB"), _bytes("lots")
    (3000000000.0, 536870912.0, None)
    """
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(i?)B\s*", str(limit), re.IGNORECASE)
    if not m:
        return None
    base = 1024 if m.group(3) else 1000
    return float(m.group(1)) * base ** _POWERS[m.group(2).upper()]


def _raw(con: Any) -> Any:
    return getattr(con, "con", con)


def _cap_engine(ctx: StepContext) -> str | None:
    """Lower the warehouse connection's DuckDB cap for the steps; return the old one.

    Lowering it also evicts what the table build left cached. Never raises a
    lower cap; not DuckDB (or no readable setting): nothing done.
    """
    db = _raw(ctx.con)
    section = (getattr(ctx.settings, "extra", {}) or {}).get("steps", {}) or {}
    wanted = str(section.get("memory_limit", STEPS_MEMORY_LIMIT))
    if _bytes(wanted) is None:
        raise ConfigError(f"[steps] memory_limit must look like '3GB', not {wanted!r}")
    try:
        current = db.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    except Exception:  # not a DuckDB connection (Spark, a test double): leave it alone
        return None
    now = _bytes(current)
    if now is not None and now <= _bytes(wanted):
        return None
    db.execute(f"SET memory_limit = '{wanted}'")
    logger.info("build steps: DuckDB memory limit %s (was %s)", wanted, current)
    return current


def _free_memory() -> None:
    """Hand a finished step's memory back: Python's cycles, then glibc's free lists."""
    import contextlib
    import ctypes
    import gc

    gc.collect()
    # pandas frames freed by a step stay in the process (RSS) until trimmed
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def person_map(con: Any) -> ir.Table:
    """``account_id → person_id``: the identity result, or one person per account."""
    if "person_accounts" in con.list_tables():
        return con.table("person_accounts").select("account_id", "person_id")
    accounts = con.table("accounts")
    return accounts.select("account_id", person_id=accounts.account_id)
