"""Login backoff and lockout (per user and per client, in the state store); the session guard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scrm_lib.access.state import read_audit, read_login_failures
from scrm_lib.access.users import LoginPolicy, add_user, attempt_login
from scrm_lib.config import load_settings
from scrm_lib.errors import ConfigError

PASSWORD = "right-password-1"
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def home(tmp_path):
    users = tmp_path / "users.yaml"
    add_user("mark", PASSWORD, role="marketer", path=users)
    add_user("vera", PASSWORD, role="viewer", path=users)
    return {"users_path": users, "state_path": tmp_path / "state.duckdb"}


def attempt(home, user, password, *, at, client="10.0.0.7", **policy):
    policy = LoginPolicy(**{"max_failures": 3, "client_max_failures": 5, "lock_minutes": 15,
                            "backoff_seconds": 0, **policy})  # fmt: skip
    return attempt_login(user, password, client=client, policy=policy, now=at, **home)


def test_the_right_password_logs_in_and_is_audited(home):
    result = attempt(home, "mark", PASSWORD, at=T0)
    assert result.ok and result.user["role"] == "marketer"
    audit = read_audit(path=home["state_path"])
    assert audit.iloc[0]["action"] == "login" and audit.iloc[0]["username"] == "mark"


def test_after_n_failures_the_user_is_locked_even_with_the_right_password(home):
    for i in range(2):
        assert attempt(home, "mark", "wrong", at=T0 + timedelta(seconds=i)).reason == "wrong"
    third = attempt(home, "mark", "wrong", at=T0 + timedelta(seconds=2))
    assert third.reason == "locked" and third.scope == "user"
    message = third.message(T0 + timedelta(seconds=2))
    assert "账号已临时锁定" in message and "Locked for 15 minutes" in message

    late = T0 + timedelta(minutes=14, seconds=30)
    refused = attempt(home, "mark", PASSWORD, at=late)
    assert not refused.ok and refused.reason == "locked"
    assert "Locked for 1 minute:" in refused.message(late)
    # another user from another address is not affected
    assert attempt(home, "vera", PASSWORD, at=T0 + timedelta(minutes=1), client="10.9.9.9").ok
    # the lock ends by itself
    assert attempt(home, "mark", PASSWORD, at=T0 + timedelta(minutes=16)).ok

    actions = read_audit(path=home["state_path"])["action"].tolist()
    assert actions.count("login_failed") == 3 and actions.count("login_locked") == 1
    assert "login_refused" in actions


def test_a_further_lock_lasts_twice_as_long(home):
    for i in range(3):
        attempt(home, "mark", "wrong", at=T0 + timedelta(seconds=i))
    later = T0 + timedelta(minutes=20)
    for i in range(2):
        attempt(home, "mark", "wrong", at=later + timedelta(seconds=i))
    second = attempt(home, "mark", "wrong", at=later + timedelta(seconds=2))
    assert second.reason == "locked"
    assert second.until == later + timedelta(seconds=2, minutes=30)


def test_a_success_clears_the_count(home):
    attempt(home, "mark", "wrong", at=T0)
    attempt(home, "mark", "wrong", at=T0 + timedelta(seconds=1))
    assert attempt(home, "mark", PASSWORD, at=T0 + timedelta(seconds=2)).ok
    assert attempt(home, "mark", "wrong", at=T0 + timedelta(seconds=3)).reason == "wrong"
    assert attempt(home, "mark", "wrong", at=T0 + timedelta(seconds=4)).reason == "wrong"


def test_one_client_guessing_many_names_is_locked(home):
    names = ["a1", "b2", "c3", "d4", "e5"]
    results = [attempt(home, n, "guess", at=T0 + timedelta(seconds=i)) for i, n in enumerate(names)]
    assert [r.reason for r in results] == ["wrong"] * 4 + ["locked"]
    assert results[-1].scope == "client" and "此地址已临时锁定" in results[-1].message(T0)
    # a real user from that address waits too; from elsewhere they get in
    assert attempt(home, "vera", PASSWORD, at=T0 + timedelta(minutes=1)).reason == "locked"
    assert attempt(home, "vera", PASSWORD, at=T0 + timedelta(minutes=1), client="10.1.1.1").ok


def test_backoff_grows_and_refuses_without_checking_the_password(home):
    slow = {"backoff_seconds": 2, "max_failures": 10}
    attempt(home, "mark", "wrong", at=T0, **slow)  # next try after 2 s
    early = attempt(home, "mark", PASSWORD, at=T0 + timedelta(seconds=1), **slow)
    assert early.reason == "wait" and "Wait 1 s" in early.message(T0 + timedelta(seconds=1))
    attempt(home, "mark", "wrong", at=T0 + timedelta(seconds=2), **slow)  # next after 4 s
    assert attempt(home, "mark", PASSWORD, at=T0 + timedelta(seconds=5), **slow).reason == "wait"
    assert attempt(home, "mark", PASSWORD, at=T0 + timedelta(seconds=6), **slow).ok


def test_unknown_users_and_counters_live_in_the_state_store(home):
    assert attempt(home, "ghost", PASSWORD, at=T0).reason == "wrong"
    rows = read_login_failures([("user", "ghost"), ("client", "10.0.0.7")], path=home["state_path"])
    assert (
        rows[("user", "ghost")]["failures"] == 1 and rows[("client", "10.0.0.7")]["failures"] == 1
    )


def test_policy_from_settings_and_bad_values(tmp_path, monkeypatch):
    (tmp_path / "scrm.toml").write_text("login_max_failures = 4\nlogin_lock_minutes = 0.5\n")
    monkeypatch.setenv("SCRM_LOGIN_BACKOFF_SECONDS", "0")
    policy = LoginPolicy.from_settings(load_settings(tmp_path))
    assert (policy.max_failures, policy.lock_minutes, policy.backoff_seconds) == (4, 0.5, 0.0)
    monkeypatch.setenv("SCRM_LOGIN_MAX_FAILURES", "many")
    with pytest.raises(ConfigError, match="login_max_failures"):
        load_settings(tmp_path)


def _call(scope_extra: dict, cookie: str | None = None) -> tuple[int, dict]:
    """One HTTP request through dashboard.session.Guard in front of an app that answers 200."""
    import asyncio

    from dashboard.session import Guard

    async def inner(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    sent = []

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "http.request", "body": b""}

    headers = [(b"cookie", cookie.encode())] if cookie else []
    scope = {"type": "http", "path": "/", "scheme": "http", "headers": headers,
             "client": ("10.0.0.7", 5000), **scope_extra}  # fmt: skip
    asyncio.run(Guard(inner)(scope, receive, send))
    start = sent[0]
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}


def test_the_session_cookie_is_set_by_the_server_httponly_and_secure_over_https(
    tmp_path, monkeypatch
):
    from dashboard import session

    monkeypatch.setenv("SCRM_STATE_DB", str(tmp_path / "state.duckdb"))
    status, headers = _call({})
    assert status == 200
    assert headers["set-cookie"].startswith("scrm_session=")
    assert "HttpOnly" in headers["set-cookie"] and "SameSite=Strict" in headers["set-cookie"]
    assert "Secure" not in headers["set-cookie"]
    _, tls = _call({"scheme": "https"})
    assert tls["set-cookie"].startswith("__Host-scrm_session=") and "; Secure" in tls["set-cookie"]

    sid = headers["set-cookie"].split(";")[0].split("=", 1)[1]
    media = {"path": "/media/abc.csv"}
    assert _call(media, f"scrm_session={sid}")[0] == 403  # a browser, nobody logged in
    assert not session.bind("planted-id", "mark", hours=1)  # ids the server never issued
    assert session.bind(sid, "mark", hours=1)
    assert _call(media, f"scrm_session={sid}")[0] == 200
    session.unbind(sid)
    assert _call(media, f"scrm_session={sid}")[0] == 403
    assert _call({"path": "/_stcore/metrics"})[0] == 404
    assert (read_audit()["action"] == "download_refused").sum() == 2
