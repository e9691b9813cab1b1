"""Login hardening in a real browser (Chromium through Playwright).

One dashboard server over the session's sample warehouse, with a short login
lock and a planted report whose script tries to read the session. Checks: a
user locked after N wrong passwords (the right one refused until the lock
ends), the session cookie out of reach of page and report scripts, no request
to any host but 127.0.0.1, and exports refused to a client without a session.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from scrm_lib.access.state import read_audit
from scrm_lib.access.users import add_user
from tests.e2e.test_browser import CHROMIUM, serve_dashboard

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Chromium missing: run scripts/setup-system.sh"
)

PASSWORD = "browser-pass-1"
LOCK_SECONDS = 12  # long enough that a slow machine still submits during the lock
REPORT = "probe_report"
RUN_ID = "20261201T000000000Z-probe"

#: a hostile report: reads what it can of the dashboard and calls home
PROBE_HTML = """<!DOCTYPE html><html><head><title>probe</title>
<script src="https://cdn.example.com/require.js"></script></head><body>
<img src="https://tracker.example.com/pixel.png"><pre id="probe">not run</pre>
<script>
function tryIt(f) { try { return "read:" + f(); } catch (e) { return "blocked:" + e.name; } }
document.getElementById("probe").textContent = JSON.stringify({
  cookie: tryIt(() => document.cookie),
  parent: tryIt(() => window.parent.document.title),
  top: tryIt(() => window.top.document.cookie),
  storage: tryIt(() => window.localStorage.length),
});
</script></body></html>"""


@pytest.fixture(scope="module")
def server(built_sample, tmp_path_factory):
    home = built_sample["home"]
    state = tmp_path_factory.mktemp("security")
    run = state / "reports" / REPORT / RUN_ID
    run.mkdir(parents=True)
    (run / "manifest.json").write_text(
        json.dumps(
            {
                "report": REPORT,
                "run_id": RUN_ID,
                "status": "ok",
                "started_at": "2026-12-01T00:00:00Z",
                "duration_s": 1.0,
            }
        )
    )
    (run / f"{REPORT}.html").write_text(PROBE_HTML, encoding="utf-8")
    users = state / "users.yaml"
    add_user("mark", PASSWORD, role="marketer", path=users)
    add_user("lucy", PASSWORD, role="viewer", path=users)
    env = {
        **os.environ,
        "SCRM_HOME": str(home),
        "SCRM_USERS_FILE": str(users),
        "SCRM_STATE_DB": str(state / "state.duckdb"),
        "SCRM_REPORTS_DIR": str(state / "reports"),
        "SCRM_LOGIN_MAX_FAILURES": "3",
        "SCRM_LOGIN_LOCK_MINUTES": str(LOCK_SECONDS / 60),
        "SCRM_LOGIN_BACKOFF_SECONDS": "0",
    }
    yield from serve_dashboard(home, env, state)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh browser context (no cookies) whose every request is recorded."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.requests = []
    page.failures = {}
    context.on("request", lambda r: page.requests.append(r.url))
    context.on("requestfailed", lambda r: page.failures.__setitem__(r.url, r.failure))
    yield page
    context.close()


def foreign_requests(urls: list[str]) -> list[str]:
    """Requests over the network to a host other than 127.0.0.1 (srcdoc/data: frames are local)."""
    out = []
    for u in urls:
        parts = urllib.parse.urlsplit(u)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname != "127.0.0.1":
            out.append(u)
    return out


def left_the_browser(page) -> list[str]:
    """Foreign requests that were not stopped by the report's Content-Security-Policy.

    Chromium's preload scanner sometimes starts an early <script>/<img> load and the
    policy then cancels it (failure "csp") before anything is sent; such a request
    is reported but never reaches the network. A foreign request still unsettled is
    given a few seconds to be cancelled before it counts as gone out.
    """
    for _ in range(25):
        gone = [u for u in foreign_requests(page.requests) if page.failures.get(u) != "csp"]
        if not gone:
            return []
        page.wait_for_timeout(200)
    return gone


def submit_login(page, user: str, password: str) -> None:
    page.get_by_label("Username", exact=True).fill(user)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="登录 Log in").click()


def log_in(page, server, user: str = "mark") -> None:
    from playwright.sync_api import expect

    page.goto(server["url"])
    submit_login(page, user, PASSWORD)
    expect(page.get_by_text("数据概览 / Data overview").first).to_be_visible(timeout=30_000)


def failures_reach(server, user: str, n: int, timeout: float = 30) -> None:
    """Wait until the state store counts ``n`` failed logins of ``user``."""
    from scrm_lib.access.state import read_login_failures

    end = time.time() + timeout
    while time.time() < end:
        row = read_login_failures([("user", user)], path=server["state_db"]).get(("user", user))
        if row and row["failures"] >= n:
            return
        time.sleep(0.2)
    raise AssertionError(f"{user}: {n} failed logins not recorded within {timeout:g} s")


def fetch(url: str, cookie: str | None = None) -> int:
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        return urllib.request.urlopen(request, timeout=10).status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_wrong_passwords_lock_the_user_until_the_lock_ends(server, page):
    from playwright.sync_api import expect

    page.goto(server["url"])
    expect(page.get_by_role("button", name="登录 Log in")).to_be_visible(timeout=30_000)
    # no menu (and so no "Clear cache") and no deploy button before login
    expect(page.get_by_role("button", name="Main menu")).to_have_count(0)
    expect(page.get_by_role("button", name="Deploy")).to_have_count(0)
    for n in (1, 2):
        submit_login(page, "lucy", "not-her-password")
        expect(page.get_by_text("Wrong username or password")).to_be_visible(timeout=20_000)
        # the alert of the first try is still up after the second: wait for the count
        failures_reach(server, "lucy", n)
    submit_login(page, "lucy", "not-her-password")
    locked = page.get_by_text("Locked for 1 minute")
    expect(locked).to_be_visible(timeout=20_000)
    expect(page.get_by_text("账号已临时锁定")).to_be_visible()
    started = time.time()

    submit_login(page, "lucy", PASSWORD)  # the right password, during the lock
    page.wait_for_timeout(1500)
    expect(locked).to_be_visible()
    expect(page.get_by_text("数据概览 / Data overview")).to_have_count(0)

    page.wait_for_timeout(max(LOCK_SECONDS - (time.time() - started), 0) * 1000 + 500)
    submit_login(page, "lucy", PASSWORD)
    expect(page.get_by_text("数据概览 / Data overview").first).to_be_visible(timeout=30_000)

    audit = read_audit(path=server["state_db"])
    lucy = audit[audit["username"] == "lucy"]["action"].tolist()
    assert lucy.count("login_failed") == 3 and "login_locked" in lucy
    assert "login_refused" in lucy and lucy[0] == "login"
    assert not (gone := left_the_browser(page)), gone


def test_report_frame_and_page_scripts_cannot_read_the_session(server, page):
    from playwright.sync_api import expect

    log_in(page, server)
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["scrm_session"]["httpOnly"] and cookies["scrm_session"]["sameSite"] == "Strict"
    assert "scrm_auth" not in cookies  # no script-set login cookie any more
    assert "scrm_session" not in page.evaluate("document.cookie")

    page.get_by_role("link", name="报告 Reports").click()
    probe = (
        page.frame_locator(f'iframe[title="{REPORT}_{RUN_ID}.html"]')
        .frame_locator('iframe[title="report"]')
        .locator("#probe")
    )
    expect(probe).not_to_have_text("not run", timeout=30_000)
    seen = json.loads(probe.text_content())
    assert seen == {
        "cookie": "blocked:SecurityError",
        "parent": "blocked:SecurityError",
        "top": "blocked:SecurityError",
        "storage": "blocked:SecurityError",
    }
    # the report's CDN script and tracking pixel never left the browser
    assert not (gone := left_the_browser(page)), gone

    page.reload()  # the HttpOnly cookie keeps the login on the server side
    expect(page.get_by_role("heading", name="报告 / Reports")).to_be_visible(timeout=30_000)


def test_exports_are_made_on_click_and_refused_without_a_session(server, page):
    from playwright.sync_api import expect

    log_in(page, server)
    page.get_by_role("link", name="数据健康 Data health").click()
    button = page.get_by_role("button", name="下载拒绝记录 / Download rejects")
    expect(button).to_be_visible(timeout=30_000)
    media = [u for u in page.requests if urllib.parse.urlsplit(u).path.startswith("/media/")]
    assert not media  # nothing made before the click

    with page.expect_download(timeout=30_000) as info:
        button.click()
    url = info.value.url
    assert "/media/" in url and info.value.failure() is None

    assert fetch(url) == 403  # no cookie
    assert fetch(url, "scrm_session=made-up") == 403  # a session id the server never issued
    stranger = page.context.browser.new_context()
    stranger.new_page().goto(server["url"])  # a session cookie, but nobody logged in
    assert stranger.request.get(url).status == 403
    stranger.close()

    audit = read_audit(path=server["state_db"])
    exports = audit[(audit["action"] == "export") & (audit["username"] == "mark")]
    assert exports["what"].str.contains("rejects").any()
    assert (audit["action"] == "download_refused").sum() >= 3
    assert fetch(f"{server['url']}/_stcore/metrics") == 404
    assert not (gone := left_the_browser(page)), gone
