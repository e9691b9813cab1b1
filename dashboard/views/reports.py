"""Reports: scheduled and manual report runs, their status, and the rendered HTML.

A report's HTML runs its own scripts (plotly charts), so it is shown inside a
frame sandboxed without ``allow-same-origin``: its scripts run in an opaque
origin and cannot read the dashboard's cookies, storage or page. A
Content-Security-Policy in the report forbids loading anything from the network.
"""

import html as html_lib
import re
from pathlib import Path

import streamlit as st

from dashboard.auth import current_user
from dashboard.components import settings
from scrm_lib.access.state import record_audit
from scrm_lib.labels import labelled
from scrm_lib.reports.runner import list_runs

#: inline scripts and styles only; images and fonts from data: URLs; no fetch, no form posts
REPORT_CSP = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'unsafe-inline'; img-src data: blob:; font-src data:; "
    "connect-src 'none'; form-action 'none'; base-uri 'none'"
)
FRAME_HEIGHT = 900


def sandboxed(report_html: str, height: int = FRAME_HEIGHT) -> str:
    """A page holding the report in a frame with scripts allowed and no same-origin access."""
    meta = f'<meta http-equiv="Content-Security-Policy" content="{REPORT_CSP}">'
    head = re.search(r"<head[^>]*>", report_html, flags=re.IGNORECASE)
    if head:
        report_html = report_html[: head.end()] + meta + report_html[head.end() :]
    else:
        report_html = meta + report_html
    # the same policy on the outer page, ahead of the frame: a srcdoc frame inherits it from
    # the moment it is created, before the browser's preload scanner reads the report's own
    # meta tag (with only the inner tag, an <img> early in the report could still go out)
    return (
        f"<!DOCTYPE html><html><head>{meta}<style>html,body{{margin:0;height:100%}}</style></head>"
        f'<body><iframe sandbox="allow-scripts" referrerpolicy="no-referrer" '
        f'title="report" style="border:0;width:100%;height:{height - 8}px" '
        f'srcdoc="{html_lib.escape(report_html, quote=True)}"></iframe></body></html>'
    )


st.title("报告 / Reports")
runs = list_runs(settings())
if runs.empty:
    st.info("还没有报告 / No report runs yet: `scrm report run data_health`")
    st.stop()

failed = int((runs["status"] == "failed").sum())
st.caption(f"{len(runs)} 次运行 runs · {failed} 失败 failed")
st.dataframe(labelled(runs.drop(columns=["path"])), hide_index=True)

labels = [f"{r.report} · {r.run_id} · {r.status}" for r in runs.itertuples()]
choice = st.selectbox("打开报告 / Open a report", range(len(runs)), format_func=labels.__getitem__)
run = runs.iloc[choice]
if run["status"] == "failed" and isinstance(run["error"], str):
    st.error(run["error"])
html = sorted(Path(run["path"]).glob("*.html"))
if html:
    user = current_user()
    name = f"{run['report']}_{run['run_id']}.html"

    def report_bytes(path: Path = html[0], name: str = name) -> bytes:
        # made on the click, for this logged-in session, and audited like an export
        build = run.get("build_id")
        record_audit(
            user.username,
            "export",
            name,
            role=user.role,
            build_id=build if isinstance(build, str) else None,
        )
        return path.read_bytes()

    st.download_button(
        "下载 HTML / Download HTML",
        data=report_bytes,
        file_name=name,
        mime="text/html",
        on_click="ignore",
    )
    st.iframe(sandboxed(html[0].read_text(encoding="utf-8")), height=FRAME_HEIGHT, alt=name)
else:
    st.warning("这次运行没有 HTML / This run has no HTML")
