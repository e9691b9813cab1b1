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
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from scrm_lib.config import load_settings
from scrm_lib.engine import Runner
from scrm_lib.engine.connect import state_store

REFUSED_COLUMNS = ["file", "name", "sha256", "reason", "refused_at"]
LOGIN_COLUMNS = ["scope", "key", "failures", "last_failure", "locked_until", "locks"]


def connect(path: Path | None = None) -> Any:
    """Open the state store read-write (created on first use); close it soon after.

    Modules that keep their own user-authored tables here (identity
    overrides, saved segments) create them with ``CREATE TABLE IF NOT EXISTS``.
    """
    return state_store(Path(path) if path is not None else load_settings().state_db)


def _runner(con: Any) -> Runner:
    return Runner(con, label="state")


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
        _runner(con).query(
            "state.add_audit",
            {
                "audit_id": audit_id,
                "ts": datetime.now(UTC),
                "username": username,
                "role": role,
                "action": action,
                "what": what,
                "rows": rows,
                "build_id": build_id,
                "detail": json.dumps(detail or {}, ensure_ascii=False),
            },
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
        return _runner(con).df("state.audit", {"limit": int(limit)})
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
        runner = _runner(con)
        with runner.transaction():
            runner.query("state.forget_refused_file", {"file": str(file)})
            runner.query(
                "state.add_refused",
                {
                    "file": str(file),
                    "name": Path(file).name,
                    "sha256": sha256,
                    "reason": reason,
                    "refused_at": datetime.now(UTC),
                },
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
        _runner(con).query(
            "state.forget_refused",
            {"names": list(names or []), "sha256s": list(sha256s or [])},
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
        return _runner(con).df("state.refused")
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
        rows = _runner(con).rows(
            "state.login_failures", {"keys": [f"{scope}\0{key}" for scope, key in keys]}
        )
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
        runner = _runner(con)
        with runner.transaction():
            for (scope, key), row in rows.items():
                runner.query("state.forget_login_failures", {"scope": scope, "key": key})
                if row is not None:
                    runner.query(
                        "state.add_login_failures",
                        {"scope": scope, "key": key, **{c: row[c] for c in LOGIN_COLUMNS[2:]}},
                    )
    finally:
        con.close()


def _utc(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)
