"""Overview: KPI tiles against targets, weekly trends, and the build this page reads."""

import pandas as pd
import streamlit as st

from dashboard.components import kpi_tiles, query, status
from scrm_lib.errors import ScrmError
from scrm_lib.labels import fmt_time, label_figure, labelled, message, money, timezone
from scrm_lib.value import kpis

st.title("数据概览 / Data overview")
data = status()
if data is None:
    st.stop()

last = data.get("last_build") or {}
tables = data.get("tables") or {}
# the build id is a reference, not a figure: a caption, so the tiles hold numbers only
st.caption(
    f"构建 Build `{last.get('build_id', '-')}` · "
    f"{message('built_at', time=fmt_time(last.get('finished_at')))} · "
    f"{message('timezone', tz=timezone())}"
)
kpi_tiles(
    {
        "账号 / Accounts": int(tables.get("accounts", 0)),
        "订单 / Orders": int(tables.get("orders", 0)),
        "事件 / Events": int(tables.get("events", 0)),
    },
    columns=3,
)

st.subheader("KPI 与目标 / KPIs against targets")
try:
    now = query(kpis.kpis)
    series = query(kpis.weekly, weeks=12)
except ScrmError as exc:
    st.info(f"还没有可计算的订单 / No KPIs yet: {exc}")
    now = series = None


def shown(value: float, unit: str) -> str:
    if value is None or pd.isna(value):
        return "-"
    return f"{value:.1%}" if unit == "%" else money(value) if unit == "CNY" else f"{value:,.0f}"


if now is not None:
    st.caption(f"截至 / As of {now.attrs.get('as_of')}")
    cols = st.columns(3)
    for i, row in enumerate(now.itertuples()):
        pct = row.unit == "%"
        value = shown(row.value, row.unit)
        delta = None
        if row.target is not None and not pd.isna(row.target) and value != "-":
            gap = row.value - row.target
            delta = (
                f"{gap:+.1%} vs 目标 {row.target:.0%}"
                if pct
                else f"{'+' if gap >= 0 else ''}{money(gap)} vs 目标 {money(row.target)}"
            )
        cols[i % 3].metric(f"{row.zh} / {row.en}", value, delta=delta)

    st.subheader("周趋势 / Weekly trends")
    chart_cols = st.columns(2)
    pattern = kpis.kpi_config()["automation_pattern"]
    for i, name in enumerate(kpis.KPI_LABELS):
        fig = label_figure(kpis.plot_weekly(series, name))
        if not series.loc[series["kpi"] == name, "value"].notna().any():
            why = (
                message("kpi_empty_automation", pattern=pattern)
                if name == "automation_conversion_rate"
                else message("kpi_empty")
            )
            fig.add_annotation(
                text=why.replace("：", "：<br>", 1), xref="paper", yref="paper", x=0.5, y=0.6,
                showarrow=False, font={"size": 13}, bgcolor="white",
            )  # fmt: skip
            fig.update_yaxes(visible=False)
        chart_cols[i % 2].plotly_chart(fig, width="stretch")

st.subheader("读取的构建 / Build read")
st.dataframe(
    labelled(pd.DataFrame({"table": list(tables), "rows": list(tables.values())})),
    hide_index=True,
)
