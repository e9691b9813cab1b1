"""Identity readers take a warehouse: a path, an ibis or DuckDB connection, or a runner.

Every identity query runs through the engine boundary (:class:`scrm_lib.engine.Runner`
on named statements), whatever the caller holds; Splink's database API comes from
the engine too.
"""

from __future__ import annotations

import shutil

import duckdb
import pytest

from scrm_lib.engine import Runner, open_warehouse
from scrm_lib.engine.splink import registered, scratch_duckdb, splink_db_api
from scrm_lib.errors import ScrmError
from scrm_lib.identity import ledger, views
from scrm_lib.identity.evaluate import stage_report
from scrm_lib.identity.person360 import timeline
from scrm_lib.identity.step import run
from scrm_lib.warehouse.steps import StepContext


def _built(tiny):
    from scrm_lib.engine import duckdb_connect

    path = tiny["tmp"] / "built.duckdb"
    shutil.copy(tiny["warehouse"], path)
    con = duckdb_connect(path)
    run(StepContext(con, tiny["settings"], "b1"))
    con.disconnect()
    return path


def _answers(warehouse):
    return {
        "summary": views.summary(warehouse),
        "recognition": views.recognition(warehouse).to_dict(orient="records"),
        "hubs": views.hubs(warehouse).to_dict(orient="records"),
        "explain": ledger.explain(warehouse, "wecom:a"),
        "stages": stage_report(warehouse),
        "timeline": len(timeline("wecom:a", warehouse=warehouse)),
        "missing": views.missing_tables(warehouse),
    }


def test_readers_give_one_answer_whatever_the_warehouse_is(tiny):
    path = _built(tiny)
    by_path = _answers(path)
    assert by_path["summary"]["persons"] == 27 and by_path["missing"] == []
    assert _answers(str(path)) == by_path
    ibis_con = open_warehouse(path)
    try:
        assert _answers(ibis_con) == by_path
        assert _answers(Runner(ibis_con, label="test")) == by_path
    finally:
        ibis_con.disconnect()
    raw = duckdb.connect(str(path), read_only=True)
    try:
        assert _answers(raw) == by_path
    finally:
        raw.close()


def test_engine_errors_name_the_statement(tiny):
    # a warehouse without the identity tables: a one-line error, not an engine traceback
    with pytest.raises(ScrmError, match="rebuild with `scrm build`"):
        views.summary(tiny["warehouse"])
    con = duckdb.connect()
    try:
        with pytest.raises(ScrmError, match=r"identity: identity_views\.person"):
            Runner(con, label="identity").df("identity_views.person", {"pid": "P1"})
    finally:
        con.close()


def test_registered_frames_are_gone_after_the_block():
    import pandas as pd

    with scratch_duckdb("200MB") as db:
        with registered(Runner(db), "_frame", pd.DataFrame({"x": [1, 2, 3]})):
            assert db.execute("SELECT sum(x) FROM _frame").fetchone()[0] == 6
        with pytest.raises(duckdb.CatalogException):
            db.execute("SELECT * FROM _frame")


def test_splink_database_api_follows_the_engine(backend):
    expected = {"duckdb": "DuckDBAPI", "pyspark": "SparkAPI"}[backend.name]
    assert type(splink_db_api(backend)).__name__ == expected
    assert type(splink_db_api(Runner(backend))).__name__ == expected
