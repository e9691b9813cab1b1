"""Build steps after the canonical tables: identity stitching, then the person marts.

``scrm build`` runs every registered step, in order, on the warehouse being
built (before it is published), so readers only ever see canonical tables
and marts from the same build. A step is a function
``run(ctx: StepContext) -> dict[str, int]`` returning row counts of the
tables it wrote. Each capability declares its :class:`Step` in its own
``step`` module and :mod:`scrm_lib.warehouse.step_list` lists them in order
(one line each); this module imports no capability, so it stays light.

On a Spark build, a step whose ``engines`` include ``pyspark`` runs on the build's
Spark session (its context's ``con`` is an ibis PySpark backend); the others run
on the build's DuckDB file. Each sees the tables the steps before it wrote,
whichever engine wrote them (:mod:`scrm_lib.engine.bridge`).

Contract between steps (what later steps and readers may rely on):

- ``person_accounts(account_id, person_id)``: every account's person, written
  by the identity step. Until it exists, per-person code falls back to one
  person per account (:func:`person_map` does that fallback in one place).
- a mart declared in parts (``person_tags``): each step replaces only its own
  part; the parts become the mart after the last step (:mod:`.parts`).

A step never takes the build down on data it cannot use (a first export of
thirty orders, no events, one churn class): it checks first, skips or
degrades the part it cannot do and says why in a ``logger.warning``. Those
warnings are the step's notes in the build log, ``build_steps`` (one row per
step and build: ``status`` ``ok`` or ``degraded``, seconds, rows written,
notes), which ``scrm status`` shows.

Example
-------
>>> [step.name for step in registered()][:3]
['identity', 'tags', 'value']
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrm_lib.errors import ConfigError, WarehouseError

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from scrm_lib.config import Settings

logger = logging.getLogger(__name__)

#: Replaces the registered steps when set (tests run a build without them).
STEPS: list[Step] | None = None


#: The engines a step can run on: DuckDB (every step) and Spark, through ibis' PySpark backend.
ENGINES = ("duckdb", "pyspark")


@dataclass(frozen=True)
class Step:
    """A build step: its name (``scrm build --steps``), the function that runs it, and the
    engines its code runs on unchanged (``("duckdb", "pyspark")``: engine-neutral ibis,
    checked equal on both; a Spark build then runs it on Spark)."""

    name: str
    run: Callable[[StepContext], dict[str, int] | None]
    engines: tuple[str, ...] = ("duckdb",)

    def __post_init__(self) -> None:
        if "duckdb" not in self.engines or set(self.engines) - set(ENGINES):
            raise ValueError(
                f"step {self.name}: engines {self.engines!r} must hold duckdb, and may hold pyspark"
            )


def registered() -> list[Step]:
    """The build steps in the order the build runs them."""
    if STEPS is not None:
        return STEPS
    from scrm_lib.warehouse.step_list import STEPS as listed

    return listed


@dataclass
class StepContext:
    """What a build step gets: the warehouse under construction and where it came from."""

    con: Any  # ibis backend on the warehouse being built (read-write)
    settings: Settings
    build_id: str
    previous_warehouse: Path | None = None  # the published warehouse this build replaces
    timings: dict[str, float] = field(default_factory=dict)
    # a Spark build's Spark side (scrm_lib.engine.bridge.SparkBridge): the steps that can
    # run on Spark get a context whose con is its backend
    spark: Any = None


def placement(steps: Sequence[Step], *, spark: bool) -> dict[str, str]:
    """Step name -> the engine it runs on in a build (on Spark or not).

    >>> placement([Step("a", print), Step("b", print, ("duckdb", "pyspark"))], spark=True)
    {'a': 'duckdb', 'b': 'pyspark'}
    """
    return {s.name: "pyspark" if spark and "pyspark" in s.engines else "duckdb" for s in steps}


def chosen_steps(only: Sequence[str] | None = None) -> list[Step]:
    """The registered steps a build runs (``only``: just these), in order."""
    steps = registered()
    known = [s.name for s in steps]
    unknown = sorted(set(only or ()) - set(known))
    if unknown:
        raise ConfigError(f"unknown build step {unknown[0]!r}; steps: {', '.join(known)}")
    return [s for s in steps if only is None or s.name in only]


@contextlib.contextmanager
def _engine_errors(step: str, engine: str) -> Iterator[None]:
    """An engine's error in a step (Spark out of memory, a lost executor, DuckDB out of
    disk) as one line naming the step; its trace goes to the debug log. A defect in a
    step's own code keeps its traceback."""
    from scrm_lib.engine.runner import first_line, is_engine_error

    try:
        yield
    except Exception as exc:
        if not is_engine_error(exc):
            raise
        logger.debug("build step %s failed on %s", step, engine, exc_info=True)
        raise WarehouseError(f"build step {step} on {engine}: {first_line(exc)}") from exc


