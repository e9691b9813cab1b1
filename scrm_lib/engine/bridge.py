"""Build steps on Spark beside steps on DuckDB: each engine sees the tables the other wrote.

A Spark build keeps every table in its version folder (:mod:`.folder`): the
canonical tables Spark's executors wrote, then the marts of the build steps.
A step that can run on Spark gets an ibis backend on the build's Spark session
(:meth:`SparkBridge.running`); the others keep the build's DuckDB file. The
version's Parquet files are the only way tables travel between the two:

- into Spark: a table Spark wrote (canonical, or an earlier Spark step's mart)
  is read from its files in the version; a table a DuckDB step wrote is copied
  by DuckDB into the build's exchange folder first, again before every Spark
  step (a later DuckDB step may have changed it: ``person_tags`` grows step by
  step);
- out of Spark: every table a Spark step made is written by Spark's executors
  into the version (``<version>/<table>/part-*.parquet``), read back from there
  by the later Spark steps, and given to the DuckDB file as a view over those
  files, so DuckDB steps and the publish read it as they read the canonical
  tables; the build's ``written`` map records it (manifest ``written_by: spark``).

The steps run on a session of their own (``newSession``: same executors, its
own temporary views), so nothing a build registers outlives it or meets
another build's tables in the same process.

Example
-------
>>> bridge = SparkBridge(duck, version, written=written, exchange=tmp, master="local[2]")
... # doctest: +SKIP
>>> with bridge.running("value") as con:  # doctest: +SKIP
...     persons.run(dataclasses.replace(ctx, con=con))
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from scrm_lib.engine.connect import list_tables
from scrm_lib.engine.folder import attach_parquet, data_files, duckdb_columns
from scrm_lib.engine.runner import Runner, first_line

logger = logging.getLogger(__name__)


class SparkBridge:
    """The build's Spark side for the build steps: a session, and tables to and from DuckDB.

    Parameters
    ----------
    duck
        The ibis DuckDB backend on the build's file (canonical tables as views
        over the version's files, the DuckDB steps' marts as tables).
    version
        The version folder the build publishes.
    written
        Table -> partition columns of the tables already written into ``version``
        by Spark; the bridge adds the Spark steps' marts to it.
    exchange
        A folder inside the build's work files for DuckDB's tables on their way to Spark.
    master, executor_memory
        The build's Spark session (:func:`scrm_lib.engine.spark_session`).
    """

    def __init__(
        self,
        duck: Any,
        version: Path,
        *,
        written: dict[str, tuple[str, ...]],
        exchange: Path,
        master: str,
        executor_memory: str | None = None,
        label: str = "build",
    ) -> None:
        self.duck = duck
        self.version = Path(version)
        self.written = written
        self.exchange = Path(exchange)
        self.master = master
        self.executor_memory = executor_memory
        self.label = label
        # what the steps may read: the canonical tables and the steps' marts, not the
        # build's own bookkeeping already in the file (rejects)
        self._before = set(list_tables(duck)) - set(written)
        self._con: Any = None
        self._read: set[str] = set()  # Spark-written tables Spark already reads from files
        self._round = 0
        self._to_spark = Runner(duck, label=f"{label}: to spark")
        self._spark: Runner | None = None

    @property
    def timings(self) -> dict[str, float]:
        """Seconds spent handing tables over: DuckDB's copies (``copy``), Spark's
        reads and writes."""
        out = dict(self._to_spark.timings)
        for key, seconds in (self._spark.timings if self._spark else {}).items():
            out[key] = round(out.get(key, 0.0) + seconds, 4)
        return out

    @property
    def con(self) -> Any:
        """An ibis backend on the steps' own Spark session (started on first use)."""
        if self._con is None:
            from scrm_lib.engine import spark_backend, spark_session, step_session

            session = spark_session(master=self.master, executor_memory=self.executor_memory)
            self._con = spark_backend(step_session(session))
            self._spark = Runner(self._con, label=f"{self.label}: steps on spark")
        return self._con

    @contextlib.contextmanager
    def running(self, step: str) -> Iterator[Any]:
        """Run a step on Spark: share DuckDB's tables, yield the backend, take its marts."""
        spark = self.con
        self._share(spark)
        before = set(spark.list_tables())
        yield spark
        made = sorted(n for n in set(spark.list_tables()) - before if not n.startswith("ibis_"))
        for name in made:
            self._take(spark, name)

    def close(self) -> None:
        """Drop the steps' session's views (the session goes; the executors stay)."""
        if self._con is None:
            return
        catalog, self._con = self._con._session.catalog, None
        try:
            for table in catalog.listTables():
                if table.isTemporary:
                    catalog.dropTempView(table.name)
        except Exception as exc:
            # close() runs after a failed step too, when Spark may be gone (a JVM out of
            # memory): its error must not take the place of the step's one-line error
            logger.warning("the Spark steps' views were not dropped: %s", first_line(exc))

    def _share(self, spark: Any) -> None:
        """Make every table a Spark step may read visible on ``spark`` under its own name."""
        self._round += 1
        duck, runner = self._to_spark, self._spark
        for name in list_tables(self.duck):
            if name in self._read or name in self._before:
                continue
            files = self._files(name)
            if not files:
                # DuckDB's (or nothing Spark wrote, which DuckDB writes as an empty file with
                # its columns): copied now, as it is now
                path = self.exchange / str(self._round) / f"{name}.parquet"
                path.parent.mkdir(parents=True, exist_ok=True)
                duck.query(
                    "build.copy_parquet", step="copy", table=name, relation=name, path=str(path)
                )
                files = [str(path)] if path.is_file() else [str(p) for p in data_files(path)]
            else:
                self._read.add(name)  # Spark's own files do not change during the build
            columns = self.duck.table(name).columns
            with runner.step("read", table=name):
                frame = spark._session.read.parquet(*files).select(*columns)
                frame.createOrReplaceTempView(name)

    def _files(self, name: str) -> list[str]:
        if name not in self.written:
            return []
        return [str(p) for p in data_files(self.version / name)]

    def _take(self, spark: Any, name: str) -> None:
        """Write a Spark step's table into the version, by Spark; read it from there on."""
        runner = self._spark
        table = spark.table(name)
        folder = self.version / name
        with runner.step("write", table=name):
            spark.to_parquet(table, str(folder))
        files = data_files(folder)
        with runner.step("read", table=name):
            session = spark._session
            schema = session.table(name).schema
            frame = (
                session.read.schema(schema).parquet(*map(str, files))
                if files
                else session.createDataFrame([], schema)
            )
            frame.createOrReplaceTempView(name)
        if name in list_tables(self.duck) and name not in self.written:
            # an earlier DuckDB step's table of that name: Spark's replaces it
            self.duck.drop_table(name)
        attach_parquet(
            self.duck.con,
            self.version,
            {name: (duckdb_columns(_instants(table.schema(), schema)),
                    [p.relative_to(self.version).as_posix() for p in files])},
            label=self.label,
        )  # fmt: skip
        self.written[name] = ()
        self._read.add(name)
        logger.info("%s: %s written by spark (%d file(s))", self.label, name, len(files))


def _instants(schema: Any, spark_schema: Any) -> Any:
    """``schema`` (ibis, of a Spark table) with Spark's ``TIMESTAMP`` columns as UTC instants.

    Spark's ``TIMESTAMP`` is an instant, written to Parquet as one (adjusted to UTC), but
    ibis reads its type without a zone, so DuckDB would see a naive time where the DuckDB
    build of the same mart has a ``TIMESTAMPTZ``. ``TIMESTAMP_NTZ`` stays naive.
    """
    import ibis
    import ibis.expr.datatypes as dt

    instants = {f.name for f in spark_schema.fields if f.dataType.typeName() == "timestamp"}
    return ibis.schema(
        {c: dt.Timestamp(timezone="UTC") if c in instants else t for c, t in schema.items()}
    )


__all__ = ["SparkBridge"]
