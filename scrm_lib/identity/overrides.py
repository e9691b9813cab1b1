"""Manual overrides in the state store: never-link and force-link pairs, account splits.

The warehouse is rebuilt from raw files; what an admin decided is not, so
overrides live in the state store (:func:`scrm_lib.access.state.connect`) and every
rebuild reads them. Each override is also written to the audit log.

- ``never_link (a, b)``: ``a`` and ``b`` must not be one person; the build
  drops their direct edges and, if another path still joins them, detaches
  ``b`` from the person (keeping force-links).
- ``force_link (a, b)``: ``a`` and ``b`` are one person whatever the evidence.
- ``split (a)``: ``a`` leaves its person (every edge of ``a`` is dropped).

Example
-------
>>> add_override("split", "tmall:x", reason="two people", username="ann", path=p)  # doctest: +SKIP
>>> read_overrides(path=p)["action"].tolist()  # doctest: +SKIP
['split']
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import pandas as pd

from scrm_lib.access.state import connect, record_audit
from scrm_lib.errors import ScrmError
from scrm_lib.identity._engine import runner

Action = Literal["never_link", "force_link", "split"]
ACTIONS = ("never_link", "force_link", "split")
COLUMNS = ["override_id", "action", "account_a", "account_b", "reason", "username", "ts"]


def _now() -> datetime:
    return datetime.now(UTC)


def add_override(
    action: Action,
    account_a: str,
    account_b: str | None = None,
    *,
    reason: str,
    username: str,
    role: str | None = None,
    path: Path | None = None,
) -> str:
    """Record an override (and an audit row); it takes effect at the next build.

    Parameters
    ----------
    action
        ``never_link``, ``force_link`` (both need ``account_b``) or ``split``.
    account_a, account_b
        Account ids (``<platform>:<native id>``).
    reason, username
        Why and who: required, shown by ``scrm identity explain``.
    path
        State store (default: the configured one).

    Returns
    -------
    str
        The override id.
    """
    if action not in ACTIONS:
        raise ScrmError(f"override action {action!r} is not one of {', '.join(ACTIONS)}")
    if not account_a or ":" not in account_a:
        raise ScrmError(f"account id {account_a!r} is not <platform>:<native id>")
    if action == "split":
        if account_b:
            raise ScrmError("split takes one account, not a pair")
    elif not account_b or ":" not in account_b:
        raise ScrmError(f"{action} needs a second account id, got {account_b!r}")
    elif account_a == account_b:
        raise ScrmError(f"{action}: the two accounts are the same ({account_a!r})")
    if not reason or not reason.strip():
        raise ScrmError("an override needs a reason")
    if not username:
        raise ScrmError("an override needs a username")
    override_id = uuid.uuid4().hex
    con = connect(path)
    try:
        state = runner(con)
        state.query("identity.overrides_table")
        row = {
            "override_id": override_id,
            "action": action,
            "account_a": account_a,
            "account_b": account_b,
            "reason": reason.strip(),
            "username": username,
            "ts": _now(),
        }
        state.query("identity.add_override", row, table="identity_overrides")
    finally:
        con.close()
    record_audit(
        username,
        f"identity_{action}",
        account_a if action == "split" else f"{account_a} {account_b}",
        role=role,
        detail={"override_id": override_id, "reason": reason.strip()},
        path=path,
    )
    return override_id


def read_overrides(*, path: Path | None = None) -> pd.DataFrame:
    """Every override, oldest first (an empty frame when there are none)."""
    con = connect(path)
    try:
        state = runner(con)
        state.query("identity.overrides_table")
        return state.df("identity.overrides")
    finally:
        con.close()
