"""The engine boundary: the only package that connects to an engine and runs queries.

Connections are opened here (:mod:`.connect`), every query runs through
:class:`Runner` (timing, DEBUG logging, errors naming the step and table),
and the SQL that ibis cannot say lives in named query files under ``sql/``,
written once in DuckDB's dialect and translated for Spark by sqlglot
(:mod:`.queries`). A Spark build's steps on Spark and on DuckDB see each other's
tables through :mod:`.bridge`. An iterative computation holds its rounds' tables
in a :class:`Scratch`, by each engine's own means.
"""

from scrm_lib.engine.batches import map_batches
from scrm_lib.engine.connect import (
    Warehouse,
    duckdb_connect,
    duckdb_memory,
    list_tables,
    materialize,
    open_warehouse,
    read_only_duckdb,
    register_arrow,
    using,
    version_info,
)
from scrm_lib.engine.folder import is_published, published_version
from scrm_lib.engine.queries import render, sql
from scrm_lib.engine.runner import Runner
from scrm_lib.engine.scratch import Scratch
from scrm_lib.engine.spark import SPARK_INSTALL_HINT, spark_backend, spark_session, step_session

__all__ = [
    "SPARK_INSTALL_HINT",
    "Runner",
    "Scratch",
    "Warehouse",
    "duckdb_connect",
    "duckdb_memory",
    "is_published",
    "list_tables",
    "map_batches",
    "materialize",
    "open_warehouse",
    "published_version",
    "read_only_duckdb",
    "register_arrow",
    "render",
    "spark_backend",
    "spark_session",
    "sql",
    "step_session",
    "using",
    "version_info",
]
