"""Login, roles and the signed-in user. Pages run only after app.py logged someone in.

The password is checked by :func:`scrm_lib.access.users.attempt_login`, which locks
a user or a client address after repeated failures (counters in the state
store) and audits every outcome. The login lives on the server: in the
Streamlit session, and bound to the browser's HttpOnly session cookie
(:mod:`dashboard.session`), so a reload in the same browser stays logged in
while no script in the page can read anything that would log someone else in.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from dashboard import session
from scrm_lib import load_settings
from scrm_lib.access.privacy import can
from scrm_lib.access.users import attempt_login, load_users_file

#: what a login leaves in st.session_state (the keys pages and tests rely on)
_KEYS = ("authentication_status", "username", "name", "roles")


@dataclass(frozen=True)
class User:
    username: str
    name: str
    role: str

    def can(self, action: str) -> bool:
        return can(self.role, action)


def _session_id() -> str | None:
    try:
        sid = session.session_id(st.context.cookies)
    except Exception:  # no browser behind this run (AppTest)
        return None
    return sid if isinstance(sid, str) else None


def _client() -> str:
    try:
        ip = st.context.ip_address
    except Exception:  # no browser behind this run (AppTest)
        return "local"
    # None on localhost: every local browser counts as one client
    return ip if isinstance(ip, str) and ip else "local"


def _remember(username: str, entry: dict) -> None:
    st.session_state["authentication_status"] = True
    st.session_state["username"] = username
    st.session_state["name"] = entry.get("name", username)
    st.session_state["roles"] = list(entry.get("roles") or ["viewer"])


def _forget() -> None:
    for key in (*_KEYS, "user"):
        st.session_state.pop(key, None)


def login() -> User | None:
    """Show the login form until a user from the users file signs in; return that user."""
    settings = load_settings()
    users = load_users_file(settings.users_file)["credentials"]["usernames"]
    if not users:
        st.error("还没有用户 / No users yet: create one with `scrm users add NAME --role admin`.")
        return None
    sid = _session_id()
    if not st.session_state.get("authentication_status"):
        known = session.lookup(sid)
        if known in users:  # a reload in a browser that logged in
            _remember(known, users[known])

    if st.session_state.get("authentication_status"):
        username = st.session_state.get("username")
        entry = users.get(username)
        if entry is None:  # removed from the file while logged in
            session.unbind(sid)
            _forget()
            return None
        return User(username, entry.get("name", username), (entry.get("roles") or ["viewer"])[0])

    with st.form("login"):
        st.subheader("登录 / Log in")
        username = st.text_input("Username", autocomplete="username")
        password = st.text_input("Password", type="password", autocomplete="current-password")
        submitted = st.form_submit_button("登录 Log in")
    if submitted:
        result = attempt_login(username, password, client=_client())
        if not result.ok:
            st.error(result.message())
            return None
        name = result.user["username"]
        _remember(name, users.get(name) or result.user)
        session.bind(sid, name, hours=settings.session_hours)
        st.rerun()
    return None


def logout_button() -> None:
    if st.sidebar.button("退出 / Log out", key="scrm_logout"):
        session.unbind(_session_id())
        _forget()
        st.rerun()


def current_user() -> User:
    """The signed-in user (pages run only after app.py logged someone in)."""
    return st.session_state["user"]
