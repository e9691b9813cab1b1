"""How identity reaches the engine: a :class:`~scrm_lib.engine.Runner` for a warehouse.

Every identity function takes ``warehouse``: a path (opened read-only and
closed after), ``None`` for the configured warehouse, an open ibis backend or
DuckDB connection (used as is), or a runner already made by the caller.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from scrm_lib.engine import Runner, Warehouse, using

LABEL = "identity"


def runner(con: Any) -> Runner:
    """A runner over an open connection (or the runner itself)."""
    return con if isinstance(con, Runner) else Runner(con, label=LABEL)


@contextlib.contextmanager
def opened(warehouse: Warehouse) -> Iterator[Runner]:
    """A runner on ``warehouse``: a path or ``None`` is opened read-only for the block."""
    with using(warehouse) as con:
        yield runner(con)


def tables(run: Runner) -> set[str]:
    """Names of the tables and views the connection sees."""
    return run.tables()


__all__ = ["LABEL", "opened", "runner", "tables"]
