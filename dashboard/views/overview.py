"""Overview: what the warehouse holds and where it came from."""

import pandas as pd
import streamlit as st

from dashboard.components import kpi_tiles, status

st.title("数据概览 / Data overview")
data = status()
if data is not None:
    last = data.get("last_build") or {}
    tables = data.get("tables") or {}
    kpi_tiles(
        {
            "构建 / Build": str(last.get("build_id", "-")),
            "账号 / Accounts": int(tables.get("accounts", 0)),
            "订单 / Orders": int(tables.get("orders", 0)),
            "事件 / Events": int(tables.get("events", 0)),
        }
    )
    st.subheader("表 / Tables")
    st.dataframe(
        pd.DataFrame({"table": list(tables), "rows": list(tables.values())}), hide_index=True
    )
