"""Connections, opened in one place: the published warehouse, a build's file, memory.

Readers (dashboard, notebooks) open the published warehouse read-only: a
DuckDB file, or a Spark build's Parquet folder (:mod:`.folder`), whose
current version they see as views on an in-memory DuckDB; a build opens its
own file read-write; errors name the file or folder.

Example
-------
>>> from scrm_lib.engine import open_warehouse
>>> con = open_warehouse()  # doctest: +SKIP
>>> con.table("orders").count().execute()  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis.expr.types as ir

from scrm_lib.engine.folder import attach_version, current_version
from scrm_lib.engine.runner import first_line as _first_line
from scrm_lib.errors import WarehouseError

if TYPE_CHECKING:
    import pyarrow as pa
    from ibis.backends.duckdb import Backend as DuckDBBackend

logger = logging.getLogger(__name__)


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
        The DuckDB file, or the folder a Spark build publishes (its ``CURRENT``
        version is resolved once, and its tables are views over that version's
        Parquet files); default: ``warehouse`` from the settings
        (``data/warehouse/scrm.duckdb``; with the Spark engine the
        ``[engine] warehouse_path`` folder).
    read_only
        Readers (dashboard, notebooks) open read-only, which lets many
        processes read while a build prepares the next file. A folder is
        read-only to readers whatever this says: only a build writes it.

    Returns
    -------
    ibis.backends.duckdb.Backend
        An ibis connection; ``con.table("orders")`` is a lazy table.

    Raises
    ------
    WarehouseError
        No file at ``path`` (when read-only) or the file is not a DuckDB database;
        a folder without a published version, or whose ``CURRENT`` names a
        missing version.

    Examples
    --------
    >>> con = open_warehouse("data/warehouse/scrm.duckdb")  # doctest: +SKIP
    >>> con.table("builds").order_by("started_at").execute()  # doctest: +SKIP
    """
    target = _resolve(path)
    if target.is_dir():
        if not read_only:
            raise WarehouseError(f"{target}: a Spark warehouse folder is written by builds only")
        return _open_folder(target)
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
    the previous build's ids); errors name the file. A warehouse folder gives an
    in-memory connection with its current version's tables as views.

    Examples
    --------
    >>> with read_only_duckdb("data/warehouse/scrm.duckdb") as con:  # doctest: +SKIP
    ...     con.execute("SELECT count(*) FROM orders").fetchone()
    """
    import duckdb

    target = _resolve(path)
    if target.is_dir():
        version = current_version(target)
        con = duckdb.connect()
        try:
            attach_version(con, version)
        except BaseException:
            con.close()
            raise
        try:
            yield con
        finally:
            con.close()
        return
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


def _open_folder(folder: Path) -> DuckDBBackend:
    """The current version of a warehouse folder as views on an in-memory DuckDB."""
    version = current_version(folder)
    con = duckdb_connect()
    try:
        attach_version(con, version)
    except BaseException:
        con.disconnect()
        raise
    # status and the dashboard say which version they read; a file has none
    con.scrm_version = version.info()
    logger.debug("opened warehouse folder %s, version %s", folder, version.id)
    return con


def version_info(con: Any) -> dict[str, Any] | None:
    """Storage, version, engine and master of a folder warehouse's connection; None for a file.

    Examples
    --------
    >>> version_info(duckdb_connect()) is None
    True
    """
    return getattr(con, "scrm_version", None)


def duckdb_connect(path: str | Path = ":memory:", *, read_only: bool = False) -> DuckDBBackend:
    """An ibis DuckDB backend on ``path`` with the session time zone set to UTC.

    Examples
    --------
    >>> con = duckdb_connect()
    >>> con.sql("SELECT 1 AS x").execute()["x"].tolist()
    [1]
    """
    con = _backend_class()().connect(str(path), read_only=read_only)
    # Timestamps come back in UTC whatever the machine's zone is.
    con.raw_sql("SET TimeZone = 'UTC'")
    return con


def duckdb_memory(*, threads: int | None = None) -> Any:
    """A plain in-memory DuckDB connection (no ibis backend) with the session zone UTC.

    For column-wise work on Arrow tables through :class:`Runner`, where no ibis
    expression is built: loading ibis's backend costs a parse worker a third of a
    second. ``threads``: DuckDB's worker threads (default: one per core).

    Examples
    --------
    >>> duckdb_memory().execute("SELECT 1").fetchall()
    [(1,)]
    """
    import duckdb

    con = duckdb.connect(config={} if threads is None else {"threads": int(threads)})
    con.execute("SET TimeZone = 'UTC'")
    return con


@functools.cache
def _backend_class() -> type:
    """ibis's DuckDB backend with a result conversion that keeps numbers numbers.

    ibis's ``execute`` turns every column that holds a null into a Python list
    (``to_pylist``) before pandas sees it: a number column with a few nulls (the
    first purchase of a person who never bought) becomes millions of Python
    objects, then a float column again. Here a number column with some nulls
    goes straight from Arrow to a float column with NaN, the very frame ibis
    ends with (pandas makes float64 of ints and None), without the objects
    (the RFM summary of 2.3M persons, 7,735 of them with no purchase: 0.9-1.3 s
    through Python lists, 0.1 s this way). Everything else converts as ibis
    converts it.

    Two round trips are also made cheaper, since a small brand's build makes hundreds
    of them (:func:`_warehouse_compiler`, and ``list_tables`` in one query).
    """
    import pandas as pd
    import pyarrow.types as pat
    import pyarrow_hotfix  # noqa: F401  (as ibis's execute: safe Arrow extension types)
    from ibis.backends.duckdb import Backend
    from ibis.backends.duckdb.converter import DuckDBPandasData
    from ibis.formats.pandas import PandasData

    def column(col: Any) -> Any:
        numeric = pat.is_integer(col.type) or pat.is_floating(col.type)
        if numeric and 0 < col.null_count < len(col):
            return col.to_pandas()
        if pat.is_nested(col.type) or pat.is_dictionary(col.type) or col.null_count:
            return col.to_pylist()
        return col.to_pandas()

    class WarehouseBackend(Backend):
        compiler = _warehouse_compiler()

        def list_tables(self, *, like: str | None = None, database: Any = None) -> list[str]:
            # ibis asks for the current catalog and schema first: three round trips
            if database is not None:
                return super().list_tables(like=like, database=database)
            names = [name for (name,) in self.con.execute(_LIST_TABLES).fetchall()]
            return self._filter_with_like(names, like)

        def execute(self, expr: ir.Expr, /, *, params: Any = None, limit: Any = None,
                    **kwargs: Any) -> Any:  # fmt: skip
            rel = self._to_duckdb_relation(expr, params=params, limit=limit, **kwargs)
            table = rel.to_arrow_table()
            cols = zip(table.column_names, table.columns, strict=True)
            df = pd.DataFrame({n: column(c) for n, c in cols}, copy=False)
            schema = expr.as_table().schema()
            if not isinstance(expr, ir.Table) or schema.geospatial:
                df = DuckDBPandasData.convert_table(df, schema)
                return expr.__pandas_result__(df)
            # the same two conversions of each column as above, and one copy: each of
            # three frames copied the number columns into one block, and fresh memory
            # is slow to fault in (the RFM summary of 2.3M persons: 1.6 s of its 7.8 s
            # of CPU); the last frame copies, so no column is a read-only Arrow view
            df = pd.DataFrame(
                {n: DuckDBPandasData.convert_column(df[n], t) for n, t in schema.items()},
                copy=False,
            )
            return pd.DataFrame({n: PandasData.convert_column(df[n], t) for n, t in schema.items()})

    return WarehouseBackend


#: The tables and views ibis's ``list_tables`` lists (the current catalog's and the
#: temporary ones, in the current schema), asked in one statement.
_LIST_TABLES = (
    "SELECT DISTINCT table_name FROM information_schema.tables "
    "WHERE table_catalog IN (current_database(), 'temp') AND table_schema = current_schema()"
)


def _warehouse_compiler() -> Any:
    """ibis's DuckDB compiler, reading each DuckDB type name once per process.

    Every ``con.table(name)`` (and every cached or created table) describes the
    table and parses each column's type name with sqlglot: three quarters of the
    time of a schema look-up, and a small build looks up about 185 schemas of the
    same few dozen type names. The parse is a pure function of the name (ibis types
    are immutable values), so its result is kept.
    """
    from ibis.backends.sql.compilers.duckdb import DuckDBCompiler
    from ibis.backends.sql.datatypes import DuckDBType

    parse = functools.lru_cache(maxsize=4096)(DuckDBType.from_string)

    class WarehouseTypes(DuckDBType):
        @classmethod
        def from_string(cls, text: str, nullable: bool | None = None) -> Any:
            return parse(text, nullable)

    class WarehouseCompiler(DuckDBCompiler):
        type_mapper = WarehouseTypes

    return WarehouseCompiler()


def list_tables(con: Any) -> list[str]:
    """Names of the tables and views in a connection's main schema.

    Examples
    --------
    >>> list_tables(duckdb_connect())
    []
    """
    # ibis registers in-memory tables as views named ibis_*; they are not data.
    return sorted(n for n in con.list_tables() if not n.startswith("ibis_"))


#: What every public function takes as ``warehouse``: a path to a warehouse file or folder,
#: ``None`` or ``""`` for the configured one, or an open ibis connection.
Warehouse = str | Path | Any


@contextlib.contextmanager
def using(warehouse: Warehouse = None) -> Iterator[Any]:
    """A connection for ``warehouse``: a path is opened read-only (as ibis) and closed
    on exit; anything already open is passed through and left open for its owner.

    Examples
    --------
    >>> con = duckdb_connect()
    >>> with using(con) as c:
    ...     c is con
    True
    """
    if warehouse is not None and not isinstance(warehouse, str | Path):
        yield warehouse  # an open connection (ibis, DuckDB) or a runner: its owner closes it
        return
    path = None if warehouse is None or str(warehouse) == "" else Path(warehouse)
    con = open_warehouse(path)
    try:
        yield con
    finally:
        con.disconnect()


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
    if data.num_rows == 0 and data.num_columns:
        # An empty mart (most of those a small brand's first build writes): the table
        # create_table would make, from the schema it would read, without registering
        # the data, planning its query and inserting no rows (about half the time).
        import ibis

        return con.create_table(name, schema=ibis.memtable(data).schema(), overwrite=True)
    return con.create_table(name, data, overwrite=True)


def materialize(con: Any, name: str, expr: ir.Table) -> ir.Table:
    """Make ``expr`` table ``name`` (replacing it), on either engine, without a Spark catalog.

    DuckDB computes it into a table of the warehouse being built. Spark keeps a
    temporary view: a build's Spark step hands it to the build's bridge, whose
    executors write it into the version (:mod:`scrm_lib.engine.bridge`); a managed
    Spark table would land in a stray ``spark-warehouse/`` folder instead.

    Examples
    --------
    >>> materialize(con, "person_tags__value", rows)  # doctest: +SKIP
    """
    if con.name == "pyspark":
        return con.create_view(name, expr, overwrite=True)
    return con.create_table(name, expr, overwrite=True)


#: Tables of the state store, made on every open (``CREATE TABLE IF NOT EXISTS``).
STATE_TABLES = ("state.create_audit", "state.create_refused_files", "state.create_login_failures")


def state_store(path: str | Path) -> Any:
    """Open the state store read-write (created on first use) as a plain DuckDB connection.

    The state store is a small DuckDB file that outlives rebuilds (audit log,
    refused files, logins; overrides and saved segments add their own
    tables). Another process may hold its write lock for a moment, so opening
    retries for up to five seconds; its tables are made if missing. Callers
    close it soon after, so the lock is held for milliseconds.

    Examples
    --------
    >>> con = state_store(tmp / "state.duckdb")  # doctest: +SKIP
    >>> Runner(con, label="state").rows("state.refused")  # doctest: +SKIP
    []
    """
    import time

    import duckdb

    from scrm_lib.engine.runner import Runner

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(50):
        try:
            con = duckdb.connect(str(target))
            break
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or attempt == 49:
                raise WarehouseError(f"{target}: cannot open the state store ({exc})") from None
            time.sleep(0.1)
    runner = Runner(con, label="state")
    try:
        for name in STATE_TABLES:
            runner.query(name)
    except BaseException:
        con.close()
        raise
    return con
