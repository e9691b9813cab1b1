"""A tiny hand-made warehouse with known identity structure, and the e2e sample."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from scrm_lib.config import load_settings
from scrm_lib.schema import TABLES, empty_frame

HUB = "+8613800138000"


def make_warehouse(
    path: Path, accounts: list[str], identifiers: list[tuple[str, str, str]]
) -> Path:
    """Canonical tables (empty but for accounts and identifiers) in a DuckDB file."""
    con = duckdb.connect(str(path))
    try:
        for name in TABLES:
            con.register("_e", empty_frame(name))
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM _e")
            con.unregister("_e")
        for acc in accounts:
            con.execute(
                "INSERT INTO accounts (account_id, platform, first_seen) VALUES (?, ?, ?)",
                [acc, acc.split(":")[0], pd.Timestamp("2026-01-01", tz="UTC")],
            )
        for acc, kind, value in identifiers:
            con.execute(
                "INSERT INTO identifiers (account_id, kind, value) VALUES (?, ?, ?)",
                [acc, kind, value],
            )
    finally:
        con.close()
    return path


@pytest.fixture
def tiny(tmp_path) -> dict:
    """Persons: {wechat:a, wecom:a, youzan:a} via unionid + phone; {tmall:b} alone;
    25 tmall accounts sharing the shop test phone (a hub); a gift recipient phone."""
    hub_accounts = [f"wechat:h{i:02d}" for i in range(25)]
    accounts = ["wechat:a", "wecom:a", "youzan:+8613912345678", "tmall:b", *hub_accounts]
    ids = [
        ("wechat:a", "unionid", "U1"),
        ("wecom:a", "unionid", "U1"),
        ("wecom:a", "phone", "+8613912345678"),
        ("youzan:+8613912345678", "phone", "+8613912345678"),
        ("tmall:b", "recipient_phone", "+8613912345678"),
        *[(a, "phone", HUB) for a in hub_accounts],
    ]
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "scrm.toml").write_text(
        "[identity]\nprobabilistic = false\n", encoding="utf-8"
    )
    settings = load_settings(tmp_path / "home")
    return {
        "warehouse": make_warehouse(tmp_path / "w.duckdb", accounts, ids),
        "settings": settings,
        "hub_accounts": hub_accounts,
        "tmp": tmp_path,
    }
