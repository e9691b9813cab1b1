"""The Spark engine: a local session set up the way scrm expects, and its ibis backend."""

from __future__ import annotations

import functools
import logging
import os
import sys
import time
from typing import Any

from scrm_lib.config import check_memory
from scrm_lib.engine.runner import first_line as _first_line
from scrm_lib.engine.splink import similarity_jar
from scrm_lib.errors import WarehouseError

logger = logging.getLogger(__name__)

SPARK_INSTALL_HINT = "install with: uv sync --extra spark"


def spark_session(
    *,
    app_name: str = "scrm",
    master: str = "local[2]",
    shuffle_partitions: int | None = None,
    executor_memory: str | None = None,
    conf: dict[str, str] | None = None,
) -> Any:
    """Start (or reuse) a Spark session set up the way scrm expects.

    UTC session time zone (so timestamps mean the same on both engines), UI
    off, Arrow transfers on; shuffle partitions are Spark's own setting (adaptive
    execution merges the small ones) unless ``shuffle_partitions`` says.
    One Spark session runs per Python process: a running one is reused when
    its master is ``master``, and refused (:class:`WarehouseError`) when it is
    another, rather than silently running on the wrong cluster.

    Parameters
    ----------
    app_name
        Passed to the session builder.
    master
        ``local[N]`` (this machine, N threads) or a cluster's URL, e.g.
        ``spark://HOST:7077`` for a standalone cluster.
    executor_memory
        ``spark.executor.memory`` (e.g. ``4g``); Spark's default when None.
    shuffle_partitions
        ``spark.sql.shuffle.partitions``.
    conf
        Extra Spark settings.

    Raises
    ------
    ImportError
        PySpark is not installed (``install with: uv sync --extra spark``).
    WarehouseError
        Spark could not start (usually: no Java), or a session on another
        master runs in this process.

    Examples
    --------
    >>> spark = spark_session()  # doctest: +SKIP
    >>> con = spark_backend(spark)  # doctest: +SKIP
    """
    try:
        from pyspark import SparkContext
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise ImportError(f"the Spark engine needs PySpark; {SPARK_INSTALL_HINT}") from exc
    running = SparkContext._active_spark_context
    if running is not None and running.master != master:
        # getOrCreate would hand back the running session whatever master it was asked for
        raise WarehouseError(
            f"a Spark session on {running.master} already runs in this process; "
            f"stop it (spark.stop()) before using master {master}"
        )
    if on_this_machine(master):
        # Without this Spark warns that the hostname resolves to a loopback address.
        # Not for a cluster on other machines: its executors must reach the driver.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # The executors' Python (parsing, a step's pandas functions) is this one, which has
    # scrm and its packages (PySpark's default is whatever python3 is on the PATH); a
    # cluster whose machines keep it elsewhere sets PYSPARK_PYTHON. PySpark reads it
    # from the environment when the context starts.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    settings = {
        "spark.sql.session.timeZone": "UTC",
        # Spark's default (200) unless asked: adaptive execution then merges a shuffle's
        # small partitions after the fact (one for a small sample, many for a large one),
        # where a fixed 1 ran every step after a shuffle in a single task on any cluster
        **({"spark.sql.shuffle.partitions": str(shuffle_partitions)} if shuffle_partitions else {}),
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        # DuckDB and other readers expect standard Parquet timestamps, not INT96
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        # only takes effect when this call starts the JVM
        "spark.driver.memory": driver_memory(),
        "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
        "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
        **({"spark.executor.memory": executor_memory} if executor_memory else {}),
        # Splink's comparison functions on Spark (identity's matching), from its package
        **({"spark.jars": jar} if (jar := similarity_jar()) else {}),
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


def driver_memory() -> str:
    """The driver's heap: ``SCRM_SPARK_DRIVER_MEMORY`` if set, else sized to this machine.

    On ``local[N]`` the executors live in the driver, and on a cluster the driver
    still holds what a step collects (OneID's stitching, the pandas marts), so
    Spark's 1g, or a fixed 2g, runs a 100k-person brand out of memory in OneID's
    candidate pairs on a machine that has room to spare. The default is a quarter
    of the physical memory, from 2g to 16g: the JVM takes it only as it needs it.

    Examples
    --------
    >>> driver_memory()[-1]
    'g'
    """
    given = os.environ.get("SCRM_SPARK_DRIVER_MEMORY")
    if given is not None:
        return check_memory(given, "SCRM_SPARK_DRIVER_MEMORY")
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows): Spark's floor
        return f"{DRIVER_MEMORY_GIB[0]}g"
    low, high = DRIVER_MEMORY_GIB
    return f"{min(high, max(low, ram // 4 // 2**30))}g"


#: The bounds, in GiB, of the driver heap sized to the machine (:func:`driver_memory`).
DRIVER_MEMORY_GIB = (2, 16)


def step_session(session: Any) -> Any:
    """A session of its own on ``session``'s executors: its own temporary views, the same
    SQL settings (time zone, shuffle partitions, ...), so a build's tables neither meet
    nor outlive another's in the same process.

    Examples
    --------
    >>> con = spark_backend(step_session(spark_session()))  # doctest: +SKIP
    """
    child = session.newSession()
    # newSession starts from the context's settings: those set on the session since
    # (a reused session's, a caller's) would be lost
    for key, value in session.conf.getAll.items():
        if key.startswith("spark.sql.") and session.conf.isModifiable(key):
            child.conf.set(key, value)
    return child


def on_this_machine(master: str) -> bool:
    """Whether ``master`` runs Spark on this machine only (local mode, or a standalone
    cluster whose every master is on the loopback address).

    Examples
    --------
    >>> on_this_machine("local[2]"), on_this_machine("spark://127.0.0.1:7077")
    (True, True)
    >>> on_this_machine("spark://10.0.0.5:7077")
    False
    """
    if master.startswith("local"):
        return True
    if not master.startswith("spark://"):
        return False
    hosts = [h.rsplit(":", 1)[0] for h in master.removeprefix("spark://").split(",")]
    return all(h in ("127.0.0.1", "localhost") for h in hosts)


def spark_backend(session: Any) -> Any:
    """An ibis PySpark backend on ``session``.

    Examples
    --------
    >>> con = spark_backend(spark_session())  # doctest: +SKIP
    """
    try:
        backend = _backend_class()
    except ImportError as exc:
        raise ImportError(f"the Spark engine needs PySpark; {SPARK_INSTALL_HINT}") from exc
    return backend().connect(session)


@functools.cache
def _backend_class() -> type:
    """ibis' PySpark backend, asking the session's catalog for the current database and
    catalog.

    ibis asks by ``SELECT CURRENT_DATABASE()``, a query whose collect is a Spark job,
    on every ``list_tables`` (a Spark step lists its session's tables before and after
    it runs): 156 jobs -> 119 on the value and churn parity build (tests/test_build.py).
    The catalog answers on the driver, with the same names.
    """
    import ibis

    ibis.pyspark  # noqa: B018  (ibis' loader registers the backend's options on first use)
    from ibis.backends.pyspark import Backend

    class SparkBackend(Backend):
        @property
        def current_database(self) -> str:
            return self._session.catalog.currentDatabase()

        @property
        def current_catalog(self) -> str:
            return self._session.catalog.currentCatalog()

    return SparkBackend
