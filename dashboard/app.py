"""scrm dashboard entry point: navigation only; each page lives in views/."""

import sys
from pathlib import Path

import streamlit as st

# Streamlit runs this file as a script: make the project importable as `dashboard`.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

st.set_page_config(page_title="scrm", page_icon="📊", layout="wide")
nav = st.navigation([st.Page("views/overview.py", title="数据概览 Overview", default=True)])
nav.run()
