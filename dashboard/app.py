"""scrm dashboard: login, then the pages the user's role may see. Pages live in views/."""

import sys
from pathlib import Path

import streamlit as st

# Streamlit runs this file as a script: make the project importable as `dashboard`.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboard import auth, components

st.set_page_config(page_title="scrm", page_icon="📊", layout="wide")

user = auth.login()
if user is None:
    st.stop()
st.session_state["user"] = user

st.sidebar.markdown(f"**{user.name}** · {user.role}")
auth.logout_button()
components.build_badge()

#: (page script, title, permission needed). One line per page; the first is the home page.
PAGES = [
    ("views/overview.py", "数据概览 Overview", "view"),
    ("views/data_health.py", "数据健康 Data health", "view"),
    ("views/segments.py", "客户分层 Segments", "view"),
    ("views/reports.py", "报告 Reports", "view"),
    ("views/experiments.py", "实验 Experiments", "view"),
    ("views/churn.py", "流失预警 Churn", "view"),
    ("views/customer_360.py", "客户360 Customer 360", "view"),
    ("views/identity.py", "统一身份 Identity", "view"),
    ("views/audit.py", "审计日志 Audit log", "audit"),
]
pages = [
    st.Page(script, title=title, default=i == 0)
    for i, (script, title, needs) in enumerate(PAGES)
    if user.can(needs)
]
st.navigation(pages).run()
