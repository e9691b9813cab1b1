"""Overview: what the warehouse holds and where it came from."""

import pandas as pd
import streamlit as st

from dashboard.components import status

st.title("数据概览 / Data overview")
data = status()
if data is not None:
    last = data.get("last_build") or {}
    cols = st.columns(3)
    cols[0].metric("构建 / Build", str(last.get("build_id", "-")))
    cols[1].metric("完成时间 / Finished", str(last.get("finished_at", "-"))[:19])
    tables = data.get("tables") or {}
    cols[2].metric("账号 / Accounts", f"{tables.get('accounts', 0):,}")

    st.subheader("表 / Tables")
    st.dataframe(
        pd.DataFrame({"table": list(tables), "rows": list(tables.values())}),
        hide_index=True,
    )
    st.subheader("输入文件 / Input files")
    st.dataframe(pd.DataFrame(data.get("files") or []), hide_index=True)
    st.subheader("拒绝原因 / Rejects by reason")
    st.dataframe(pd.DataFrame(data.get("rejects") or []), hide_index=True)
