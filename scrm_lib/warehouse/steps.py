"""Build steps after the canonical tables: identity stitching, then the person marts.

``scrm build`` runs every registered step, in order, on the warehouse being
built (before it is published), so readers only ever see canonical tables
and marts from the same build. A step is a function
``run(ctx: StepContext) -> dict[str, int]`` returning row counts of the
tables it wrote. Each capability declares its :class:`Step` in its own
``step`` module and :mod:`scrm_lib.warehouse.step_list` lists them in order
(one line each); this module imports no capability, so it stays light.

Contract between steps (what later steps and readers may rely on):

- ``person_accounts(account_id, person_id)``: every account's person, written
  by the identity step. Until it exists, per-person code falls back to one
  person per account (:func:`person_map` does that fallback in one place).

A step never takes the build down on data it cannot use (a first export of
thirty orders, no events, one churn class): it checks first, skips or
degrades the part it cannot do and says why in a ``logger.warning``. Those
warnings are the step's notes in the build log, ``build_steps`` (one row per
step and build: ``status`` ``ok`` or ``degraded``, seconds, rows written,
notes), which ``scrm status`` shows.

Example
-------
>>> [step.name for step in registered()]
['identity', 'value', 'churn']
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrm_lib.errors import ConfigError

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from scrm_lib.config import Settings

logger = logging.getLogger(__name__)

#: Replaces the registered steps when set (tests run a build without them).
STEPS: list[Step] | None = None


@dataclass(frozen=True)
class Step:
    """A build step: its name (``scrm build --steps``) and the function that runs it."""

    name: str
    run: Callable[[StepContext], dict[str, int] | None]


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


def run_steps(
    ctx: StepContext, *, progress=None, only: Sequence[str] | None = None
) -> dict[str, dict[str, int]]:
    """Run the registered steps in order (``only``: just these); return their row counts."""
    import time

    steps = registered()
    known = [s.name for s in steps]
    unknown = sorted(set(only or ()) - set(known))
    if unknown:
        raise ConfigError(f"unknown build step {unknown[0]!r}; steps: {', '.join(known)}")
    counts: dict[str, dict[str, int]] = {}
    chosen = [s for s in steps if only is None or s.name in only]
    restore = _cap_engine(ctx) if chosen else None
    log: list[dict[str, Any]] = []
    try:
        for step in chosen:
            name = step.name
            if progress is not None:
                progress(f"step {name}")
            started = time.perf_counter()
            with _StepNotes() as notes:
                counts[name] = step.run(ctx) or {}
            seconds = round(time.perf_counter() - started, 4)
            ctx.timings[f"step_{name}"] = seconds
            logger.info("build step %s: %s", name, counts[name])
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
            if seconds >= 1.0:
                # a step this quick held little; a full collection costs ~0.2 s a step
                _free_memory()
        if chosen:
            _write_step_log(ctx, log)
    finally:
        if restore is not None:
            _raw(ctx.con).execute(f"SET memory_limit = '{restore}'")
    return counts


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


def _write_step_log(ctx: StepContext, rows: list[dict[str, Any]]) -> None:
    """Write ``build_steps``: the published warehouse's rows, then this build's."""
    import pandas as pd

    from scrm_lib.engine import read_only_duckdb
    from scrm_lib.errors import WarehouseError

    frames = []
    prev = ctx.previous_warehouse
    if prev is not None and Path(prev).exists():
        try:
            with read_only_duckdb(prev) as old:
                if "build_steps" in {r[0] for r in old.execute("SHOW TABLES").fetchall()}:
                    frames.append(old.execute("SELECT * FROM build_steps").df())
        except WarehouseError as exc:
            logger.warning("previous warehouse unreadable, step log restarts: %s", exc)
    frames.append(pd.DataFrame(rows, columns=STEP_LOG_COLUMNS))
    df = pd.concat([f.reindex(columns=STEP_LOG_COLUMNS) for f in frames], ignore_index=True)
    # run order, explicit: the build connection does not keep insertion order
    df["seq"] = range(len(df))
    df = df.astype({c: "string" for c in STEP_LOG_COLUMNS if c not in ("seq", "seconds")})
    df["seconds"] = pd.to_numeric(df["seconds"]).astype("float64")
    db = _raw(ctx.con)
    db.register("_build_steps", df)
    try:
        db.execute("CREATE OR REPLACE TABLE build_steps AS SELECT * FROM _build_steps")
    finally:
        db.unregister("_build_steps")


def step_log(con: Any, build_id: str | None = None) -> list[dict[str, Any]]:
    """The ``build_steps`` rows of one build (default: the latest), notes as lists.

    Parameters
    ----------
    con
        DuckDB connection (or ibis DuckDB backend) on a warehouse.
    build_id
        Which build; default the last one logged.

    Returns
    -------
    list of dict
        ``step, status, seconds, rows, notes`` per step, in run order; empty
        for a warehouse built before the log existed.

    Examples
    --------
    >>> step_log(open_warehouse(read_only=True))  # doctest: +SKIP
    [{'step': 'identity', 'status': 'degraded', 'seconds': 0.8, 'rows': {...},
      'notes': ['identity: probabilistic stage uses fixed priors (not trained): ...']}, ...]
    """
    db = _raw(con)
    if "build_steps" not in {r[0] for r in db.execute("SHOW TABLES").fetchall()}:
        return []
    if build_id is None:
        last = db.execute("SELECT build_id FROM build_steps ORDER BY seq DESC LIMIT 1")
        found = last.fetchone()
        if found is None:
            return []
        build_id = found[0]
    rows = db.execute(
        "SELECT step, status, seconds, rows, notes FROM build_steps "
        "WHERE build_id = ? ORDER BY seq",
        [build_id],
    ).fetchall()
    return [
        {
            "step": step,
            "status": status,
            "seconds": seconds,
            "rows": json.loads(n_rows or "{}"),
            "notes": json.loads(notes or "[]"),
        }
        for step, status, seconds, n_rows, notes in rows
    ]


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
