"""A Python function over a table's rows, where the rows are (scrm_lib.engine.map_batches).

On Spark the function must run in the executors' Python workers, not on the driver:
churn scoring applies its model this way. The function reports the process it ran in.
"""

from __future__ import annotations

import os
from typing import Any

import ibis
import pandas as pd
import pytest

from scrm_lib.engine import map_batches
from tests.conftest import CLUSTER_WITH_SLOW

SCHEMA = ibis.schema({"k": "string", "y": "float64", "pid": "int64"})
ROWS = pd.DataFrame({"k": [f"p{i:03d}" for i in range(300)], "x": [i / 7 for i in range(300)]})


def _square_where_run(batch: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"k": batch["k"], "y": batch["x"] ** 2, "pid": os.getpid()})


def _expected() -> pd.DataFrame:
    return pd.DataFrame({"k": ROWS["k"], "y": ROWS["x"] ** 2})


def test_on_duckdb_the_function_sees_every_row_here() -> None:
    from scrm_lib.engine import duckdb_connect

    con = duckdb_connect()
    table = con.create_table("rows", ROWS)
    got = map_batches(con, table, _square_where_run, SCHEMA)
    pd.testing.assert_frame_equal(got[["k", "y"]], _expected())
    assert set(got["pid"]) == {os.getpid()}


@pytest.mark.spark
@CLUSTER_WITH_SLOW
def test_on_spark_the_executors_run_it_and_only_its_results_come_back(spark_target: Any) -> None:
    from scrm_lib.engine import register_arrow, spark_backend

    con = spark_backend(spark_target.session)
    import pyarrow as pa

    table = register_arrow(con, "map_batches_rows", pa.Table.from_pandas(ROWS)).limit(1000)
    # several partitions, so several batches: the results must still be every row once
    table = table.mutate(x=table.x + 0)
    got = map_batches(con, table, _square_where_run, SCHEMA)
    got = got.sort_values("k").reset_index(drop=True)
    pd.testing.assert_frame_equal(got[["k", "y"]], _expected(), check_dtype=False)
    assert os.getpid() not in set(got["pid"])
    spark_target.check_distributed()


@pytest.mark.spark
@pytest.mark.parametrize("spark_target_name", ["local"], scope="session")
def test_an_error_in_the_function_is_one_line_naming_the_step(spark_target: Any) -> None:
    from scrm_lib.engine import register_arrow, spark_backend
    from scrm_lib.errors import WarehouseError

    con = spark_backend(spark_target.session)
    import pyarrow as pa

    table = register_arrow(con, "map_batches_bad", pa.Table.from_pandas(ROWS))

    def broken(batch: pd.DataFrame) -> pd.DataFrame:
        raise ValueError("no model for these rows")

    with pytest.raises(WarehouseError, match=r"^spark: scoring: ") as err:
        map_batches(con, table, broken, SCHEMA, step="scoring")
    assert "\n" not in str(err.value), err.value
    assert "ValueError: no model for these rows" in str(err.value), err.value
