"""Dashboard users: a YAML file of bcrypt-hashed passwords and roles.

The file is the credentials format of streamlit-authenticator (which logs
users in on the dashboard) plus a ``cookie`` section with the signing key.

Example
-------
>>> add_user("alice", "s3cret-pass", role="marketer", path=tmp / "users.yaml")  # doctest: +SKIP
>>> list_users(path=tmp / "users.yaml")  # doctest: +SKIP
[{'username': 'alice', 'name': 'alice', 'role': 'marketer'}]
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

import yaml

from scrm_lib.config import load_settings
from scrm_lib.errors import ConfigError
from scrm_lib.privacy import check_role

_USERNAME = re.compile(r"^[A-Za-z0-9_.-]{2,64}$")


def _path(path: str | Path | None) -> Path:
    return Path(path) if path is not None else load_settings().users_file


def load_users_file(path: str | Path | None = None) -> dict:
    """The whole file (credentials + cookie), creating an empty one with a fresh cookie key."""
    p = _path(path)
    if p.exists():
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{p}: not valid YAML ({exc})".splitlines()[0]) from None
    else:
        data = {}
    data.setdefault("credentials", {}).setdefault("usernames", {})
    cookie = data.setdefault("cookie", {})
    cookie.setdefault("name", "scrm_auth")
    cookie.setdefault("expiry_days", 7)
    # streamlit-authenticator signs its cookie with this key: 32+ random bytes
    cookie.setdefault("key", os.environ.get("SCRM_COOKIE_KEY") or secrets.token_hex(32))
    return data


def _save(data: dict, path: str | Path | None) -> None:
    p = _path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=True), encoding="utf-8")
    os.chmod(tmp, 0o600)
    tmp.replace(p)


def add_user(
    username: str,
    password: str,
    *,
    role: str = "viewer",
    name: str | None = None,
    email: str | None = None,
    path: str | Path | None = None,
) -> dict:
    """Add or update a user with a bcrypt-hashed password and one role."""
    # bcrypt directly: the same hash streamlit-authenticator checks, without importing streamlit
    import bcrypt

    if not _USERNAME.match(username):
        raise ConfigError(f"username {username!r}: use 2-64 letters, digits, '_', '.' or '-'")
    if len(password) < 8:
        raise ConfigError(f"password for {username!r} is too short (8 characters at least)")
    check_role(role)
    data = load_users_file(path)
    data["credentials"]["usernames"][username] = {
        "name": name or username,
        "email": email or f"{username}@example.invalid",
        "password": bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode(),
        "roles": [role],
    }
    _save(data, path)
    return {"username": username, "name": name or username, "role": role}


def remove_user(username: str, *, path: str | Path | None = None) -> None:
    """Remove a user; an unknown name is an error."""
    data = load_users_file(path)
    if data["credentials"]["usernames"].pop(username, None) is None:
        raise ConfigError(f"no user {username!r} in {_path(path)}")
    _save(data, path)


def list_users(*, path: str | Path | None = None) -> list[dict]:
    """Users with their role (never their hash)."""
    users = load_users_file(path)["credentials"]["usernames"]
    return [
        {"username": u, "name": v.get("name", u), "role": (v.get("roles") or ["viewer"])[0]}
        for u, v in sorted(users.items())
    ]


def role_of(username: str | None, *, path: str | Path | None = None) -> str | None:
    """The role of a user, or None when unknown."""
    if not username:
        return None
    user = load_users_file(path)["credentials"]["usernames"].get(username)
    return (user.get("roles") or ["viewer"])[0] if user else None
