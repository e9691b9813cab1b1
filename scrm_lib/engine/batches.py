"""A pandas function applied to a table's rows where the rows are.

Some per-row work is Python, not SQL: a fitted model's ``predict_proba``, for
one. :func:`map_batches` runs such a function on an ibis table's rows on either
engine and brings the results back as one frame:

- DuckDB: the rows come to this process as one frame and the function runs here;
- Spark: each executor runs the function on its own partitions' rows, batch by
  batch (``mapInPandas``); only the results travel to the driver. The function
  (and what it closes over, e.g. the model) is pickled to the executors.

The function must be row-wise (a row's result depends on that row alone), so that
the batches' results are the same as one call on every row would give.

Example
-------
>>> import ibis, pandas as pd
>>> from scrm_lib.engine import duckdb_connect
>>> con = duckdb_connect()
>>> t = con.create_table("n", pd.DataFrame({"n": [1, 2, 3]}))
>>> double = lambda df: df.assign(twice=df["n"] * 2)
>>> map_batches(con, t, double, ibis.schema({"n": "int64", "twice": "int64"}))["twice"].tolist()
[2, 4, 6]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from scrm_lib.errors import WarehouseError


def map_batches(
    con: Any,
    table: ir.Table,
    fn: Callable[[pd.DataFrame], pd.DataFrame],
    schema: ibis.Schema,
    *,
    step: str = "map batches",
) -> pd.DataFrame:
    """``fn`` over ``table``'s rows, on the engine's workers; the results as one frame.

    Parameters
    ----------
    con
        The ibis backend ``table`` is bound to (DuckDB or PySpark).
    table
        The rows ``fn`` reads.
    fn
        A row-wise function from a frame of ``table``'s columns to a frame with the
        columns of ``schema``.
    schema
        What ``fn`` returns (Spark needs it before it runs).
    step
        Named in an error.
    """
    if getattr(con, "name", "") != "pyspark":
        return fn(con.execute(table))
    from ibis.backends.pyspark.datatypes import PySparkSchema

    con._run_pre_execute_hooks(table)
    frame = con._session.sql(con.compile(table))

    def each(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            yield fn(batch)

    try:
        return frame.mapInPandas(each, PySparkSchema.from_ibis(schema)).toPandas()
    except Exception as exc:
        raise WarehouseError(f"spark: {step}: {_worker_error(exc)}") from exc


def _worker_error(exc: BaseException) -> str:
    """The function's own error out of Spark's wrapping (a note on Arrow, a worker's
    traceback): the last ``SomeError: message`` line, else the first line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    raised = [line for line in lines if _RAISED.match(line)]
    return raised[-1] if raised else (lines[0] if lines else type(exc).__name__)


_RAISED = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception): ")


__all__ = ["map_batches"]
