"""Segments: the eight RFM segments, a builder with a live preview, save, and audited export."""

import json

import plotly.graph_objects as go
import streamlit as st

from dashboard.components import (
    audited_download,
    current_user,
    query,
    show_table,
    status,
    warehouse_path,
)
from scrm_lib.errors import ScrmError
from scrm_lib.labels import column_config, label, labelled, language, message, money, value_label
from scrm_lib.segments import definitions as segments
from scrm_lib.value import layers, lifecycle, rfm

st.title("客户分层 / Segments")
user = current_user()
lang = language()
if status() is None:
    st.stop()
try:
    seg = query(rfm.segment_summary)
except ScrmError as exc:
    st.info(f"还没有可分层的订单 / Nothing to segment yet: {exc}")
    st.stop()

st.subheader("RFM 八类客户 / The eight RFM segments")
st.caption(f"截至 / As of {seg.attrs.get('as_of')}")
seg = seg.assign(segment=seg[lang], actions=seg[f"action_{lang}"])
shown = seg[seg["persons"] > 0]
if len(shown):
    # a flat treemap with its own hover text: plotly express would show id=, parent=
    fig = go.Figure(
        go.Treemap(
            labels=shown["segment"],
            parents=[""] * len(shown),
            values=shown["persons"],
            customdata=list(
                zip(
                    shown["person_share"].map("{:.1%}".format),
                    shown["gmv"].map(money),
                    shown["gmv_share"].map("{:.1%}".format),
                    shown["actions"],
                    strict=True,
                )
            ),
            marker={
                "colors": shown["gmv_share"],
                "colorscale": "Blues",
                "colorbar": {"title": {"text": label("gmv_share")}, "tickformat": ".0%"},
            },
            texttemplate="%{label}<br>%{value:,} 人",
            hovertemplate=(
                f"<b>%{{label}}</b><br>{label('persons')}: %{{value:,}} (%{{customdata[0]}})"
                f"<br>{label('gmv')}: %{{customdata[1]}} · {label('gmv_share')}: "
                "%{customdata[2]}<br>%{customdata[3]}<extra></extra>"
            ),
        )
    )
    fig.update_layout(title="人数与GMV占比 / Size and GMV share", margin={"t": 50, "b": 10})
    st.plotly_chart(fig, width="stretch")
st.dataframe(
    labelled(seg[["segment", "persons", "person_share", "gmv", "gmv_share", "actions"]]),
    hide_index=True,
    column_config=column_config(
        {
            "person_share": st.column_config.NumberColumn(format="percent"),
            "gmv_share": st.column_config.NumberColumn(format="percent"),
            "gmv": st.column_config.NumberColumn(format="yen"),
        }
    ),
)

st.subheader("分群构建 / Segment builder")
c1, c2, c3 = st.columns(3)
choose = message("choose")
pick_rfm = c1.multiselect("RFM 分层", [s.code for s in rfm.SEGMENTS], placeholder=choose,
                          format_func=lambda c: rfm.SEGMENT_BY_CODE[c].label)  # fmt: skip
pick_layer = c2.multiselect("行为分层 / Layer", list(layers.LAYERS), placeholder=choose,
                            format_func=lambda c: " / ".join(layers.LAYERS[c]))  # fmt: skip
pick_stage = c3.multiselect("生命周期 / Stage", list(lifecycle.STAGES), placeholder=choose,
                            format_func=lambda c: " / ".join(lifecycle.STAGES[c]))  # fmt: skip
c4, c5 = st.columns(2)
min_alive = c4.slider("P(alive) ≥", 0.0, 1.0, 0.0, 0.05)
min_clv = c5.number_input("客户终身价值 CLV ≥ ¥", min_value=0.0, value=0.0, step=50.0)
c6, c7 = st.columns(2)
pick_risk = c6.multiselect("流失风险 / Churn risk", ["high", "medium", "low"], placeholder=choose,
                           format_func=lambda c: value_label("risk_band", c))  # fmt: skip
warning_only = c7.checkbox("仅流失预警 / Early warning only")
# person tags (scrm_lib.tags): carries a tag, optionally one of its values, or does not
tag_rows = {t["tag"]: t for t in segments.tag_filters()}
c8, c9, c10 = st.columns([2, 2, 1])
pick_tag = c8.selectbox("标签 / Tag", list(tag_rows), index=None, placeholder=choose,
                        format_func=lambda t: value_label("tag", t))  # fmt: skip
tag_values = (tag_rows[pick_tag]["values"] or []) if pick_tag else []
pick_tag_values = c9.multiselect(
    "标签值 / Tag value", tag_values, placeholder=choose, disabled=not tag_values,
    format_func=lambda v: value_label(pick_tag, v),
)  # fmt: skip
without_tag = c10.checkbox("不含此标签 / Without it", disabled=not pick_tag)
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
if pick_tag:
    op = "not_has_tag" if without_tag else "has_tag"
    filters.append(
        {"tag": pick_tag, "op": op, **({"value": pick_tag_values} if pick_tag_values else {})}
    )
definition = json.dumps(filters, ensure_ascii=False)
try:
    p = query(segments.preview, filters=definition)
except ScrmError as exc:
    st.error(str(exc))
    st.stop()
m1, m2, m3, m4, m5 = st.columns(5)
m1.metric("人数 / Persons", f"{p['persons']:,}")
# a share of everyone, not a change: a plain percentage, no arrow
m2.metric("占全部客户 / Share of all", f"{p['share']:.1%}")
m3.metric("净GMV / Net GMV", money(p["gmv"]))
m4.metric("客户终身价值 / CLV", money(p["clv"]))
m5.metric("平均活跃概率 / Avg P(alive)",
          "-" if p["avg_p_alive"] is None else f"{p['avg_p_alive']:.2f}")  # fmt: skip

if user.can("save_segment"):
    name = st.text_input("分群名称 / Segment name", key="segment_name")
    if st.button("保存 / Save", disabled=not name):
        try:
            saved = segments.save_segment(name, filters, author=user.username, role=user.role,
                                          warehouse=warehouse_path())  # fmt: skip
            st.success(f"已保存 / Saved {name} v{saved['version']}: {saved['persons']:,}")
        except ScrmError as exc:
            st.error(str(exc))

st.subheader("已保存的分群 / Saved segments")
saved = segments.list_segments()
if saved.empty:
    st.caption("还没有保存的分群 / No saved segments yet")
    st.stop()
st.dataframe(labelled(saved[["name", "version", "author", "created_at", "persons", "build_id"]]),
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
