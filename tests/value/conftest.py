"""Hand-made warehouses for the value tests, on either engine."""

from __future__ import annotations

from typing import Any

import ibis
import pandas as pd
import pytest

from scrm_lib.config import load_settings
from scrm_lib.engine import duckdb_connect, register_arrow
from scrm_lib.schema import TABLES, conform


def put(con: Any, table: str, rows: list[dict] | pd.DataFrame) -> None:
    """Write canonical rows of ``table`` to ``con`` (typed by DuckDB, handed over as Arrow)."""
    df = conform(pd.DataFrame(rows), table)
    schema = TABLES.get(table)
    typer = duckdb_connect()
    try:
        expr = ibis.memtable(df)
        data = typer.to_pyarrow(expr.cast(schema) if schema is not None else expr)
    finally:
        typer.disconnect()
    register_arrow(con, table, data)


def order(acc: str, oid: str, ts: str, amount: float, *, refund: float = 0.0,
          status: str = "paid", line: str = "", category: str | None = None,
          platform: str = "tmall") -> dict:  # fmt: skip
    return {
        "platform": platform,
        "order_id": oid,
        "line_id": line,
        "account_id": acc,
        "created_at": ts,
        "paid_at": ts if status != "cancelled" else None,
        "amount": amount,
        "refund_amount": refund,
        "status": status,
        "category": category,
    }


@pytest.fixture
def settings(tmp_path):
    """Settings with no scrm.toml: every [value] default applies; Asia/Shanghai days."""
    return load_settings(tmp_path)


@pytest.fixture
def duck():
    con = duckdb_connect()
    yield con
    con.disconnect()
