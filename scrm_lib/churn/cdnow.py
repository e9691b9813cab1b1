"""The CDNOW full cohort (23,570 customers, 1997-01 .. 1998-06) as a warehouse, for the backtest.

CDNOW is real transaction data with no social signals: only the order
features carry information, which makes it the honest check of the model
against BG/NBD P(alive) on purchases alone. The file ships in the
repository (``tests/data/cdnow/CDNOW_master.txt``, see its SOURCE.md);
nothing is downloaded.

Example
-------
>>> res = cdnow_backtest()  # doctest: +SKIP
>>> res.metrics.loc[["model", "p_alive"], "roc_auc"]  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from scrm_lib.churn.config import ChurnError

DEFAULT = Path(__file__).resolve().parents[2] / "tests" / "data" / "cdnow" / "CDNOW_master.txt"


def cdnow_path(path: str | Path | None = None) -> Path:
    """The CDNOW master file: ``path``, or the copy in the repository."""
    p = Path(path) if path else DEFAULT
    if not p.exists():
        raise ChurnError(f"no CDNOW file at {p} (CDNOW_master.txt: id, YYYYMMDD, CDs, dollars)")
    return p


def cdnow_tables(
    ids: pd.Series, days: pd.Series, dollars: pd.Series
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Canonical ``orders`` and ``accounts`` from CDNOW's customer ids, days and dollars.

    Each purchase is a paid order at noon Asia/Shanghai (04:00 UTC) on its day;
    ids lose their leading zeros (``cdnow:4``), as in the published summaries.
    """
    ts = (pd.to_datetime(days) + pd.Timedelta(hours=4)).dt.tz_localize("UTC")
    ts = ts.reset_index(drop=True)
    orders = pd.DataFrame(
        {
            "platform": "cdnow",
            "order_id": [f"o{i}" for i in range(len(ts))],
            "line_id": "",
            "account_id": ("cdnow:" + ids.astype(str).str.lstrip("0")).reset_index(drop=True),
            "created_at": ts,
            "paid_at": ts,
            "amount": pd.to_numeric(dollars).reset_index(drop=True),
            "refund_amount": 0.0,
            "status": "paid",
        }
    )
    accounts = pd.DataFrame({"account_id": orders["account_id"].unique(), "platform": "cdnow"})
    return orders, accounts


def cdnow_warehouse(path: str | Path | None = None) -> Any:
    """An in-memory DuckDB warehouse with CDNOW as canonical ``accounts`` and ``orders``.

    Each purchase is an order at noon local time (Asia/Shanghai, the
    default zone) on its day; zero-dollar rows stay but are no purchase
    under the counting rules.

    Examples
    --------
    >>> con = cdnow_warehouse()  # doctest: +SKIP
    """
    import ibis

    from scrm_lib.engine import duckdb_connect
    from scrm_lib.schema import TABLES, conform

    raw = pd.read_csv(
        cdnow_path(path),
        sep=r"\s+",
        header=None,
        names=["id", "date", "cds", "dollars"],
        dtype={"id": str, "date": str},
        comment=None,
    )
    # the copy in lifetimes has a header line (customer_id date ...); the original has none
    raw = raw[raw["date"].str.fullmatch(r"\d{8}")].reset_index(drop=True)
    raw["dollars"] = pd.to_numeric(raw["dollars"])
    day = pd.to_datetime(raw["date"], format="%Y%m%d", errors="coerce")
    if day.isna().any() or raw.empty:
        raise ChurnError(f"{cdnow_path(path)}: not the CDNOW layout (id, YYYYMMDD, CDs, dollars)")
    orders, accounts = cdnow_tables(raw["id"], day, raw["dollars"])
    con = duckdb_connect()
    for name, df in (("accounts", accounts), ("orders", orders)):
        con.create_table(name, ibis.memtable(conform(df, name)).cast(TABLES[name]))
    return con


def cdnow_backtest(path: str | Path | None = None, **overrides: Any) -> Any:
    """The churn backtest on CDNOW (model vs recency vs P(alive)); ``[churn]`` overrides apply.

    Returns
    -------
    BacktestResult
        See :func:`scrm_lib.churn.backtest.backtest`.

    Examples
    --------
    >>> cdnow_backtest().metrics[["roc_auc", "calibration_in_the_large"]]  # doctest: +SKIP
    """
    import tempfile

    from scrm_lib.churn.backtest import backtest
    from scrm_lib.config import load_settings

    con = cdnow_warehouse(path)
    try:
        # no project settings apply to CDNOW: defaults only (time zone Asia/Shanghai)
        with tempfile.TemporaryDirectory() as home:
            return backtest(con, settings=load_settings(home), **overrides)
    finally:
        con.disconnect()
