"""scrm dashboard: login, then the pages the user's role may see. Pages live in views/.

``streamlit run dashboard/app.py`` first imports this file, finds ``app`` (an
``st.App``) and serves it: the page script (this same file, run as
``__main__``) behind :class:`dashboard.session.Guard`, which sets the HttpOnly
session cookie, refuses downloads to browsers not logged in and hides
``/_stcore/metrics``.
"""

import sys
from pathlib import Path

import streamlit as st

# make the project importable as `dashboard`, whoever runs or imports this file
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
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
        ("views/channels.py", "渠道与旅程 Channels & funnel", "view"),
        ("views/conversations.py", "会话洞察 Conversations", "view"),
        ("views/referrals.py", "推荐与KOC Referrals & KOC", "view"),
        ("views/automation.py", "自动化营销 Automation", "view"),
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


if __name__ == "__main__":  # a page run (Streamlit's script runner, AppTest)
    main()
else:  # imported by `streamlit run` as the server
    from starlette.middleware import Middleware

    from dashboard.session import Guard

    app = st.App(__file__, middleware=[Middleware(Guard)])
