"""The one place queries run: timing, DEBUG logging, errors that name the step and table."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir

from scrm_lib.engine.queries import dialect_of, render, spark_statement
from scrm_lib.errors import ScrmError, WarehouseError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

logger = logging.getLogger(__name__)


class Runner:
    """Run queries on one ibis backend with timing, DEBUG logging and error wrapping.

    Every step a build takes goes through one of these methods, so a failure
    reads ``build: orders: <engine message>`` instead of a raw engine
    traceback, and ``timings`` holds seconds per step for the build log.

    Parameters
    ----------
    con
        An ibis backend (DuckDB or PySpark).
    label
        Prefix for error messages, e.g. ``"build"``.

    Examples
    --------
    >>> runner = Runner(ibis.duckdb.connect(), label="demo")
    >>> runner.sql("SELECT 42 AS x", step="answer").fetchall()
    [(42,)]
    """

    def __init__(self, con: Any, *, label: str = "warehouse") -> None:
        self.con = con
        self.label = label
        self.timings: dict[str, float] = {}

    @property
    def engine(self) -> str:
        """The ibis backend name (``duckdb`` or ``pyspark``)."""
        return str(getattr(self.con, "name", "duckdb"))  # a plain DuckDB connection has none

    @contextlib.contextmanager
    def step(
        self, step: str, *, table: str | None = None, sql: str | None = None
    ) -> Iterator[None]:
        """Time a block and wrap any engine error in it as a ``WarehouseError``.

        ``ScrmError`` passes through unchanged: it already says what went wrong.
        """
        where = f"{self.label}: {step}" + (f": {table}" if table else "")
        if sql is not None:
            logger.debug("%s: SQL\n%s", where, sql)
        start = time.perf_counter()
        try:
            yield
        except ScrmError:
            raise
        except Exception as exc:
            logger.debug("%s failed", where, exc_info=True)
            raise WarehouseError(f"{where}: {first_line(exc)}") from exc
        finally:
            elapsed = time.perf_counter() - start
            self.timings[step] = round(self.timings.get(step, 0.0) + elapsed, 4)
            logger.debug("%s: %.3f s", where, elapsed)

    def sql(self, query: str, *, step: str, table: str | None = None) -> Any:
        """Run a SQL statement in the backend's own dialect and return the engine's cursor."""
        with self.step(step, table=table, sql=query):
            return self.con.raw_sql(query)

    def execute(self, expr: ir.Expr, *, step: str, table: str | None = None) -> pd.DataFrame:
        """Execute an ibis expression to pandas."""
        with self.step(step, table=table, sql=_compiled(self.con, expr)):
            return self.con.execute(expr)

    def to_pyarrow(self, expr: ir.Table, *, step: str, table: str | None = None) -> pa.Table:
        """Execute an ibis table expression to a pyarrow table."""
        with self.step(step, table=table, sql=_compiled(self.con, expr)):
            return self.con.to_pyarrow(expr)

    def create_table(
        self, name: str, obj: Any, *, step: str, schema: ibis.Schema | None = None
    ) -> ir.Table:
        """Materialize an expression or a frame as table ``name`` (replacing it)."""
        sql = _compiled(self.con, obj) if isinstance(obj, ir.Expr) else None
        with self.step(step, table=name, sql=sql):
            if obj is None:
                return self.con.create_table(name, schema=schema, overwrite=True)
            return self.con.create_table(name, obj, schema=schema, overwrite=True)

    def insert(self, name: str, obj: Any, *, step: str) -> None:
        """Append a frame or expression to table ``name``."""
        with self.step(step, table=name):
            self.con.insert(name, obj)

    # -- named SQL (engine/sql/*.sql) -------------------------------------------------

    def query(
        self,
        name: str,
        params: dict[str, Any] | None = None,
        *,
        step: str | None = None,
        table: str | None = None,
        **fragments: Any,
    ) -> Any:
        """Run the named statement ``name`` (``"area.query"``) and return the engine's cursor.

        ``params`` are bound by the engine (``$name`` in the file); ``fragments``
        fill the template (identifiers, optional clauses).
        """
        if self.engine == "pyspark":
            return self._spark_query(name, params, step=step, table=table, **fragments)
        text = render(name, dialect=dialect_of(self.con), **fragments)
        with self.step(step or name, table=table, sql=text):
            return _duckdb(self.con).execute(text, params or None)

    def _spark_query(
        self,
        name: str,
        params: dict[str, Any] | None,
        *,
        step: str | None,
        table: str | None,
        **fragments: Any,
    ) -> Any:
        """The named statement on Spark, whose tables are the session's temporary views.

        A statement that makes a table (``CREATE [TEMP] TABLE t AS ...``) computes its
        rows now and keeps them as the view ``t`` (checkpointed: the statements after it
        read it, and some replace it with a query that reads it); ``DROP TABLE t`` drops
        the view. Any other statement returns its DataFrame.
        """
        action, target, text = spark_statement(name, **fragments)
        session = self.con._session
        with self.step(step or name, table=table or target, sql=text):
            if action == "drop":
                session.catalog.dropTempView(target)
                return None
            frame = session.sql(text, args=params or None)
            if action == "create":
                frame = frame.localCheckpoint()
                frame.createOrReplaceTempView(target)
            return frame

    def relation(self, name: str, **fragments: Any) -> ir.Table:
        """The named SELECT as an ibis table: nothing runs until an expression over it
        does (its ``$`` parameters, if any, must be filled in as fragments)."""
        return self.con.sql(render(name, dialect=dialect_of(self.con), **fragments))

    def df(self, name: str, params: dict[str, Any] | None = None, **kw: Any) -> pd.DataFrame:
        """The named query's result as a pandas frame."""
        result = self.query(name, params, **kw)
        return result.toPandas() if self.engine == "pyspark" else result.df()

    def rows(self, name: str, params: dict[str, Any] | None = None, **kw: Any) -> list[tuple]:
        """The named query's result as a list of tuples."""
        result = self.query(name, params, **kw)
        if self.engine == "pyspark":
            return [tuple(r) for r in result.collect()]
        return result.fetchall()

    def scalar(self, name: str, params: dict[str, Any] | None = None, **kw: Any) -> Any:
        """The first column of the first row of the named query (``None`` when empty)."""
        found = self.rows(name, params, **kw)
        return found[0][0] if found else None

    def arrow(self, name: str, params: dict[str, Any] | None = None, **kw: Any) -> pa.Table:
        """The named query's result as a pyarrow table."""
        result = self.query(name, params, **kw)
        return result.toArrow() if self.engine == "pyspark" else result.to_arrow_table()

    def tables(self, *, step: str = "tables") -> set[str]:
        """Names of the tables and views the connection sees (temporary ones too)."""
        if self.engine == "pyspark":
            # Spark SQL has no information_schema of its session's temporary views
            with self.step(step):
                return {t.name for t in self.con._session.catalog.listTables()}
        return {r[0] for r in self.rows("engine.tables", step=step)}

    @contextlib.contextmanager
    def transaction(self, *, step: str = "transaction") -> Iterator[None]:
        """All statements in the block commit together or not at all (DuckDB)."""
        raw = _duckdb(self.con)
        with self.step(step):
            raw.execute("BEGIN")
        try:
            yield
        except BaseException:
            raw.execute("ROLLBACK")
            raise
        raw.execute("COMMIT")


