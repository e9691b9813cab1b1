"""Login, roles and the signed-in user. Pages run only after app.py logged someone in."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from scrm_lib import load_settings
from scrm_lib.privacy import can
from scrm_lib.users import load_users_file


@dataclass(frozen=True)
class User:
    username: str
    name: str
    role: str

    def can(self, action: str) -> bool:
        return can(self.role, action)


def login() -> User | None:
    """Show the login form until a user from the users file signs in; return that user."""
    import streamlit_authenticator as stauth

    data = load_users_file(load_settings().users_file)
    if not data["credentials"]["usernames"]:
        st.error("还没有用户 / No users yet: create one with `scrm users add NAME --role admin`.")
        return None
    cookie = data["cookie"]
    auth = stauth.Authenticate(
        data["credentials"],
        cookie["name"],
        cookie["key"],
        cookie["expiry_days"],
        auto_hash=False,
        login_sleep_time=0.1,
    )
    st.session_state["_authenticator"] = auth
    if not st.session_state.get("authentication_status"):
        auth.login(location="main", fields={"Form name": "登录 / Log in", "Login": "登录 Log in"})
    status = st.session_state.get("authentication_status")
    if status is False:
        st.error("用户名或密码错误 / Wrong username or password")
    if not status:
        return None
    username = st.session_state.get("username")
    user = data["credentials"]["usernames"].get(username)
    if user is None:  # removed from the file while logged in
        return None
    return User(username, user.get("name", username), (user.get("roles") or ["viewer"])[0])


def logout_button() -> None:
    auth = st.session_state.get("_authenticator")
    if auth is not None:
        auth.logout("退出 / Log out", location="sidebar")


def current_user() -> User:
    """The signed-in user (pages run only after app.py logged someone in)."""
    return st.session_state["user"]
