"""Dashboard users: a YAML file of bcrypt-hashed passwords and roles.

The file keeps streamlit-authenticator's credentials format (and its
``cookie`` section, unused by the dashboard, whose login is bound to an
HttpOnly cookie on the server: docs/security.md). :func:`attempt_login`
checks a password with backoff and a temporary lockout per user and per
client address, counted in the state store.

Example
-------
>>> add_user("alice", "s3cret-pass", role="marketer", path=tmp / "users.yaml")  # doctest: +SKIP
>>> list_users(path=tmp / "users.yaml")  # doctest: +SKIP
[{'username': 'alice', 'name': 'alice', 'role': 'marketer'}]
"""

from __future__ import annotations

import math
import os
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from scrm_lib.access.privacy import check_role
from scrm_lib.access.state import read_login_failures, record_audit, write_login_failures
from scrm_lib.config import load_settings
from scrm_lib.errors import ConfigError
from scrm_lib.files import atomic_path

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
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=True)
    with atomic_path(p) as tmp:
        # owner-only before the password hashes and the cookie key are in it
        os.chmod(tmp, 0o600)
        tmp.write_text(text, encoding="utf-8")


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


# ---------------------------------------------------------------- login with lockout

#: Hash checked when the user name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = b"$2b$12$0KitfQfnekm3tTm2b6F0ZO6Jh.X.7M2rHw/w8Poh2tn8yHcRWuYhO"
_BACKOFF_CAP_SECONDS = 60.0
_LOCK_CAP = timedelta(hours=24)
_lock = threading.Lock()


@dataclass(frozen=True)
class LoginPolicy:
    """When repeated failures slow down and then lock a user or a client address.

    After the n-th failure in a row the next try waits ``backoff_seconds *
    2**(n-1)`` (at most a minute); at ``max_failures`` the user, at
    ``client_max_failures`` the client address (shared by many people behind
    one office router, hence the higher count) is locked for ``lock_minutes``,
    twice as long for each further lock within a day. A success clears the
    user's count; a client's count clears when a lock ends or after a quiet
    ``lock_minutes``.
    """

    max_failures: int = 5
    client_max_failures: int = 20
    lock_minutes: float = 15.0
    backoff_seconds: float = 1.0

    @classmethod
    def from_settings(cls, settings=None) -> LoginPolicy:
        s = settings or load_settings()
        return cls(
            max_failures=s.login_max_failures,
            client_max_failures=s.login_client_max_failures,
            lock_minutes=s.login_lock_minutes,
            backoff_seconds=s.login_backoff_seconds,
        )

    def backoff(self, failures: int) -> timedelta:
        if failures <= 0 or self.backoff_seconds <= 0:
            return timedelta(0)
        return timedelta(
            seconds=min(self.backoff_seconds * 2 ** (failures - 1), _BACKOFF_CAP_SECONDS)
        )

    def lock_length(self, locks: int) -> timedelta:
        return min(timedelta(minutes=self.lock_minutes) * 2 ** max(locks - 1, 0), _LOCK_CAP)


@dataclass(frozen=True)
class LoginResult:
    """What a login attempt gave: ``ok`` with the user, or why not and until when."""

    ok: bool
    #: "ok", "wrong" (user name or password), "locked" (user or client), "wait" (backoff)
    reason: str
    user: dict | None = None
    #: "user" or "client" for a lock or a wait
    scope: str | None = None
    until: datetime | None = None

    def seconds_left(self, now: datetime | None = None) -> float:
        if self.until is None:
            return 0.0
        return max((self.until - (now or datetime.now(UTC))).total_seconds(), 0.0)

    def message(self, now: datetime | None = None) -> str:
        """A bilingual message for the login form."""
        left = self.seconds_left(now)
        if self.reason == "locked":
            minutes = max(math.ceil(left / 60), 1)
            who = "账号" if self.scope == "user" else "此地址"
            return (
                f"{who}已临时锁定，请 {minutes} 分钟后再试 / Locked for {minutes} "
                f"minute{'s' if minutes != 1 else ''}: too many failed logins"
            )
        if self.reason == "wait":
            seconds = max(math.ceil(left), 1)
            return f"请 {seconds} 秒后再试 / Wait {seconds} s before trying again"
        if self.reason == "wrong":
            return "用户名或密码错误 / Wrong username or password"
        return ""


