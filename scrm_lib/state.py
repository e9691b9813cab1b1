"""User-authored state that must survive rebuilds: the audit log (and later overrides, segments).

The warehouse is rebuilt from raw files and replaced on every build; what
people do (exports, admin edits) is not derivable from raw files, so it
lives in its own small DuckDB file. Each call opens, writes and closes, so
the write lock is held for milliseconds and several processes (dashboard,
CLI) can take turns.

Example
-------
>>> record_audit("alice", "export", "rejects.csv", rows=12, path=tmp / "s.duckdb")  # doctest: +SKIP
>>> read_audit(path=tmp / "s.duckdb").iloc[0]["action"]  # doctest: +SKIP
'export'
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from scrm_lib.config import load_settings
from scrm_lib.errors import WarehouseError

_AUDIT_DDL = """
CREATE TABLE IF NOT EXISTS audit (
    audit_id VARCHAR PRIMARY KEY,
    ts TIMESTAMPTZ NOT NULL,
    username VARCHAR NOT NULL,
    role VARCHAR,
    action VARCHAR NOT NULL,
    what VARCHAR NOT NULL,
    rows BIGINT,
    build_id VARCHAR,
    detail VARCHAR
)
"""


def connect(path: Path | None = None) -> duckdb.DuckDBPyConnection:
    """Open the state store read-write (created on first use); close it soon after.

    Modules that keep their own user-authored tables here (identity
    overrides, saved segments) create them with ``CREATE TABLE IF NOT EXISTS``.
    """
    path = Path(path) if path is not None else load_settings().state_db
    path.parent.mkdir(parents=True, exist_ok=True)
    # another process may hold the write lock for a moment: retry briefly
    for attempt in range(50):
        try:
            con = duckdb.connect(str(path))
            break
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or attempt == 49:
                raise WarehouseError(f"{path}: cannot open the state store ({exc})") from None
            time.sleep(0.1)
    con.execute(_AUDIT_DDL)
    return con


def record_audit(
    username: str,
    action: str,
    what: str,
    *,
    rows: int | None = None,
    role: str | None = None,
    build_id: str | None = None,
    detail: dict | None = None,
    path: Path | None = None,
) -> str:
    """Append one audit row (who, when, what, how many rows) and return its id."""
    audit_id = uuid.uuid4().hex
    con = connect(path)
    try:
        con.execute(
            "INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                audit_id,
                datetime.now(UTC),
                username,
                role,
                action,
                what,
                rows,
                build_id,
                json.dumps(detail or {}, ensure_ascii=False),
            ],
        )
    finally:
        con.close()
    return audit_id


def read_audit(*, limit: int = 1000, path: Path | None = None) -> pd.DataFrame:
    """The newest audit rows first."""
    p = Path(path) if path is not None else load_settings().state_db
    if not p.exists():
        return pd.DataFrame(
            columns=["audit_id", "ts", "username", "role", "action", "what", "rows", "build_id"]
        )
    con = connect(p)
    try:
        return con.execute("SELECT * FROM audit ORDER BY ts DESC LIMIT ?", [int(limit)]).df()
    finally:
        con.close()
