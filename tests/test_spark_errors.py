"""A Spark that has died (a JVM out of memory) is named in one line, and the cleanup after
a failed step does not replace that line with a traceback; the driver's heap is sized to
the machine unless set, and a bad setting is one line."""

from __future__ import annotations

from types import SimpleNamespace

import duckdb
import pytest

from scrm_lib.engine import spark
from scrm_lib.engine.bridge import SparkBridge
from scrm_lib.engine.runner import first_line
from scrm_lib.engine.spark import driver_memory
from scrm_lib.errors import ConfigError, WarehouseError
from scrm_lib.warehouse.steps import _engine_errors


class _DeadCatalog:
    def listTables(self):
        raise RuntimeError("An error occurred while calling o473.listTables.\n: NPE")


def test_closing_the_bridge_on_a_dead_session_does_not_raise(caplog):
    bridge = SparkBridge.__new__(SparkBridge)
    bridge._con = SimpleNamespace(_session=SimpleNamespace(catalog=_DeadCatalog()))
    bridge.close()
    assert bridge._con is None
    assert "o473.listTables" in caplog.text


def test_out_of_memory_is_named_in_the_first_line():
    exc = RuntimeError(
        "An error occurred while calling o2081.localCheckpoint.\n"
        ": org.apache.spark.SparkException: Job aborted due to stage failure: "
        "java.lang.OutOfMemoryError: Java heap space"
    )
    line = first_line(exc)
    assert "\n" not in line
    assert line.startswith("An error occurred while calling o2081.localCheckpoint.")
    assert "out of memory" in line and "SCRM_SPARK_DRIVER_MEMORY" in line


def test_other_errors_keep_their_first_line():
    assert first_line(ValueError("bad value\nmore")) == "bad value"


def test_a_bad_driver_memory_setting_is_one_line_naming_it(monkeypatch):
    monkeypatch.setenv("SCRM_SPARK_DRIVER_MEMORY", "lots")
    with pytest.raises(ConfigError, match=r"^SCRM_SPARK_DRIVER_MEMORY 'lots' is not a Spark"):
        driver_memory()


@pytest.mark.parametrize(("ram_gib", "heap"), [(4, "2g"), (23.5, "5g"), (32, "8g"), (256, "16g")])
def test_the_driver_heap_is_a_quarter_of_the_machine_within_bounds(monkeypatch, ram_gib, heap):
    monkeypatch.delenv("SCRM_SPARK_DRIVER_MEMORY", raising=False)
    pages = {"SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": int(ram_gib * 2**30 / 4096)}
    monkeypatch.setattr(spark.os, "sysconf", pages.__getitem__)
    assert driver_memory() == heap


def test_a_given_driver_memory_wins(monkeypatch):
    monkeypatch.setenv("SCRM_SPARK_DRIVER_MEMORY", " 3G ")
    assert driver_memory() == "3g"


def test_an_executor_out_of_memory_is_named_too():
    exc = RuntimeError(
        "An error occurred while calling o3162.getResult.\n"
        ": org.apache.spark.SparkException: Job aborted due to stage failure: Task 0 in "
        "stage 2917.0 failed 4 times: org.apache.spark.memory.SparkOutOfMemoryError: "
        "[UNABLE_TO_ACQUIRE_MEMORY] Unable to acquire 262144 bytes of memory, got 65536."
    )
    line = first_line(exc)
    assert "\n" not in line and "SparkOutOfMemoryError" in line and "--executor-memory" in line


class Py4JJavaError(Exception):
    """Stands in for py4j's: what a Spark job's failure reaches Python as."""


Py4JJavaError.__module__ = "py4j.protocol"


def test_an_engine_error_in_a_build_step_is_one_line_naming_the_step():
    with pytest.raises(WarehouseError) as info, _engine_errors("channels", "pyspark"):
        raise Py4JJavaError("An error occurred while calling o3162.getResult.\n: trace")
    assert str(info.value) == (
        "build step channels on pyspark: An error occurred while calling o3162.getResult."
    )
    missing = r"^build step value on duckdb: Catalog Error"
    with pytest.raises(WarehouseError, match=missing), _engine_errors("value", "duckdb"):
        duckdb.connect().execute("SELECT * FROM no_such_table")


def test_a_defect_in_a_step_keeps_its_traceback():
    with pytest.raises(KeyError), _engine_errors("value", "duckdb"):
        raise KeyError("person_id")
