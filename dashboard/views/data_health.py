"""Data health: what went in, what was refused and why, what each platform covers, how fresh."""

import streamlit as st

from dashboard.components import audited_download, query, settings, show_table
from scrm_lib import health
from scrm_lib.errors import ScrmError

st.title("数据健康 / Data health")
try:
    build = query(health.build_read)
    inputs_by_file = query(health.inputs, by="file")
    inputs_by_platform = query(health.inputs, by="platform")
    reasons = query(health.rejects_by_reason, max_examples=3)
    coverage = query(health.coverage)
    freshness = query(health.freshness)
    rejects = query(health.rejects)
    refused = query(health.refused_files, state_db=str(settings().state_db))
except ScrmError as exc:
    st.warning(str(exc))
    st.stop()

if not build.empty:
    row = build.iloc[0]
    st.caption(f"构建 Build `{row['build_id']}` · {str(row['finished_at'])[:19]} UTC")

st.subheader("输入文件 / Inputs")
st.plotly_chart(health.plot_inputs(inputs_by_platform), width="stretch")
show_table(inputs_by_file, key="health_inputs")

st.subheader("拒收文件 / Refused files")
if refused.empty:
    st.success("所有文件都已读取 / Every file was read")
else:
    st.error(
        f"{len(refused)} 个文件无法读取，其数据不在仓库中 / "
        f"{len(refused)} file(s) could not be read; none of their rows is in the warehouse"
    )
    show_table(refused, key="health_refused")

st.subheader("拒绝原因 / Rejects by reason")
if reasons.empty:
    st.success("没有被拒绝的行 / No rejected rows")
else:
    st.plotly_chart(health.plot_rejects(reasons), width="stretch")
    show_table(reasons, key="health_reasons")
audited_download(
    "下载拒绝记录 / Download rejects",
    rejects,
    filename="rejects.csv",
    what="rejects",
)

st.subheader("覆盖 / Coverage per platform and month")
st.plotly_chart(health.plot_coverage(coverage), width="stretch")

st.subheader("新鲜度 / Freshness")
st.plotly_chart(health.plot_freshness(freshness), width="stretch")
show_table(freshness, key="health_freshness")
