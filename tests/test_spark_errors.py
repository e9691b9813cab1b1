"""A Spark that has died (a JVM out of memory) is named in one line, and the cleanup after
a failed step does not replace that line with a traceback."""

from __future__ import annotations

from types import SimpleNamespace

from scrm_lib.engine.bridge import SparkBridge
from scrm_lib.engine.runner import first_line


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
