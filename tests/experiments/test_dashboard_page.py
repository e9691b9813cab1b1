"""The Experiments page under AppTest: SRM first, lifts, power calculator; no exception."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from scrm_lib.access.users import add_user

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


@pytest.fixture
def page(tmp_path, monkeypatch):
    users = tmp_path / "users.yaml"
    add_user("mark", "demo-pass-123", role="marketer", path=users)
    monkeypatch.setenv("SCRM_USERS_FILE", str(users))
    monkeypatch.setenv("SCRM_STATE_DB", str(tmp_path / "state.duckdb"))

    def open_page(warehouse: Path) -> AppTest:
        monkeypatch.setenv("SCRM_WAREHOUSE", str(warehouse))
        at = AppTest.from_file(APP, default_timeout=120)
        at.session_state["authentication_status"] = True
        at.session_state["username"] = "mark"
        at.session_state["name"] = "mark"
        at.session_state["roles"] = ["marketer"]
        at.session_state["logout"] = None
        at.run()
        at.switch_page("views/experiments.py")
        return at.run()

    return open_page


def test_page_without_a_warehouse_says_what_to_do(page, tmp_path):
    at = page(tmp_path / "missing.duckdb")
    assert not at.exception
    assert any("scrm build" in w.value for w in at.warning)


def test_page_on_the_sample_shows_srm_first_and_power(page, ab_sample):
    at = page(ab_sample["warehouse"])
    assert not at.exception, at.exception
    assert "实验 / Experiments" in [t.value for t in at.title]
    headers = [h.value for h in at.subheader]
    assert headers[0].startswith("样本比例")  # SRM status comes first
    assert any("功效计算" in h for h in headers)
    assert any(m.label.startswith("每组样本量") for m in at.metric)
