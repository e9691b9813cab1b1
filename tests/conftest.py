"""Shared fixtures: an ibis backend per engine, Spark started once and only when asked for.

``backend`` is parametrized over ``duckdb`` and ``pyspark``; the Spark case
carries the ``spark`` marker (deselect with ``-m "not spark"``) and is
skipped, with the reason, only when PySpark or Java is missing.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
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


@pytest.fixture(scope="session")
def spark_session() -> Iterator[Any]:
    """One local Spark session for the whole run (start-up costs ~8 s)."""
    reason = spark_unavailable()
    if reason:
        pytest.skip(reason)
    from scrm_lib.engine import spark_session as start

    session = start(app_name="scrm-tests", master="local[2]", shuffle_partitions=1)
    yield session
    session.stop()


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