def attempt_login(
    username: str,
    password: str,
    *,
    client: str | None = None,
    policy: LoginPolicy | None = None,
    now: datetime | None = None,
    users_path: str | Path | None = None,
    state_path: Path | None = None,
) -> LoginResult:
    """Check a password unless the user or the client is locked or must wait; audit the outcome.

    Locked and waiting attempts are refused without looking at the password, so
    guessing on during a lock tells nothing. Counters live in the state store
    (:func:`scrm_lib.access.state.read_login_failures`), shared by every session and process.

    Example
    -------
    >>> attempt_login("mark", "wrong", client="10.0.0.7").reason  # doctest: +SKIP
    'wrong'
    """
    import bcrypt

    policy = policy or LoginPolicy.from_settings()
    now = now or datetime.now(UTC)
    username = username.strip()[:64]
    keys = [("user", username), ("client", client or "unknown")]
    limits = {"user": policy.max_failures, "client": policy.client_max_failures}

    def audit(action: str, detail: dict) -> None:
        record_audit(
            username or "-", action, "login", detail={"client": client, **detail}, path=state_path
        )

    with _lock:
        rows = read_login_failures(keys, path=state_path)
        for key in keys:
            row = rows.get(key)
            if row is None:
                continue
            if row["locked_until"] is not None and row["locked_until"] > now:
                audit("login_refused", {"locked": key[0], "until": row["locked_until"].isoformat()})
                return LoginResult(False, "locked", scope=key[0], until=row["locked_until"])
            # the wait slows guessing at one name; a client is only locked, as many
            # people may share its address
            if key[0] == "user" and row["last_failure"] is not None and row["locked_until"] is None:
                ready = row["last_failure"] + policy.backoff(row["failures"])
                if ready > now:
                    return LoginResult(False, "wait", scope=key[0], until=ready)

        user = load_users_file(users_path)["credentials"]["usernames"].get(username)
        hashed = (user or {}).get("password", "").encode() or _DUMMY_HASH
        try:
            good = bcrypt.checkpw(password.encode(), hashed) and user is not None
        except ValueError:  # not a bcrypt hash
            good = False

        if good:
            rows_out = {("user", username): None}
            write_login_failures(rows_out, path=state_path)
            role = (user.get("roles") or ["viewer"])[0]
            record_audit(
                username, "login", "login", role=role, detail={"client": client}, path=state_path
            )
            return LoginResult(True, "ok", user={"username": username, **user, "role": role})

        updated, locked = {}, None
        for key in keys:
            row = rows.get(key) or {
                "failures": 0,
                "last_failure": None,
                "locked_until": None,
                "locks": 0,
            }
            stale = row["last_failure"] is None or now - row["last_failure"] > max(
                timedelta(minutes=policy.lock_minutes), policy.backoff(row["failures"])
            )
            # a count starts again after a served lock or a quiet spell
            failures = 0 if row["locked_until"] is not None or stale else row["failures"]
            locks = row["locks"]
            if row["last_failure"] is not None and now - row["last_failure"] > timedelta(days=1):
                locks = 0
            failures += 1
            until = None
            if limits[key[0]] and failures >= limits[key[0]]:
                locks += 1
                until = now + policy.lock_length(locks)
                locked = locked or (key[0], until)
            updated[key] = {
                "failures": 0 if until else failures,
                "last_failure": now,
                "locked_until": until,
                "locks": locks,
            }
        write_login_failures(updated, path=state_path)
        audit("login_failed", {"failures": updated[keys[0]]["failures"]})
        if locked:
            audit("login_locked", {"scope": locked[0], "until": locked[1].isoformat()})
            return LoginResult(False, "locked", scope=locked[0], until=locked[1])
        return LoginResult(False, "wrong")
