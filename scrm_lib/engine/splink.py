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
from pathlib import Path
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
        session.createDataFrame(_typed_arrow(frame)).createOrReplaceTempView(name)
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


def _typed_arrow(frame: Any) -> Any:
    """A pandas frame (or Arrow table) as Arrow with a type in every column: Spark takes its
    schema from it, also when it has no rows; a column null everywhere is text."""
    import pyarrow as pa

    if not isinstance(frame, pa.Table):
        frame = pa.Table.from_pandas(frame, preserve_index=False)
    table = frame
    for i, f in enumerate(table.schema):
        # pandas' Arrow-backed text is large_string, which Spark's schema inference refuses
        if pa.types.is_null(f.type) or pa.types.is_large_string(f.type):
            table = table.set_column(i, f.name, table.column(i).cast(pa.string()))
    return table


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


@contextlib.contextmanager
def scratch_spark(con: Any) -> Iterator[Any]:
    """An ibis backend on a session of its own beside ``con``'s (same executors and SQL
    settings, its own temporary views), whose views are dropped on exit: Splink's tables
    on Spark, as :func:`scratch_duckdb` holds them on DuckDB, never meet the step's (a
    Spark step's views are published as its marts)."""
    from scrm_lib.engine.spark import spark_backend, step_session

    session = step_session(_engine(con)._session)
    try:
        yield spark_backend(session)
    finally:
        for table in session.catalog.listTables():
            if table.isTemporary:
                session.catalog.dropTempView(table.name)


def similarity_jar() -> str | None:
    """The jar of Spark functions Splink's comparisons call on Spark (``jaro_winkler``,
    ``jaccard``, ``damerau_levenshtein``), as Splink ships it for Spark 4; None without
    Splink. The Spark session loads it at start (:func:`scrm_lib.engine.spark_session`)."""
    import importlib.util

    found = importlib.util.find_spec("splink")
    if found is None or found.origin is None:
        return None
    jar = Path(found.origin).parent / "internals/files/spark_jars" / SIMILARITY_JAR
    return str(jar) if jar.is_file() else None


#: Splink's jar for Spark 4 (pyspark 4.0): in the installed package, nothing downloaded.
SIMILARITY_JAR = "scala-udf-similarity-0.2.1_spark4.x.jar"


def splink_settings(settings: Any, con: Any) -> Any:
    """Splink settings written for DuckDB (a ``SettingsCreator`` or a saved model) for the
    engine of ``con``: as they are on DuckDB; on Spark a model whose comparison levels'
    SQL is Spark's (:func:`scrm_lib.engine.queries.condition`), which Splink then runs
    as it is. A model already in Spark's dialect (saved by a Spark linker) is returned.
    """
    import copy

    from scrm_lib.engine.queries import condition

    if not _is_spark(_engine(con)):
        return settings
    if not isinstance(settings, dict):
        settings = settings.get_settings("duckdb").as_dict()
    if settings.get("sql_dialect") == "spark":
        return settings
    out = copy.deepcopy(settings)
    out["sql_dialect"] = "spark"
    for comparison in out.get("comparisons", []):
        for level in comparison.get("comparison_levels", []):
            level["sql_condition"] = condition(level["sql_condition"], "spark")
    for rule in out.get("blocking_rules_to_generate_predictions", []):
        rule["blocking_rule"] = condition(rule["blocking_rule"], "spark")
        rule["sql_dialect"] = "spark"
    return out


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

        # persist, not Splink's checkpoint to a folder: a build sets no checkpoint folder,
        # and its Spark session's working tables live as long as the step (scratch_spark)
        return SparkAPI(spark_session=con._session, break_lineage_method="persist")
    from splink import DuckDBAPI

    return DuckDBAPI(connection=_duckdb(con))


__all__ = [
    "registered",
    "scratch_duckdb",
    "scratch_spark",
    "similarity_jar",
    "splink_db_api",
    "splink_settings",
]