def run_steps(
    ctx: StepContext, *, progress=None, only: Sequence[str] | None = None
) -> dict[str, dict[str, int]]:
    """Run the registered steps in order (``only``: just these); return their row counts."""
    import time

    counts: dict[str, dict[str, int]] = {}
    chosen = chosen_steps(only)
    where = placement(chosen, spark=ctx.spark is not None)
    restore = _cap_engine(ctx) if chosen else None
    log: list[dict[str, Any]] = []
    try:
        for step in chosen:
            name = step.name
            if progress is not None:
                progress(f"step {name}")
            started = time.perf_counter()
            with _StepNotes() as notes, _engine_errors(name, where[name]):
                if where[name] == "pyspark":
                    with ctx.spark.running(name) as con:
                        counts[name] = step.run(replace(ctx, con=con)) or {}
                else:
                    counts[name] = step.run(ctx) or {}
            seconds = round(time.perf_counter() - started, 4)
            ctx.timings[f"step_{name}"] = seconds
            logger.info("build step %s on %s: %s", name, where[name], counts[name])
            log.append(
                {
                    "build_id": ctx.build_id,
                    "step": name,
                    "status": "degraded" if notes.messages else "ok",
                    "seconds": seconds,
                    "rows": json.dumps(counts[name], sort_keys=True),
                    "notes": json.dumps(notes.messages, ensure_ascii=False),
                }
            )
            if seconds >= FREE_AFTER_SECONDS:
                _free_memory()
        if chosen:
            from scrm_lib.warehouse.log import write_steps
            from scrm_lib.warehouse.parts import assemble

            # the marts written in parts, by steps on either engine, become one relation
            assemble(ctx.con)
            write_steps(ctx.con, log, previous=ctx.previous_warehouse)
    finally:
        if restore is not None:
            _set_memory_limit(ctx.con, restore)
    return counts


#: A step that took this long may have held frames worth handing back (a 1M-person
#: step takes tens of seconds); a quicker one held little, and a full collection with
#: ibis and pandas loaded costs 0.15–0.3 s, which a small brand's build paid per step.
FREE_AFTER_SECONDS = 5.0

#: Columns of ``build_steps``, the per-step part of the build log.
STEP_LOG_COLUMNS = ["seq", "build_id", "step", "status", "seconds", "rows", "notes"]


class _StepNotes(logging.Handler):
    """Collect the warnings scrm logs while one step runs: the step's notes in the build log.

    Steps already say in a warning what they skipped or degraded and why; collecting
    those keeps one way of reporting (no second channel each step must remember).
    """

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []
        self._root = logging.getLogger("scrm_lib")

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed log call must not fail the build
            message = str(record.msg)
        if message not in self.messages:
            self.messages.append(message)

    def __enter__(self) -> _StepNotes:
        self._root.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self._root.removeHandler(self)


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


def _set_memory_limit(con: Any, limit: str) -> None:
    from scrm_lib.engine import Runner

    Runner(con, label="build steps").query("build.memory_limit", {"limit": limit})


def _cap_engine(ctx: StepContext) -> str | None:
    """Lower the warehouse connection's DuckDB cap for the steps; return the old one.

    Lowering it also evicts what the table build left cached. Never raises a
    lower cap; not DuckDB (or no readable setting): nothing done.
    """
    from scrm_lib.engine import Runner

    section = (getattr(ctx.settings, "extra", {}) or {}).get("steps", {}) or {}
    wanted = str(section.get("memory_limit", STEPS_MEMORY_LIMIT))
    if _bytes(wanted) is None:
        raise ConfigError(f"[steps] memory_limit must look like '3GB', not {wanted!r}")
    try:
        current = Runner(ctx.con, label="build steps").scalar("build.current_memory_limit")
    except Exception:  # not a DuckDB connection (Spark, a test double): leave it alone
        return None
    now = _bytes(current)
    if now is not None and now <= _bytes(wanted):
        return None
    _set_memory_limit(ctx.con, wanted)
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
