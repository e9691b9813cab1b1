"""The dashboard session: an HttpOnly cookie, and a guard in front of Streamlit's HTTP routes.

Streamlit's page scripts talk to the browser over a WebSocket and cannot set
cookies, so a login kept in a cookie that scripts set (as
streamlit-authenticator does) is readable by any script in the page. Here
the server sets the cookie instead: :class:`Guard`, an ASGI middleware that
``app.py`` mounts with ``st.App``, gives each browser a random session id in an
HttpOnly, SameSite=Strict cookie (``__Host-`` prefixed and Secure over
HTTPS). A login binds that id to the user on the server (:func:`bind`); the
browser never holds anything but the opaque id.

The guard also refuses downloads (``/media/``) and uploads to a browser whose
id is not bound to a logged-in user, audits each refusal, and hides
``/_stcore/metrics`` (cache statistics and function names).
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from http.cookies import SimpleCookie

COOKIE = "scrm_session"
#: Over HTTPS: a __Host- cookie is Secure, for this host only and path /,
#: so no sibling domain or plain-HTTP page can plant one.
SECURE_COOKIE = "__Host-scrm_session"

_lock = threading.Lock()
#: id digest -> (username, expires at): logins of this server process
_bound: dict[str, tuple[str, float]] = {}
#: digests of the ids this process issued; a login binds only those, so an
#: id chosen by someone else (a planted cookie) never becomes a session
_issued: OrderedDict[str, None] = OrderedDict()
_ISSUED_MAX = 100_000


def _digest(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def issue() -> str:
    sid = secrets.token_urlsafe(32)
    with _lock:
        _issued[_digest(sid)] = None
        while len(_issued) > _ISSUED_MAX:
            _issued.popitem(last=False)
    return sid


def issued(sid: str | None) -> bool:
    return bool(sid) and _digest(sid) in _issued


def bind(sid: str | None, username: str, *, hours: float) -> bool:
    """Tie the browser's session id to a logged-in user; False when the id is not ours."""
    if not issued(sid):
        return False
    with _lock:
        _bound[_digest(sid)] = (username, time.time() + hours * 3600)
    return True


def lookup(sid: str | None) -> str | None:
    """The user logged in with this session id, or None (unknown, expired or logged out)."""
    if not sid:
        return None
    with _lock:
        entry = _bound.get(_digest(sid))
        if entry is None:
            return None
        if entry[1] < time.time():
            del _bound[_digest(sid)]
            return None
        return entry[0]


def unbind(sid: str | None) -> None:
    if sid:
        with _lock:
            _bound.pop(_digest(sid), None)


def session_id(cookies: Mapping[str, str]) -> str | None:
    """The session id among a request's cookies (the Secure one first)."""
    return cookies.get(SECURE_COOKIE) or cookies.get(COOKIE)


# ---------------------------------------------------------------- ASGI guard

#: Streamlit's own routes; every other GET is the app's HTML page
_INTERNAL = ("/_stcore/", "/static/", "/media/", "/component/", "/favicon")
_LOGGED_IN_ONLY = ("/media/", "/_stcore/upload_file")
_HIDDEN = ("/_stcore/metrics",)


def _cookies(scope) -> dict[str, str]:
    jar = SimpleCookie()
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed header counts as no cookie
                return {}
    return {k: m.value for k, m in jar.items()}


def _relative(path: str) -> str:
    from streamlit import config

    base = "/" + (config.get_option("server.baseUrlPath") or "").strip("/")
    if base != "/" and path.startswith(base):
        path = path[len(base) :] or "/"
    return path


class Guard:
    """ASGI middleware: the session cookie, logged-in-only downloads, no metrics."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = _relative(scope["path"])
        if path.startswith(_HIDDEN):
            await _plain(send, 404, "not found")
            return
        cookies = _cookies(scope)
        sid = session_id(cookies)
        if path.startswith(_LOGGED_IN_ONLY):
            if lookup(sid) is None:
                _audit_refusal(scope, path)
                await _plain(send, 403, "登录后才能下载 / Log in to download")
                return
            await self.app(scope, receive, send)
            return
        if path.startswith(_INTERNAL) or issued(sid):
            await self.app(scope, receive, send)
            return

        secure = scope.get("scheme") == "https"
        name = SECURE_COOKIE if secure else COOKIE
        cookie = f"{name}={issue()}; Path=/; HttpOnly; SameSite=Strict" + (
            "; Secure" if secure else ""
        )

        async def send_with_cookie(message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"set-cookie", cookie.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_cookie)


async def _plain(send, status: int, text: str) -> None:
    body = text.encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _audit_refusal(scope, path: str) -> None:
    from scrm_lib.access.state import record_audit

    client = (scope.get("client") or ("-",))[0]
    # the refusal stands even when the state store is busy
    with contextlib.suppress(Exception):
        record_audit("-", "download_refused", path, detail={"client": client})
