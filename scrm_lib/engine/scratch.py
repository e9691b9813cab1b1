"""Intermediate tables of one computation, held by each engine's own means.

An iterative computation (the referral graph's closure grows one generation at
a time) reads each round's result in the next: held, not recomputed from the
start every round. :class:`Scratch` holds an expression's rows and gives back
an ibis table over them, on either engine, and drops them all on exit:

- DuckDB: a temporary table of the connection;
- Spark: a DataFrame checkpointed on the executors (``localCheckpoint``, eager)
  under a temporary view. ibis' PySpark backend makes no temporary tables, and
  its ``cache`` keeps the whole plan: a table read by the next round, and that
  round's by the one after, would carry every round before it, a plan that
  doubles each round. A checkpoint's plan starts from its own rows.

Example
-------
>>> from scrm_lib.engine import duckdb_connect
>>> con = duckdb_connect()
>>> with Scratch(con, "squares") as scratch:
...     t = scratch.hold(con.sql("SELECT range AS n FROM range(4)"))
...     int(t.mutate(sq=t.n * t.n).sq.sum().execute())
14
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir

from scrm_lib.engine.connect import materialize as _materialize


class Scratch:
    """The held tables of one computation: all dropped on exit (or :meth:`close`).

    Parameters
    ----------
    con
        The ibis backend (DuckDB or PySpark) the expressions are bound to.
    prefix
        Part of the held tables' names (``ibis_<prefix>_<id>``: a Spark step's
        hand-over leaves ``ibis_*`` tables alone, as ibis' own).
    """

    def __init__(self, con: Any, prefix: str = "scratch") -> None:
        self.con = con
        self.prefix = prefix
        self._held: dict[str, Any] = {}  # name -> Spark's checkpointed frame (None on DuckDB)

    @property
    def on_spark(self) -> bool:
        return getattr(self.con, "name", "") == "pyspark"

    def hold(self, expr: ir.Table) -> ir.Table:
        """``expr``'s rows, computed now and held until dropped; a table over them."""
        name = ibis.util.gen_name(self.prefix)
        if self.on_spark:
            frame = _checkpoint(self.con, expr)
            frame.createOrReplaceTempView(name)
            self._held[name] = frame
            return self.con.table(name)
        table = self.con.create_table(name, expr, temp=True)
        self._held[name] = None
        return table

    def drop(self, table: ir.Table) -> None:
        """Drop one held table now (it must not be read after)."""
        self._release(_name(table))

    def materialize(self, name: str, expr: ir.Table) -> ir.Table:
        """:func:`scrm_lib.engine.materialize` of an expression over held tables: table
        ``name`` that outlives the scratch.

        DuckDB copies the rows into the table; the held tables go on exit as usual.
        Spark's table is a view (its step's hand-over has the executors write it): the
        held tables it reads stay in the session, so the view can be read after the
        scratch is closed; they go with the session's temporary views (Spark's cleaner
        drops the blocks of a checkpoint nothing refers to any more).
        """
        if self.on_spark:
            for op in expr.op().find(ops.DatabaseTable):
                self._held.pop(op.name, None)
        return _materialize(self.con, name, expr)

    def close(self) -> None:
        """Drop every held table."""
        while self._held:
            self._release(next(iter(self._held)))

    def _release(self, name: str) -> None:
        frame = self._held.pop(name)
        if frame is None:
            self.con.drop_table(name, force=True)
            return
        self.con._session.catalog.dropTempView(name)
        # the checkpoint's blocks on the executors: a Dataset's unpersist does not reach
        # them (it is not cached), the checkpointed RDD under its plan does
        frame._jdf.queryExecution().logical().rdd().unpersist(False)

    def __enter__(self) -> Scratch:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _checkpoint(con: Any, expr: ir.Table) -> Any:
    """``expr``'s rows on Spark's executors, as a DataFrame whose plan starts from them."""
    from ibis.backends.pyspark.datatypes import PySparkType

    con._run_pre_execute_hooks(expr)  # its in-memory tables and UDFs, as ibis does
    frame = con._session.sql(con.compile(expr))
    # Spark types a literal by its value (INT for ibis' int64 1): cast back to the
    # expression's types, as DuckDB's table of it has them, so a held table unions
    # with the expressions of the next round
    columns = []
    for field in frame.schema.fields:
        want = expr.schema()[field.name]
        got = PySparkType.to_ibis(field.dataType, nullable=want.nullable)
        column = frame[field.name]
        if got != want and not want.is_temporal():
            column = column.cast(PySparkType.from_ibis(want)).alias(field.name)
        columns.append(column)
    frame = frame.select(*columns)
    session = con._session
    key = "spark.sql.constraintPropagation.enabled"
    before = session.conf.get(key)
    # a checkpoint keeps the constraints of its plan; Spark 4.0 fails to carry them over
    # when it checkpoints a union of other checkpoints ("key not found" in
    # LogicalRDD.rewriteStatsAndConstraints). Without them the held table is filtered
    # only by what later statements say.
    session.conf.set(key, "false")
    try:
        return frame.localCheckpoint(eager=True)
    finally:
        session.conf.set(key, before)


def _name(table: ir.Table) -> str:
    """The bare name of a held table (a DuckDB temporary one's is ``temp.main.name``)."""
    return table.get_name().rsplit(".", 1)[-1]


__all__ = ["Scratch"]
