"""Dashboard pages under Streamlit's AppTest, opened as a signed-in user."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")


def open_page(page: str, user: str, role: str, *, timeout: float = 120) -> AppTest:
    """Run the app as ``user`` with ``role`` signed in, switch to ``page``, and run it."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    # what the login form leaves in the session after a login
    for key, value in {"authentication_status": True, "username": user, "name": user,
                       "roles": [role], "logout": None}.items():  # fmt: skip
        at.session_state[key] = value
    at.run()
    at.switch_page(page)
    return at.run()


def open_titled(page: str, title: str, user: str = "mark", role: str = "marketer") -> AppTest:
    """:func:`open_page`, then check the page ran without an exception and shows ``title``."""
    at = open_page(page, user, role)
    assert not at.exception, at.exception
    assert title in [t.value for t in at.title]
    return at


#: The page tests' users, all with this password.
USERS = (("vera", "viewer"), ("mark", "marketer"), ("ada", "admin"))
PASSWORD = "demo-pass-123"


def page_home(built_sample: dict, tmp_path_factory: Any, name: str) -> dict:
    """A home of its own for a page's tests: the sample's settings, a copy of its warehouse
    (the tests may change it) and a viewer, a marketer and an admin."""
    from scrm_lib.access.users import add_user

    home = tmp_path_factory.mktemp(name)
    if (built_sample["home"] / "scrm.toml").exists():
        shutil.copy(built_sample["home"] / "scrm.toml", home / "scrm.toml")
    wh = home / "data/warehouse/scrm.duckdb"
    wh.parent.mkdir(parents=True)
    shutil.copy(built_sample["warehouse"], wh)
    users = home / "users.yaml"
    for user, role in USERS:
        add_user(user, PASSWORD, role=role, path=users)
    return {"home": home, "warehouse": wh, "users": users}


def use_home(project: dict, monkeypatch: Any) -> dict:
    """Point the app at ``project`` (a :func:`page_home`) for one test."""
    monkeypatch.delenv("SCRM_LANGUAGE", raising=False)
    monkeypatch.setenv("SCRM_HOME", str(project["home"]))
    monkeypatch.setenv("SCRM_USERS_FILE", str(project["users"]))
    monkeypatch.setenv("SCRM_STATE_DB", str(project["home"] / "state.duckdb"))
    monkeypatch.setenv("SCRM_WAREHOUSE", str(project["warehouse"]))
    return project


def sql(project: dict, query: str, *params: Any) -> list[tuple]:
    """Rows of ``query`` on the project's warehouse (read-only)."""
    import duckdb

    with duckdb.connect(str(project["warehouse"]), read_only=True) as con:
        return con.execute(query, list(params)).fetchall()


def shown(at: AppTest) -> str:
    """Everything a page puts on screen: tables as CSV, every other element as text."""
    from google.protobuf import text_format

    parts = [df.value.astype(str).to_csv() for df in at.dataframe]
    stack = [at._tree]
    while stack:
        node = stack.pop()
        proto = getattr(node, "proto", None)
        if proto is not None and getattr(node, "type", "") != "arrow_data_frame":
            parts.append(text_format.MessageToString(proto, as_utf8=True))
        children = getattr(node, "children", {})
        stack.extend(children.values() if isinstance(children, dict) else children)
    return "\n".join(parts)
