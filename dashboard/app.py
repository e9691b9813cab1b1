"""scrm dashboard: login, then the pages the user's role may see. Pages live in views/."""

import sys
from pathlib import Path

import streamlit as st

# Streamlit runs this file as a script: make the project importable as `dashboard`.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboard import components

st.set_page_config(page_title="scrm", page_icon="📊", layout="wide")

user = components.login()
if user is None:
    st.stop()
st.session_state["user"] = user

st.sidebar.markdown(f"**{user.name}** · {user.role}")
components.logout_button()
components.build_badge()

pages = [
    st.Page("views/overview.py", title="数据概览 Overview", default=True),
    st.Page("views/data_health.py", title="数据健康 Data health"),
    st.Page("views/reports.py", title="报告 Reports"),
]
if user.can("audit"):
    pages.append(st.Page("views/audit.py", title="审计日志 Audit log"))
st.navigation(pages).run()