def _compiled(con: Any, expr: Any) -> str | None:
    # Compiling only to log costs time on big trees; skip it unless DEBUG is on.
    if not logger.isEnabledFor(logging.DEBUG) or not isinstance(expr, ir.Expr):
        return None
    try:
        return str(con.compile(expr))
    except Exception:  # logging must never be the thing that fails a build
        return None


def _duckdb(con: Any) -> Any:
    """The DuckDB connection under an ibis DuckDB backend (or the connection itself)."""
    return getattr(con, "con", con)


#: How Spark says it ran out of memory: the JVM's heap, or an executor's execution memory.
SPARK_OUT_OF_MEMORY = ("java.lang.OutOfMemoryError", "SparkOutOfMemoryError")


def first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    found = next((m for m in SPARK_OUT_OF_MEMORY if m in text), None)
    if found:
        # Spark's first line names only the call that failed ("An error occurred while
        # calling o2081.localCheckpoint."); the cause is what a user can act on
        return (
            f"{text.splitlines()[0]} Spark ran out of memory ({found}): "
            "give it more with SCRM_SPARK_DRIVER_MEMORY (local mode) or --executor-memory"
        )
    return text.splitlines()[0]


def is_engine_error(exc: BaseException) -> bool:
    """Whether ``exc`` is an engine's own (DuckDB's, Spark's or its JVM bridge's): what
    the data, the memory or the cluster caused, not a defect in scrm's code."""
    return any(
        k.__module__.split(".")[0] in ("duckdb", "_duckdb", "pyspark", "py4j")
        for k in type(exc).__mro__
    )
