"""Dashboard pages under Streamlit's AppTest: login, roles, every page runs without an exception."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from scrm_lib.access.state import read_audit
from scrm_lib.access.users import add_user

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
PASSWORD = "demo-pass-123"


@pytest.fixture
def users(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "users.yaml"
    for name, role in (("vera", "viewer"), ("mark", "marketer"), ("ada", "admin")):
        add_user(name, PASSWORD, role=role, path=path)
    monkeypatch.setenv("SCRM_USERS_FILE", str(path))
    monkeypatch.setenv("SCRM_STATE_DB", str(tmp_path / "state.duckdb"))
    return path


def app(monkeypatch, warehouse: Path, user: str | None = None, role: str = "viewer") -> AppTest:
    monkeypatch.setenv("SCRM_WAREHOUSE", str(warehouse))
    at = AppTest.from_file(APP, default_timeout=60)
    if user is not None:  # what the login form leaves in the session after a login
        at.session_state["authentication_status"] = True
        at.session_state["username"] = user
        at.session_state["name"] = user
        at.session_state["roles"] = [role]
        at.session_state["logout"] = None
    return at.run()


def page_titles(at: AppTest) -> list[str]:
    return [t.value for t in at.title]


def test_no_users_file_says_how_to_create_one(tmp_path, monkeypatch):
    monkeypatch.setenv("SCRM_USERS_FILE", str(tmp_path / "none.yaml"))
    at = app(monkeypatch, tmp_path / "wh.duckdb")
    assert not at.exception
    assert any("scrm users add" in e.value for e in at.error)


def test_login_form_then_wrong_password(users, tmp_path, monkeypatch):
    at = app(monkeypatch, tmp_path / "wh.duckdb")
    assert not at.exception
    assert len(at.text_input) == 2 and not at.title
    at.text_input[0].input("vera")
    at.text_input[1].input("not-the-password")
    at.button[0].click().run()
    assert any("Wrong username or password" in e.value for e in at.error)
    assert not at.title


def test_login_with_the_right_password_opens_the_overview(users, tmp_path, monkeypatch):
    at = app(monkeypatch, tmp_path / "wh.duckdb")
    at.text_input[0].input("vera")
    at.text_input[1].input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception
    assert "数据概览 / Data overview" in page_titles(at)


def test_without_a_warehouse_the_page_says_what_to_do(users, tmp_path, monkeypatch):
    at = app(monkeypatch, tmp_path / "missing.duckdb", user="vera")
    assert not at.exception
    assert any("scrm build" in w.value for w in at.warning)


def test_overview_shows_the_build(users, built_sample, monkeypatch):
    at = app(monkeypatch, built_sample["warehouse"], user="vera")
    assert not at.exception and not at.warning
    tiles = {m.label: m.value for m in at.metric}
    assert int(tiles["账号 / Accounts"].replace(",", "")) > 0
    with duckdb.connect(str(built_sample["warehouse"]), read_only=True) as con:
        (build_id,) = con.sql("select build_id from builds order by finished_at desc").fetchone()
    assert build_id in " ".join(c.value for c in at.sidebar.caption)


def test_audit_page_is_for_admins_only(users, tmp_path, monkeypatch):
    admin = app(monkeypatch, tmp_path / "wh.duckdb", user="ada", role="admin")
    admin.switch_page("views/audit.py").run()
    assert not admin.exception
    assert "审计日志 / Audit log" in page_titles(admin)
    viewer = app(monkeypatch, tmp_path / "wh.duckdb", user="vera")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        viewer.switch_page("views/audit.py")


def test_data_health_page_for_each_role(users, built_sample, monkeypatch):
    """A viewer sees masked aggregates with no export and no unmask; an admin gets both."""
    viewer = app(monkeypatch, built_sample["warehouse"], user="vera")
    viewer.switch_page("views/data_health.py").run()
    assert not viewer.exception
    assert "数据健康 / Data health" in page_titles(viewer)
    assert len(viewer.dataframe) >= 3
    assert not viewer.toggle  # no unmask for viewers
    assert any("Export needs" in c.value for c in viewer.caption)

    admin = app(monkeypatch, built_sample["warehouse"], user="ada", role="admin")
    admin.switch_page("views/data_health.py").run()
    assert not admin.exception
    assert admin.toggle  # admins may unmask
    admin.toggle[0].set_value(True).run()
    assert not admin.exception
    audit = read_audit()
    assert (audit["action"] == "unmask").any() and audit.iloc[0]["username"] == "ada"


def test_reports_page_lists_runs(users, tmp_path, monkeypatch):
    monkeypatch.setenv("SCRM_REPORTS_DIR", str(tmp_path / "reports"))
    at = app(monkeypatch, tmp_path / "wh.duckdb", user="vera")
    at.switch_page("views/reports.py").run()
    assert not at.exception
    assert any("scrm report run" in i.value for i in at.info)


# ---------------------------------------------------------------- the marketer's language

#: every page the dashboard offers, read from app.py (PAGES lives inside its main())
PAGES = re.findall(r'"(views/\w+\.py)"', Path(APP).read_text(encoding="utf-8"))
SNAKE = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)+$")


def shown_headers(at: AppTest) -> list[str]:
    """Table headers, metric labels and chart axis, legend and hover field names on the page."""
    heads = [str(c) for df in at.dataframe for c in df.value.columns]
    heads += [m.label for m in at.metric]
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        layout = spec.get("layout", {})
        for key, part in layout.items():
            if re.match(r"^([xy]axis\d*|legend)$", key) and isinstance(part, dict):
                heads.append(((part.get("title") or {}).get("text")) or "")
        for trace in spec.get("data", []):
            for field in (trace.get("hovertemplate") or "").split("<br>"):
                heads.append(re.split(r"=|: ", field)[0])
    return [h for h in heads if h]


def test_no_page_shows_a_raw_column_header(users, built_sample, monkeypatch):
    """Every page, as an admin on the built sample, in Chinese: no snake_case and no machine
    column name as a header; nothing shown that the catalogue lacks; times in Beijing time."""
    from scrm_lib import labels
    from scrm_lib.segments import definitions as segments

    monkeypatch.delenv("SCRM_LANGUAGE", raising=False)
    segments.save_segment(
        "vips", [{"column": "rfm_segment", "op": "in", "value": ["champions"]}],
        author="ada", role="admin", warehouse=built_sample["warehouse"],
    )  # fmt: skip
    machine = set(labels.catalogue()["columns"])
    labels.reset_missing()
    assert len(PAGES) >= 9
    for page in PAGES:
        at = app(monkeypatch, built_sample["warehouse"], user="ada", role="admin")
        at.switch_page(page).run()
        if page.endswith("customer_360.py"):
            at.text_input(key="c360_search").input("张").run()
            assert len(at.dataframe) >= 3, "the search found no one: the page shows no table"
        assert not at.exception, (page, at.exception)
        heads = shown_headers(at)
        raw = [h for h in heads if SNAKE.match(h) or h in machine]
        assert not raw, (page, raw)
        for chart in at.get("plotly_chart"):
            hover = " ".join(
                t.get("hovertemplate") or "" for t in json.loads(chart.proto.spec)["data"]
            )
            assert "id=" not in hover and "parent=" not in hover, page
        placeholders = [m.proto.placeholder for m in at.multiselect]
        assert all(p == "请选择" for p in placeholders), (page, placeholders)
    assert labels.missing() == [], "add these to scrm_lib/labels.toml"

    # the sidebar's build time is Beijing time (UTC+8), like every time shown
    with duckdb.connect(str(built_sample["warehouse"]), read_only=True) as con:
        (finished,) = con.sql("select max(finished_at)::varchar from builds").fetchone()
    beijing = (
        pd.Timestamp(finished.replace("+00", "+00:00"))
        .tz_convert("Asia/Shanghai")
        .strftime("%Y-%m-%d %H:%M:%S")
    )
    assert any(beijing in c.value for c in at.sidebar.caption), beijing
