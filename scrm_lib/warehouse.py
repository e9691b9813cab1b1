"""Connections and query execution, in one place.

Everything that touches an engine goes through here: opening the published
DuckDB warehouse (read-only for readers), running SQL or ibis expressions
with timing and DEBUG logging, and turning engine errors into
:class:`~scrm_lib.errors.WarehouseError` messages that name the step and the
table. Spark is optional and started lazily.

Example
-------
>>> from scrm_lib.warehouse import open_warehouse
>>> con = open_warehouse()  # doctest: +SKIP
>>> con.table("orders").count().execute()  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir

from scrm_lib.errors import ScrmError, WarehouseError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    from ibis.backends.duckdb import Backend as DuckDBBackend

logger = logging.getLogger(__name__)

SPARK_INSTALL_HINT = "install with: uv sync --extra spark"


def home_hint() -> str:
    # imported late: config must not pull the engine modules in
    from scrm_lib.config import home_hint as hint

    return hint()


def _resolve(path: str | Path | None) -> Path:
    if path is not None:
        return Path(path).expanduser().resolve()
    from scrm_lib.config import load_settings

    return load_settings().warehouse


def open_warehouse(path: str | Path | None = None, *, read_only: bool = True) -> DuckDBBackend:
    """Open the published warehouse as an ibis DuckDB connection.

    Parameters
    ----------
    path
        The DuckDB file; default: ``warehouse`` from the settings
        (``data/warehouse/scrm.duckdb``).
    read_only
        Readers (dashboard, notebooks) open read-only, which lets many
        processes read while a build prepares the next file.

    Returns
    -------
    ibis.backends.duckdb.Backend
        An ibis connection; ``con.table("orders")`` is a lazy table.

    Raises
    ------
    WarehouseError
        No file at ``path`` (when read-only) or the file is not a DuckDB database.

    Examples
    --------
    >>> con = open_warehouse("data/warehouse/scrm.duckdb")  # doctest: +SKIP
    >>> con.table("builds").order_by("started_at").execute()  # doctest: +SKIP
    """
    target = _resolve(path)
    if read_only and not target.exists():
        raise WarehouseError(f"no warehouse at {target}; {home_hint()}")
    if not read_only:
        target.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb_connect(target, read_only=read_only)
    except Exception as exc:
        raise WarehouseError(f"cannot open warehouse {target}: {_first_line(exc)}") from exc
    logger.debug("opened warehouse %s (read_only=%s)", target, read_only)
    return con


@contextlib.contextmanager
def read_only_duckdb(path: str | Path | None = None) -> Iterator[Any]:
    """A plain DuckDB connection to the published warehouse, read-only, closed on exit.

    For readers that run SQL on the published file (data-health queries,
    the previous build's ids); errors name the file.

    Examples
    --------
    >>> with read_only_duckdb("data/warehouse/scrm.duckdb") as con:  # doctest: +SKIP
    ...     con.execute("SELECT count(*) FROM orders").fetchone()
    """
    import duckdb

    target = _resolve(path)
    if not target.exists():
        raise WarehouseError(f"no warehouse at {target}; {home_hint()}")
    try:
        con = duckdb.connect(str(target), read_only=True)
    except duckdb.Error as exc:
        raise WarehouseError(f"{target}: cannot open read-only ({_first_line(exc)})") from None
    try:
        yield con
    finally:
        con.close()


def duckdb_connect(path: str | Path = ":memory:", *, read_only: bool = False) -> DuckDBBackend:
    """An ibis DuckDB backend on ``path`` with the session time zone set to UTC.

    Examples
    --------
    >>> con = duckdb_connect()
    >>> con.sql("SELECT 1 AS x").execute()["x"].tolist()
    [1]
    """
    con = ibis.duckdb.connect(str(path), read_only=read_only)
    # Timestamps come back in UTC whatever the machine's zone is.
    con.raw_sql("SET TimeZone = 'UTC'")
    return con


def list_tables(con: Any) -> list[str]:
    """Names of the tables and views in a connection's main schema.

    Examples
    --------
    >>> list_tables(duckdb_connect())
    []
    """
    # ibis registers in-memory tables as views named ibis_*; they are not data.
    return sorted(n for n in con.list_tables() if not n.startswith("ibis_"))


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
        return str(self.con.name)

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
            raise WarehouseError(f"{where}: {_first_line(exc)}") from exc
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


def _compiled(con: Any, expr: Any) -> str | None:
    # Compiling only to log costs time on big trees; skip it unless DEBUG is on.
    if not logger.isEnabledFor(logging.DEBUG) or not isinstance(expr, ir.Expr):
        return None
    try:
        return str(con.compile(expr))
    except Exception:  # logging must never be the thing that fails a build
        return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def spark_session(
    *,
    app_name: str = "scrm",
    master: str = "local[2]",
    shuffle_partitions: int = 1,
    conf: dict[str, str] | None = None,
) -> Any:
    """Start (or reuse) a local Spark session set up the way scrm expects.

    UTC session time zone (so timestamps mean the same on both engines), UI
    off, Arrow transfers on, and few shuffle partitions (local data is small).

    Parameters
    ----------
    app_name, master
        Passed to the session builder.
    shuffle_partitions
        ``spark.sql.shuffle.partitions``.
    conf
        Extra Spark settings.

    Raises
    ------
    ImportError
        PySpark is not installed (``install with: uv sync --extra spark``).
    WarehouseError
        Spark could not start (usually: no Java).

    Examples
    --------
    >>> spark = spark_session()  # doctest: +SKIP
    >>> con = spark_backend(spark)  # doctest: +SKIP
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise ImportError(f"the Spark engine needs PySpark; {SPARK_INSTALL_HINT}") from exc
    # Without this Spark warns that the hostname resolves to a loopback address.
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    settings = {
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(shuffle_partitions),
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        # DuckDB and other readers expect standard Parquet timestamps, not INT96
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        # only takes effect when this call starts the JVM
        "spark.driver.memory": os.environ.get("SCRM_SPARK_DRIVER_MEMORY", "2g"),
        "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
        "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
        **(conf or {}),
    }
    builder = SparkSession.builder.appName(app_name).master(master)
    for key, value in settings.items():
        builder = builder.config(key, value)
    start = time.perf_counter()
    try:
        session = builder.getOrCreate()
    except Exception as exc:
        raise WarehouseError(
            f"cannot start Spark ({_first_line(exc)}); Spark needs Java 17 on PATH"
        ) from exc
    session.sparkContext.setLogLevel("ERROR")
    logger.debug("Spark session ready in %.1f s", time.perf_counter() - start)
    return session


def spark_backend(session: Any) -> Any:
    """An ibis PySpark backend on ``session``.

    Examples
    --------
    >>> con = spark_backend(spark_session())  # doctest: +SKIP
    """
    try:
        return ibis.pyspark.connect(session)
    except ImportError as exc:
        raise ImportError(f"the Spark engine needs PySpark; {SPARK_INSTALL_HINT}") from exc


def register_arrow(con: Any, name: str, data: pa.Table) -> ir.Table:
    """Make an Arrow table queryable as ``name`` on an ibis backend, without writing to disk.

    On Spark this is a temporary view (no ``spark-warehouse`` directory); on
    DuckDB a table in the connection's database.

    Examples
    --------
    >>> t = register_arrow(con, "stage_orders", arrow_table)  # doctest: +SKIP
    """
    if con.name == "pyspark":
        session = con._session
        try:
            frame = session.createDataFrame(data)
        except Exception as exc:
            raise WarehouseError(f"spark: load {name}: {_first_line(exc)}") from exc
        frame.createOrReplaceTempView(name)
        return con.table(name)
    return con.create_table(name, data, overwrite=True)


__all__ = [
    "SPARK_INSTALL_HINT",
    "Runner",
    "duckdb_connect",
    "list_tables",
    "open_warehouse",
    "register_arrow",
    "spark_backend",
    "spark_session",
]
