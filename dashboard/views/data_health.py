"""Data health: what went in, what was refused and why, what each platform covers, how fresh."""

import pandas as pd
import streamlit as st

from dashboard.components import audited_download, query, settings, show_table, status
from scrm_lib.errors import ScrmError
from scrm_lib.labels import fmt_time, label_figure, labelled, message, timezone
from scrm_lib.warehouse import health

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


def chart(fig) -> None:
    st.plotly_chart(label_figure(fig), width="stretch")


if not build.empty:
    row = build.iloc[0]
    st.caption(
        f"构建 Build `{row['build_id']}` · {message('built_at', time=fmt_time(row['finished_at']))}"
        f" · {message('timezone', tz=timezone())}"
    )

st.subheader("输入文件 / Inputs")
# categories in the marketer's language before plotting; label_figure names the axes
chart(health.plot_inputs(labelled(inputs_by_platform, rename=False)))
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
    chart(health.plot_rejects(labelled(reasons, rename=False)))
    show_table(reasons, key="health_reasons")
audited_download(
    "下载拒绝记录 / Download rejects",
    rejects,
    filename="rejects.csv",
    what="rejects",
)

st.subheader("构建步骤 / Build steps")
steps = pd.DataFrame((status() or {}).get("steps") or [])
if len(steps):
    steps["notes"] = steps["notes"].map(lambda notes: "; ".join(notes or []))
    st.dataframe(labelled(steps[["step", "status", "seconds", "notes"]]), hide_index=True)

st.subheader("覆盖 / Coverage per platform and month")
chart(health.plot_coverage(labelled(coverage, rename=False)))

st.subheader("新鲜度 / Freshness")
chart(health.plot_freshness(labelled(freshness, rename=False)))
show_table(freshness, key="health_freshness")
