"""Dashboard pages under Streamlit's AppTest, opened as a signed-in user."""

from __future__ import annotations

from pathlib import Path

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
