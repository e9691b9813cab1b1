"""Audit log: every export and admin edit (admins only)."""

import streamlit as st

from dashboard.components import current_user
from scrm_lib.access.state import read_audit
from scrm_lib.labels import labelled, message, timezone

st.title("审计日志 / Audit log")
if not current_user().can("audit"):
    st.error("只有管理员可以查看 / Admins only")
    st.stop()
st.caption(message("timezone", tz=timezone()))
st.dataframe(labelled(read_audit(limit=500)), hide_index=True)
