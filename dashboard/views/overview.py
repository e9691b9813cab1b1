"""Overview: KPI tiles against targets, weekly trends, and the build this page reads."""

import pandas as pd
import streamlit as st

from dashboard.components import kpi_tiles, query, status
from scrm_lib.errors import ScrmError
from scrm_lib.value import kpis

st.title("数据概览 / Data overview")
data = status()
if data is None:
    st.stop()

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

st.subheader("KPI 与目标 / KPIs against targets")
try:
    now = query(kpis.kpis)
    series = query(kpis.weekly, weeks=12)
except ScrmError as exc:
    st.info(f"还没有可计算的订单 / No KPIs yet: {exc}")
    now = series = None

if now is not None:
    st.caption(f"截至 / As of {now.attrs.get('as_of')}")
    cols = st.columns(3)
    for i, row in enumerate(now.itertuples()):
        pct = row.unit == "%"
        value = (
            "-"
            if row.value is None or pd.isna(row.value)
            else (f"{row.value:.1%}" if pct else f"{row.value:,.0f}")
        )
        delta = None
        if row.target is not None and not pd.isna(row.target) and value != "-":
            gap = row.value - row.target
            delta = f"{gap:+.1%} vs 目标 {row.target:.0%}" if pct else f"{gap:+,.0f} vs target"
        cols[i % 3].metric(f"{row.zh} / {row.en}", value, delta=delta)

    st.subheader("周趋势 / Weekly trends")
    chart_cols = st.columns(2)
    for i, name in enumerate(kpis.KPI_LABELS):
        chart_cols[i % 2].plotly_chart(kpis.plot_weekly(series, name), width="stretch")

st.subheader("读取的构建 / Build read")
st.caption(
    f"构建 Build `{last.get('build_id', '-')}` · {str(last.get('finished_at', ''))[:19]} UTC"
)
st.dataframe(pd.DataFrame({"table": list(tables), "rows": list(tables.values())}), hide_index=True)
