"""End-to-end runs in a real browser: Debian's Chromium driven by Playwright.

Starts the dashboard on 127.0.0.1 over the session's sample warehouse. A
marketer opens the Data health page and downloads the rejects export (the file
and its audit row are checked); an admin visits every page, in Chinese, and a
full-page screenshot of each is saved to ``data/screenshots/<page>.png`` (the
README's screenshots are refreshed from these).
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from scrm_lib.access.state import read_audit
from scrm_lib.access.users import add_user

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOT_DIR = ROOT / "data" / "screenshots"

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Chromium missing: run scripts/setup-system.sh"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_dashboard(home: Path, env: dict, state: Path):
    """Start the dashboard as `make dashboard` does, yield its address, stop it afterwards."""
    # another process (a test worker's kernel, Spark) may take the free port before
    # Streamlit binds it: then Streamlit exits or something else answers, so try another
    for _attempt in range(3):
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard/app.py"),
             "--server.address", "127.0.0.1", "--server.port", str(port),
             "--server.headless", "true", "--browser.gatherUsageStats", "false"],
            cwd=home, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        up = False
        while time.time() < deadline and proc.poll() is None:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    up = True
                    break
            except (OSError, http.client.HTTPException):
                time.sleep(0.3)
        if up:
            break
        proc.kill()
        proc.wait(timeout=20)
    else:
        pytest.fail("dashboard did not start within 60 s")
    yield {"url": url, "state_db": state / "state.duckdb"}
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def server(built_sample, tmp_path_factory):
    home = built_sample["home"]
    state = tmp_path_factory.mktemp("state")
    env = {
        **os.environ,
        "SCRM_HOME": str(home),
        "SCRM_USERS_FILE": str(state / "users.yaml"),
        "SCRM_STATE_DB": str(state / "state.duckdb"),
        "SCRM_REPORTS_DIR": str(state / "reports"),
        "SCRM_LANGUAGE": "zh",
        "SCRM_TIMEZONE": "Asia/Shanghai",
    }
    add_user("mark", "browser-pass-1", role="marketer", path=state / "users.yaml")
    add_user("ada", "browser-pass-1", role="admin", path=state / "users.yaml")
    from scrm_lib.segments import definitions as segments

    segments.save_segment(
        "vips", [{"column": "rfm_segment", "op": "in", "value": ["champions"]}],
        author="ada", role="admin", warehouse=built_sample["warehouse"],
        description="RFM champions", state_path=state / "state.duckdb",
    )  # fmt: skip
    yield from serve_dashboard(home, env, state)


def launch(pw):
    return pw.chromium.launch(
        executable_path=CHROMIUM,
        args=["--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--no-first-run"],
    )  # fmt: skip


def test_login_data_health_download_and_audit(server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 900}, accept_downloads=True)
        page.goto(server["url"])
        page.get_by_label("Username", exact=True).fill("mark")
        page.get_by_label("Password", exact=True).fill("browser-pass-1")
        page.get_by_role("button", name="登录 Log in").click()
        expect(page.get_by_text("数据概览 / Data overview")).to_be_visible(timeout=30_000)

        page.get_by_role("link", name="数据健康 Data health").click()
        expect(page.get_by_role("heading", name="数据健康 / Data health")).to_be_visible(
            timeout=30_000
        )
        with page.expect_download(timeout=30_000) as info:
            page.get_by_role("button", name="下载拒绝记录 / Download rejects").click()
        download = tmp_path / info.value.suggested_filename
        info.value.save_as(download)

        browser.close()

    rejects = pd.read_csv(download, encoding="utf-8-sig", dtype=str)
    assert {"file", "line", "reason"} <= set(rejects.columns)
    assert len(rejects) > 0
    # masked for a marketer, and nothing a spreadsheet would run as a formula
    assert not rejects["raw_value"].fillna("").str.contains(r"1[3-9]\d{9}").any()
    assert not rejects.apply(lambda c: c.fillna("").str.match(r"^[=+\-@]")).any().any()

    audit = read_audit(path=server["state_db"])
    row = audit[audit["action"] == "export"].iloc[0]
    assert row["username"] == "mark" and row["rows"] == len(rejects)


#: (page script, sidebar title) of every page, read from app.py
PAGES = re.findall(
    r'\("(views/\w+\.py)", "([^"]+)"',
    (ROOT / "dashboard" / "app.py").read_text(encoding="utf-8"),
)
SNAKE = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)+$")


def settle(page) -> None:
    """Wait until the script run ends and the charts have drawn."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=stStatusWidgetRunningIcon], "
        "[data-testid=stStatusWidget] [data-testid=stSpinner]')",
        timeout=60_000,
    )
    page.wait_for_timeout(1500)


def full_page_screenshot(page, path: Path) -> None:
    main = page.locator("[data-testid=stMain]")
    height = main.evaluate("el => el.scrollHeight")
    page.set_viewport_size({"width": 1400, "height": min(max(height, 900), 8000)})
    page.wait_for_timeout(1200)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": 1400, "height": 900})


@pytest.mark.slow
def test_every_page_in_chinese_screenshotted(server):
    """An admin visits every page; chart text is Chinese, with no snake_case name; each page
    is saved as data/screenshots/<page>.png."""
    from playwright.sync_api import expect, sync_playwright

    assert len(PAGES) >= 9
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(server["url"])
        page.get_by_label("Username", exact=True).fill("ada")
        page.get_by_label("Password", exact=True).fill("browser-pass-1")
        page.get_by_role("button", name="登录 Log in").click()
        expect(page.get_by_text("数据概览 / Data overview").first).to_be_visible(timeout=30_000)
        # the sidebar's build time is in the configured zone
        expect(page.get_by_text("时间为 Asia/Shanghai").first).to_be_visible()
        saved = []
        for script, title in PAGES:
            page.get_by_role("link", name=title).click()
            zh = title.split()[0]
            expect(page.locator("h1", has_text=zh).first).to_be_visible(timeout=30_000)
            if script.endswith("customer_360.py"):
                search = page.get_by_label(
                    "手机号、姓名、账号或客户ID / Phone, name, account or person id"
                )
                search.fill("张")
                search.press("Enter")
                expect(page.get_by_text("匹配的客户 / Matching persons").first).to_be_visible(
                    timeout=30_000
                )
            settle(page)
            chart_text = page.locator(".main-svg text").all_text_contents()
            raw = [t for t in chart_text if SNAKE.match(t.strip())]
            assert not raw, (script, raw)
            if chart_text:
                assert any(re.search(r"[\u4e00-\u9fff]", t) for t in chart_text), script
            assert page.get_by_text("Choose options").count() == 0, script
            path = SCREENSHOT_DIR / f"{Path(script).stem}.png"
            full_page_screenshot(page, path)
            saved.append(path)
        browser.close()
    assert all(p.stat().st_size > 20_000 for p in saved), saved
