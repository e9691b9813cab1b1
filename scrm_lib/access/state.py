"""State that must survive rebuilds: the audit log, files ingest refused (and overrides, segments).

The warehouse is rebuilt from raw files and replaced on every build; what
people do (exports, admin edits) is not derivable from raw files, and a file
``scrm ingest`` refused never reaches the raw area, so both live in their
own small DuckDB file. Each call opens, writes and closes, so
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


_REFUSED_DDL = """
CREATE TABLE IF NOT EXISTS refused_files (
    file VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    sha256 VARCHAR,
    reason VARCHAR NOT NULL,
    refused_at TIMESTAMPTZ NOT NULL
)
"""
REFUSED_COLUMNS = ["file", "name", "sha256", "reason", "refused_at"]

# Failed dashboard logins, per user name and per client address: kept here, not in the
# browser, so a new session or a cleared cookie does not reset them.
_LOGIN_DDL = """
CREATE TABLE IF NOT EXISTS login_failures (
    scope VARCHAR NOT NULL,
    key VARCHAR NOT NULL,
    failures INTEGER NOT NULL,
    last_failure TIMESTAMPTZ,
    locked_until TIMESTAMPTZ,
    locks INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
)
"""
LOGIN_COLUMNS = ["scope", "key", "failures", "last_failure", "locked_until", "locks"]


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
    con.execute(_REFUSED_DDL)
    con.execute(_LOGIN_DDL)
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


def record_refused(
    file: str | Path, reason: str, *, sha256: str | None = None, path: Path | None = None
) -> None:
    """Remember a file ``scrm ingest`` refused (it is not in the raw area), replacing older news.

    Example
    -------
    >>> record_refused("x.csv", "matches no preset", path=tmp / "s.duckdb")  # doctest: +SKIP
    """
    con = connect(path)
    try:
        con.execute("DELETE FROM refused_files WHERE file = ?", [str(file)])
        con.execute(
            "INSERT INTO refused_files VALUES (?, ?, ?, ?, ?)",
            [str(file), Path(file).name, sha256, reason, datetime.now(UTC)],
        )
    finally:
        con.close()


def clear_refused(
    *, names: list[str] | None = None, sha256s: list[str] | None = None, path: Path | None = None
) -> None:
    """Forget refusals of files since accepted: by file name or by content."""
    p = Path(path) if path is not None else load_settings().state_db
    if not p.exists() or not (names or sha256s):
        return
    con = connect(p)
    try:
        con.execute(
            "DELETE FROM refused_files WHERE list_contains(?, name) OR list_contains(?, sha256)",
            [list(names or []), list(sha256s or [])],
        )
    finally:
        con.close()


def read_refused(*, path: Path | None = None) -> pd.DataFrame:
    """Files ``scrm ingest`` refused and nothing has replaced yet, newest first.

    Returns
    -------
    pandas.DataFrame
        ``file`` (as given to ingest), ``name``, ``sha256``, ``reason``, ``refused_at``.

    Example
    -------
    >>> read_refused(path=tmp / "s.duckdb")[["name", "reason"]]  # doctest: +SKIP
       name             reason
    0  x.csv  matches no preset
    """
    p = Path(path) if path is not None else load_settings().state_db
    if not p.exists():
        return pd.DataFrame(columns=REFUSED_COLUMNS)
    con = connect(p)
    try:
        return con.execute(
            f"SELECT {', '.join(REFUSED_COLUMNS)} FROM refused_files ORDER BY refused_at DESC"
        ).df()
    finally:
        con.close()


def read_login_failures(keys: list[tuple[str, str]], *, path: Path | None = None) -> dict:
    """Failed-login counters for ``(scope, key)`` pairs (scope ``user`` or ``client``).

    Returns
    -------
    dict
        ``(scope, key) -> {"failures", "last_failure", "locked_until", "locks"}``;
        pairs never seen are missing. Times are timezone-aware UTC.
    """
    con = connect(path)
    try:
        # epoch seconds: fetching TIMESTAMPTZ as Python objects would need pytz
        rows = con.execute(
            "SELECT scope, key, failures, epoch(last_failure), epoch(locked_until), locks "
            "FROM login_failures WHERE list_contains(?, scope || chr(0) || key)",
            [[f"{scope}\0{key}" for scope, key in keys]],
        ).fetchall()
    finally:
        con.close()
    out = {}
    for scope, key, failures, last, locked, locks in rows:
        out[(scope, key)] = {
            "failures": failures,
            "last_failure": _utc(last),
            "locked_until": _utc(locked),
            "locks": locks,
        }
    return out


def write_login_failures(rows: dict, *, path: Path | None = None) -> None:
    """Store counters (as :func:`read_login_failures` returns them); ``None`` forgets a pair."""
    con = connect(path)
    try:
        con.execute("BEGIN")
        for (scope, key), row in rows.items():
            con.execute("DELETE FROM login_failures WHERE scope = ? AND key = ?", [scope, key])
            if row is not None:
                con.execute(
                    "INSERT INTO login_failures VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        scope,
                        key,
                        row["failures"],
                        row["last_failure"],
                        row["locked_until"],
                        row["locks"],
                    ],
                )
        con.execute("COMMIT")
    finally:
        con.close()


def _utc(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)
