"""Shared fixtures: an ibis backend per engine, Spark started once and only when asked for.

``backend`` is parametrized over ``duckdb`` and ``pyspark``; the Spark case
carries the ``spark`` marker (deselect with ``-m "not spark"``) and is
skipped, with the reason, only when PySpark or Java is missing.

Spark runs in two places: ``local[2]`` inside the test process, and a
standalone cluster (a master and two workers on 127.0.0.1, :mod:`tests.spark_cluster`)
whose executors are other processes. ``spark_target`` is parametrized over both.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import ibis
import pandas as pd
import pytest

from scrm_lib.schema import TABLES, conform
from scrm_lib.warehouse.canonical import FILE_SEQ, ROW

StageFn = Callable[[str, Sequence[tuple[int, pd.DataFrame]]], Any]


def spark_unavailable() -> str | None:
    """Why Spark cannot run here, or None when it can."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (install with: uv sync --extra spark)"
    java_home = os.environ.get("JAVA_HOME")
    if shutil.which("java") is None and not (java_home and os.path.exists(java_home)):
        return "java is not on PATH (Spark needs Java 17: apt-get install openjdk-17-jre-headless)"
    return None


LOCAL_MASTER = "local[2]"

#: The test cluster: two workers of 2 cores and 1g each. Two cores (of a 2-core
#: machine) so that two test processes (pytest-xdist) can each hold one 1-core
#: executor on every worker at once.
CLUSTER_SIZE = {"workers": 2, "cores": 2, "memory": "1g"}

#: The tests' Spark JVMs (this process's driver, which runs local[2]'s tasks too, and the
#: cluster's executors): the client compiler only, since on tables of a few hundred rows
#: the server compiler's optimized code never pays for its compiling (on the value and
#: churn parity build its compiler threads took 58 of the driver's 102 CPU-seconds, 5 with
#: the client compiler alone), and the serial collector for heaps this small. Spark's
#: UTC default (scrm_lib.engine.spark_session) is kept.
TEST_JVM_OPTIONS = "-Duser.timezone=UTC -XX:+UseSerialGC -XX:TieredStopAtLevel=1"

#: An application on the test cluster: one 1-core executor per worker (two in all),
#: small and quick to start.
CLUSTER_CONF = {
    "spark.cores.max": "2",
    "spark.executor.cores": "1",
    "spark.executor.memory": "512m",
    "spark.executor.extraJavaOptions": TEST_JVM_OPTIONS,
}


class SparkSessions:
    """The one Spark session of this test process, moved between masters on demand.

    PySpark allows one active SparkContext per Python process, and
    ``SparkSession.builder.getOrCreate()`` hands back the running session
    whatever master it is asked for. So the sessions are not separate
    session-scoped fixtures (the second would silently be the first): this
    object owns the process's session and, asked for another master, stops the
    running one before starting the next. The JVM stays up, so a switch costs
    about a second, not the JVM's start. Tests that compare masters use the
    parametrized ``spark_target``, whose session-scoped parameter makes pytest
    run every local test first and every cluster test after, so a test process
    switches once.
    """

    def __init__(self) -> None:
        self.session: Any = None

    def get(self, master: str, conf: dict[str, str] | None = None) -> Any:
        """The running session when its master is ``master``; else a new one on ``master``."""
        from pyspark import SparkContext

        from scrm_lib.engine import spark_session as start

        running = SparkContext._active_spark_context
        if running is not None and running.master == master and self.session is not None:
            return self.session
        self.stop()
        if SparkContext._active_spark_context is not None:  # started outside this object
            SparkContext._active_spark_context.stop()
        # One shuffle partition and no adaptive execution: the tests' tables have a few
        # hundred rows. A build's steps then run a sixth faster than with the 200
        # partitions adaptive execution merges, and a seventh faster again without its
        # stages each run as a job of their own (135 jobs -> 86 on the value and churn
        # parity build). A build uses Spark's own settings; the Spark tests pass with them.
        # The driver's JVM options count only when this starts the process's JVM (the
        # first session), which every Spark test's session does through this object.
        conf = {
            "spark.sql.adaptive.enabled": "false",
            "spark.driver.extraJavaOptions": TEST_JVM_OPTIONS,
            **(conf or {}),
        }
        self.session = start(app_name="scrm-tests", master=master, shuffle_partitions=1, conf=conf)
        return self.session

    def stop(self) -> None:
        if self.session is not None:
            self.session.stop()
            self.session = None


@pytest.fixture(scope="session")
def spark_sessions() -> Iterator[SparkSessions]:
    """The process's :class:`SparkSessions`; skipped when PySpark or Java is missing."""
    reason = spark_unavailable()
    if reason:
        pytest.skip(reason)
    sessions = SparkSessions()
    yield sessions
    sessions.stop()


