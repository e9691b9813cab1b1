"""One end-to-end run in a real browser: Debian's Chromium driven by Playwright.

Starts the dashboard on 127.0.0.1 over the session's sample warehouse, logs
in as a marketer, opens the Data health page, downloads the rejects export,
checks the file and its audit row, and saves a full-page screenshot.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from scrm_lib.state import read_audit
from scrm_lib.users import add_user

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


@pytest.fixture(scope="module")
def server(built_sample, tmp_path_factory):
    home = built_sample["home"]
    state = tmp_path_factory.mktemp("state")
    env = {
        **os.environ,
        "SCRM_HOME": str(home),
        "SCRM_USERS_FILE": str(state / "users.yaml"),
        "SCRM_STATE_DB": str(state / "state.duckdb"),
    }
    add_user("mark", "browser-pass-1", role="marketer", path=state / "users.yaml")
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(ROOT / "dashboard/app.py"),
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=home,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("dashboard did not start within 60 s")
    yield {"url": url, "state_db": state / "state.duckdb"}
    proc.terminate()
    proc.wait(timeout=20)


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

        main = page.locator("[data-testid=stMain]")
        height = main.evaluate("el => el.scrollHeight")
        page.set_viewport_size({"width": 1400, "height": min(max(height, 900), 6000)})
        page.wait_for_timeout(1000)
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT_DIR / "data_health.png"), full_page=True)
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
