"""Segments: the eight RFM segments, a builder with a live preview, save, and audited export."""

import json

import plotly.express as px
import streamlit as st

from dashboard.components import (
    audited_download,
    current_user,
    query,
    show_table,
    status,
    warehouse_path,
)
from scrm_lib import segments
from scrm_lib.errors import ScrmError
from scrm_lib.value import layers, lifecycle, rfm

RISK_LABELS = {"high": "高 / high", "medium": "中 / medium", "low": "低 / low"}

st.title("客户分层 / Segments")
user = current_user()
if status() is None:
    st.stop()
try:
    seg = query(rfm.segment_summary)
except ScrmError as exc:
    st.info(f"还没有可分层的订单 / Nothing to segment yet: {exc}")
    st.stop()

st.subheader("RFM 八类客户 / The eight RFM segments")
st.caption(f"截至 / As of {seg.attrs.get('as_of')}")
shown = seg[seg["persons"] > 0]
if len(shown):
    fig = px.treemap(
        shown,
        path=["zh"],
        values="persons",
        color="gmv_share",
        hover_data=["en", "action"],
        title="人数与GMV占比 / Size and GMV share",
    )
    st.plotly_chart(fig, width="stretch")
st.dataframe(
    seg[["zh", "en", "persons", "person_share", "gmv", "gmv_share", "action"]],
    hide_index=True,
    column_config={
        "person_share": st.column_config.NumberColumn(format="percent"),
        "gmv_share": st.column_config.NumberColumn(format="percent"),
        "gmv": st.column_config.NumberColumn(format="localized"),
    },
)

st.subheader("分群构建 / Segment builder")
c1, c2, c3 = st.columns(3)
pick_rfm = c1.multiselect("RFM 分层", [s.code for s in rfm.SEGMENTS],
                          format_func=lambda c: rfm.SEGMENT_BY_CODE[c].label)  # fmt: skip
pick_layer = c2.multiselect("行为分层 / Layer", list(layers.LAYERS),
                            format_func=lambda c: " / ".join(layers.LAYERS[c]))  # fmt: skip
pick_stage = c3.multiselect("生命周期 / Stage", list(lifecycle.STAGES),
                            format_func=lambda c: " / ".join(lifecycle.STAGES[c]))  # fmt: skip
c4, c5 = st.columns(2)
min_alive = c4.slider("P(alive) ≥", 0.0, 1.0, 0.0, 0.05)
min_clv = c5.number_input("CLV ≥ (CNY)", min_value=0.0, value=0.0, step=50.0)
c6, c7 = st.columns(2)
pick_risk = c6.multiselect("流失风险 / Churn risk", ["high", "medium", "low"],
                           format_func=RISK_LABELS.get)  # fmt: skip
warning_only = c7.checkbox("仅流失预警 / Early warning only")
scored = query(segments.preview, filters='[{"column": "churn_probability", "op": "not_null"}]')
if not scored["persons"]:
    c6.caption("本次构建没有流失评分：训练模型后重新构建 / No churn scores in this build: "
               "train a model (`scrm churn train`), then build again")  # fmt: skip
filters = []
for column, picked in (
    ("rfm_segment", pick_rfm), ("layer", pick_layer), ("stage", pick_stage),
    ("risk_band", pick_risk),
):  # fmt: skip
    if picked:
        filters.append({"column": column, "op": "in", "value": picked})
if warning_only:
    filters.append({"column": "early_warning", "op": "==", "value": True})
if min_alive > 0:
    filters.append({"column": "p_alive", "op": ">=", "value": min_alive})
if min_clv > 0:
    filters.append({"column": "clv", "op": ">=", "value": min_clv})
definition = json.dumps(filters, ensure_ascii=False)
try:
    p = query(segments.preview, filters=definition)
except ScrmError as exc:
    st.error(str(exc))
    st.stop()
m1, m2, m3, m4 = st.columns(4)
m1.metric("人数 / Persons", f"{p['persons']:,}", f"{p['share']:.1%}")
m2.metric("净GMV / Net GMV", f"{p['gmv']:,.0f}")
m3.metric("CLV", "-" if p["clv"] is None else f"{p['clv']:,.0f}")
m4.metric("平均P(alive)", "-" if p["avg_p_alive"] is None else f"{p['avg_p_alive']:.2f}")

if user.can("save_segment"):
    name = st.text_input("分群名称 / Segment name", key="segment_name")
    if st.button("保存 / Save", disabled=not name):
        try:
            saved = segments.save_segment(name, filters, author=user.username, role=user.role,
                                          source=warehouse_path())  # fmt: skip
            st.success(f"已保存 / Saved {name} v{saved['version']}: {saved['persons']:,}")
        except ScrmError as exc:
            st.error(str(exc))

st.subheader("已保存的分群 / Saved segments")
saved = segments.list_segments()
if saved.empty:
    st.caption("还没有保存的分群 / No saved segments yet")
    st.stop()
st.dataframe(saved[["name", "version", "author", "created_at", "persons", "build_id"]],
             hide_index=True)  # fmt: skip
choice = st.selectbox("导出 / Export", saved["name"].tolist())
info = segments.show_segment(choice)
members = segments.export_frame(warehouse_path(), segments.segment_members(choice))
show_table(members.head(200), key=f"segment_{choice}")
what = f"segment:{choice}@v{info['version']}"
audited_download("下载 CSV / Download CSV", members, filename=f"{choice}.csv", what=what)
unmask = user.can("unmask") and st.toggle("导出明文 / Export unmasked", key="xlsx_unmask")
audited_download("下载 XLSX / Download XLSX", members, filename=f"{choice}.xlsx", what=what,
                 fmt="xlsx", unmask=unmask)  # fmt: skip
