"""Splink's database API for an engine, and the scratch databases identity works in.

Identity keeps its set logic in the engine (named SQL in ``sql/identity*.sql``)
but hands frames back and forth with pandas (pinyin, connected components,
Splink): :func:`registered` makes a frame queryable by name for the duration of
a block, :func:`scratch_duckdb` opens a private in-memory DuckDB (memory-capped,
spilling to a private directory) and :func:`splink_db_api` picks the Splink
database API that matches a connection (DuckDB's for DuckDB, Spark's for Spark).

Example
-------
>>> import pandas as pd
>>> with scratch_duckdb() as db, registered(db, "t", pd.DataFrame({"x": [1, 2]})):
...     db.execute("SELECT sum(x) FROM t").fetchone()[0]
3
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from scrm_lib.engine.runner import Runner

if TYPE_CHECKING:
    import pandas as pd


def _engine(con: Any) -> Any:
    """The connection under a :class:`~.runner.Runner`, if given one."""
    return con.con if isinstance(con, Runner) else con


def _duckdb(con: Any) -> Any:
    """The DuckDB connection under an ibis DuckDB backend (or the connection itself)."""
    return getattr(con, "con", con)


def _is_spark(con: Any) -> bool:
    return str(getattr(con, "name", "")) == "pyspark"


@contextlib.contextmanager
def registered(con: Any, name: str, frame: pd.DataFrame) -> Iterator[str]:
    """``frame`` queryable as ``name`` on ``con`` inside the block, gone after it.

    Parameters
    ----------
    con
        A :class:`~.runner.Runner`, an ibis backend (DuckDB or PySpark) or a
        DuckDB connection.
    name
        The view name the block's statements read.
    frame
        A pandas frame; DuckDB reads it in place (no copy), Spark as a temporary view.
        On DuckDB an Arrow table too (read without converting its text each scan).

    Yields
    ------
    str
        ``name``.
    """
    con = _engine(con)
    if _is_spark(con):
        session = con._session
        if hasattr(frame, "to_pandas"):  # an Arrow table
            frame = frame.to_pandas()
        session.createDataFrame(frame).createOrReplaceTempView(name)
        try:
            yield name
        finally:
            session.catalog.dropTempView(name)
        return
    db = _duckdb(con)
    db.register(name, frame)
    try:
        yield name
    finally:
        db.unregister(name)


@contextlib.contextmanager
def scratch_duckdb(
    memory_limit: str | None = None, *, temp_directory: str | None = None
) -> Iterator[Any]:
    """A private in-memory DuckDB connection, closed (and its spill files removed) on exit.

    Parameters
    ----------
    memory_limit
        Cap on the connection's memory (``"2GB"``); beyond it DuckDB spills to
        disk. None: DuckDB's defaults. DuckDB's default cap is 80% of RAM, on
        top of the warehouse connection's own: Splink's work is capped for that
        reason.
    temp_directory
        Where a capped connection spills (the caller removes it); default: a
        private temporary directory, removed on exit.
    """
    import duckdb

    if memory_limit is None:
        db = duckdb.connect()
        try:
            yield db
        finally:
            db.close()
        return
    with contextlib.ExitStack() as stack:
        if temp_directory is None:
            temp_directory = stack.enter_context(tempfile.TemporaryDirectory(prefix="scrm-splink-"))
        db = duckdb.connect(
            config={
                "memory_limit": memory_limit,
                "temp_directory": temp_directory,
                "preserve_insertion_order": False,
            }
        )
        stack.callback(db.close)
        yield db


def splink_db_api(con: Any) -> Any:
    """Splink's database API over ``con``: ``SparkAPI`` on a Spark backend, else ``DuckDBAPI``.

    Parameters
    ----------
    con
        An ibis backend (DuckDB or PySpark), a DuckDB connection or a
        :class:`~.runner.Runner` on one.

    Examples
    --------
    >>> with scratch_duckdb() as db:
    ...     type(splink_db_api(db)).__name__
    'DuckDBAPI'
    """
    con = _engine(con)
    if _is_spark(con):
        from splink import SparkAPI

        return SparkAPI(spark_session=con._session)
    from splink import DuckDBAPI

    return DuckDBAPI(connection=_duckdb(con))


__all__ = ["registered", "scratch_duckdb", "splink_db_api"]