@pytest.fixture
def spark_session(spark_sessions: SparkSessions) -> Any:
    """The local Spark session (``local[2]``), started once per run (~8 s on a quiet machine).

    Function-scoped over the session-scoped :class:`SparkSessions`, so a test
    never holds a session that a cluster test has stopped.
    """
    return spark_sessions.get(LOCAL_MASTER)


#: Under the run's base temporary folder: the cluster the xdist workers share.
SHARED_CLUSTER = "spark-cluster"


@pytest.fixture(scope="session")
def spark_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A standalone Spark cluster (a master and two workers, :data:`CLUSTER_SIZE`) for the run.

    Started when a test first asks for it (about 10 s on a quiet 2-core
    machine), stopped with every daemon and executor at the end of the run,
    also when tests fail; its logs are in the run's temporary folder
    (``spark-cluster*/logs``). Under pytest-xdist the workers share one
    cluster (the first to ask starts it, under a file lock) and the
    controller stops it when the run ends (:func:`pytest_sessionfinish`).
    """
    reason = spark_unavailable()
    if reason:
        pytest.skip(reason)
    from tests.spark_cluster import StandaloneCluster, shared_cluster

    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = tmp_path_factory.getbasetemp().parent / SHARED_CLUSTER
        yield shared_cluster(root, **CLUSTER_SIZE)
        return
    cluster = StandaloneCluster(tmp_path_factory.mktemp(SHARED_CLUSTER), **CLUSTER_SIZE)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


#: Fixtures that copy the shared built sample (:func:`tests.sample_project.sample_home`).
SAMPLE_FIXTURES = frozenset({"built_sample", "ab_sample"})
_warming: list[Any] = []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The files that need the built sample run last, while it is built beside the others.

    Every worker sorts the same way (xdist requires one order), and with
    ``--dist loadfile`` files are handed out in this order: the workers first run
    the files that need no sample while one background process builds it
    (:func:`tests.sample_project.start_warming`), instead of one worker building
    it while the other waits on the cache's lock.
    """
    needs = {item.path for item in items if SAMPLE_FIXTURES & set(item.fixturenames)}
    if not needs:
        return
    items.sort(key=lambda item: item.path in needs)  # stable: each file keeps its order
    if os.environ.get("PYTEST_XDIST_WORKER", "gw0") == "gw0" and not config.option.collectonly:
        from tests.sample_project import start_warming

        if (proc := start_warming()) is not None:
            _warming.append(proc)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Stop a sample build nobody waited for; in the xdist controller, after every
    worker is done, stop the shared cluster."""
    for proc in _warming:
        if proc.poll() is None:  # killed mid-build: the next run starts the sample again
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if hasattr(session.config, "workerinput"):
        return  # a worker: others may still use the cluster
    base = getattr(getattr(session.config, "_tmp_path_factory", None), "_basetemp", None)
    if base is not None and (base / SHARED_CLUSTER).is_dir():
        from tests.spark_cluster import stop_shared

        stop_shared(base / SHARED_CLUSTER)


@pytest.fixture
def spark_cluster_session(spark_sessions: SparkSessions, spark_cluster: Any) -> Any:
    """A Spark session whose master is the standalone cluster, with both executors up.

    The cluster is session-scoped (started once); the session is the process's
    one (:class:`SparkSessions`), handed out per test for the reason given there.
    """
    from tests.spark_cluster import wait_for_executors

    session = spark_sessions.get(spark_cluster.master_url, CLUSTER_CONF)
    wait_for_executors(session, spark_cluster.workers)
    return session


@dataclass(frozen=True)
class SparkTarget:
    """Where a parity test runs Spark: ``local`` (local[2]) or ``cluster`` (standalone)."""

    name: str
    session: Any
    cluster: Any = None

    @property
    def master(self) -> str:
        return self.session.sparkContext.master

    def check_distributed(self) -> None:
        """On the cluster: tasks ran in both workers' executors, processes other than this
        one (each worker's process group holds the executors it started)."""
        if self.cluster is None:
            return
        from tests.spark_cluster import executor_count, task_processes

        assert executor_count(self.session) >= 2
        ran = task_processes(self.session)
        executors = {jvm for _, jvm, _ in ran}
        assert len(executors) >= 2 and os.getpid() not in {pid for pid, _, _ in ran}, ran
        # every executor JVM was started by one of the cluster's workers, and both worked
        assert {group for _, _, group in ran} == set(self.cluster.pids()[1:]), ran


@pytest.fixture(scope="session", params=["local", "cluster"])
def spark_target_name(request: pytest.FixtureRequest) -> str:
    # session-scoped, so pytest groups the tests by it: local ones first, then the cluster
    return request.param


#: For a parity test whose cluster run adds little to the build's own (test_build.py):
#: local[2] in the default suite, the cluster with the slow tests (the default suite's
#: 8-minute budget; each cluster case costs about a minute on two busy cores).
CLUSTER_WITH_SLOW = pytest.mark.parametrize(
    "spark_target_name",
    ["local", pytest.param("cluster", marks=pytest.mark.slow)],
    scope="session",
)


#: For the build parity test: the standalone cluster in the default suite (executors in
#: other processes, the stronger check; the transform parity tests cover local[2] there),
#: local[2] with the slow tests.
LOCAL_WITH_SLOW = pytest.mark.parametrize(
    "spark_target_name",
    [pytest.param("local", marks=pytest.mark.slow), "cluster"],
    scope="session",
)


@pytest.fixture
def spark_target(
    spark_target_name: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> SparkTarget:
    """A Spark session on ``local[2]``, then (a second run of the test) on the standalone
    cluster; ``SCRM_SPARK_MASTER`` names it, so a build in the test runs there too."""
    if spark_target_name == "local":
        target = SparkTarget("local", request.getfixturevalue("spark_session"))
    else:
        target = SparkTarget(
            "cluster",
            request.getfixturevalue("spark_cluster_session"),
            request.getfixturevalue("spark_cluster"),
        )
    monkeypatch.setenv("SCRM_SPARK_MASTER", target.master)
    return target


# each unit test on Spark costs a job start per statement; the default suite keeps Spark's
# whole-table equality tests (test_transform.py, test_build.py) and runs these under `slow`
@pytest.fixture(
    params=["duckdb", pytest.param("pyspark", marks=[pytest.mark.spark, pytest.mark.slow])]
)
def backend(request: pytest.FixtureRequest) -> Iterator[Any]:
    """An ibis backend: in-memory DuckDB, or PySpark local[2] on the shared session."""
    if request.param == "duckdb":
        from scrm_lib.engine import duckdb_connect

        con = duckdb_connect()
        yield con
        con.disconnect()
    else:
        from scrm_lib.engine import spark_backend

        yield spark_backend(request.getfixturevalue("spark_session"))


_names = itertools.count()


def stage_on(con: Any, table: str, frames: Sequence[tuple[int, pd.DataFrame]]) -> Any:
    """A stage table on ``con``: canonical rows of ``table`` from (file_seq, frame) pairs.

    The frames are conformed and typed by DuckDB, the way a build stages them,
    then handed to ``con`` as Arrow, so both engines start from identical input.
    """
    from scrm_lib.engine import duckdb_connect, register_arrow

    schema = ibis.schema({**TABLES[table], FILE_SEQ: "int64", ROW: "int64"})
    parts = []
    for seq, frame in frames:
        df = conform(frame, table)
        df[FILE_SEQ] = seq
        df[ROW] = range(len(df))
        parts.append(df)
    df = pd.concat(parts, ignore_index=True) if parts else conform(pd.DataFrame(), table)
    if df.empty:
        df[FILE_SEQ] = pd.Series(dtype="Int64")
        df[ROW] = pd.Series(dtype="Int64")
    typer = duckdb_connect()
    try:
        data = typer.to_pyarrow(ibis.memtable(df).cast(schema))
    finally:
        typer.disconnect()
    return register_arrow(con, f"stage_{table}_{next(_names)}", data)


@pytest.fixture
def stage(backend: Any) -> StageFn:
    """``stage(table, [(file_seq, frame), ...])`` -> stage table on the test's backend."""
    return lambda table, frames: stage_on(backend, table, frames)


@pytest.fixture(autouse=True)
def _parse_cache_per_test(request: pytest.FixtureRequest, tmp_path_factory, monkeypatch) -> None:
    """Each test its own parse cache, parsed in-process (the e2e tests run the CLI as is)."""
    if "e2e" in request.node.path.parts:
        return
    monkeypatch.setenv("SCRM_CACHE_DIR", str(tmp_path_factory.mktemp("parse-cache")))
    monkeypatch.setenv("SCRM_WORKERS", "1")


@pytest.fixture(autouse=True)
def _keep_main_module() -> Iterator[None]:
    """Restore ``__main__`` after each test: Streamlit's AppTest swaps in the page script,
    and a process pool started later would re-run that script in every worker."""
    import sys

    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main


@pytest.fixture(scope="session")
def built_sample(tmp_path_factory) -> dict:
    """A small generated sample, ingested and built through the CLI.

    Built the way ``make demo`` builds (``scrm build --train-churn``): the churn
    model is trained on the sample and the build scores with it, so every test
    sees a demo-like warehouse with ``churn_scores`` and a model in the home.
    """
    from tests.sample_project import PERSONS, SEED, sample_home

    return sample_home(tmp_path_factory, PERSONS, SEED, train_churn=True)
