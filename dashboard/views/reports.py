"""Reports: scheduled and manual report runs, their status, and the rendered HTML."""

from pathlib import Path

import streamlit as st
import streamlit.components.v1 as components

from dashboard.components import settings
from scrm_lib.reports import list_runs

st.title("报告 / Reports")
runs = list_runs(settings())
if runs.empty:
    st.info("还没有报告 / No report runs yet: `scrm report run data_health`")
    st.stop()

failed = int((runs["status"] == "failed").sum())
st.caption(f"{len(runs)} 次运行 runs · {failed} 失败 failed")
st.dataframe(runs.drop(columns=["path"]), hide_index=True)

labels = [f"{r.report} · {r.run_id} · {r.status}" for r in runs.itertuples()]
choice = st.selectbox("打开报告 / Open a report", range(len(runs)), format_func=labels.__getitem__)
run = runs.iloc[choice]
if run["status"] == "failed" and isinstance(run["error"], str):
    st.error(run["error"])
html = sorted(Path(run["path"]).glob("*.html"))
if html:
    st.download_button(
        "下载 HTML / Download HTML",
        data=html[0].read_bytes(),
        file_name=f"{run['report']}_{run['run_id']}.html",
        mime="text/html",
    )
    components.html(html[0].read_text(encoding="utf-8"), height=900, scrolling=True)
else:
    st.warning("这次运行没有 HTML / This run has no HTML")
