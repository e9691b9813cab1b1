"""Every dashboard page runs without an exception (Streamlit AppTest), with and without data."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


def run_app(monkeypatch, warehouse: Path) -> AppTest:
    monkeypatch.setenv("SCRM_WAREHOUSE", str(warehouse))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    return at


def test_without_a_warehouse_the_page_says_what_to_do(tmp_path, monkeypatch):
    at = run_app(monkeypatch, tmp_path / "missing.duckdb")
    assert not at.exception
    assert any("scrm build" in w.value for w in at.warning)


@pytest.mark.usefixtures("built_sample")
def test_overview_shows_the_build(monkeypatch, built_sample):
    at = run_app(monkeypatch, built_sample["warehouse"])
    assert not at.exception
    assert not at.warning
    labels = [m.label for m in at.metric]
    assert any("Accounts" in label for label in labels)
    accounts = next(m for m in at.metric if "Accounts" in m.label)
    assert int(accounts.value.replace(",", "")) > 0
