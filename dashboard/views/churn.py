"""Churn: risk distribution, the early-warning list by value at risk with reasons, model quality."""

import streamlit as st

from dashboard.components import audited_download, current_user, kpi_tiles, query, show_table
from scrm_lib.churn import plots, scoring
from scrm_lib.errors import ScrmError
from scrm_lib.labels import column_config, labelled, money, reason

st.title("流失预警 / Churn")
user = current_user()
try:
    card = query(scoring.model_info)
    scores = query(scoring.churn_scores)
except ScrmError as exc:
    st.warning(str(exc))
    st.stop()

warn = scoring.early_warning(scores)
st.caption(
    f"模型 Model `{scores.attrs.get('model_version', '-')}` · 截至 as of "
    f"{scores.attrs.get('as_of', '-')}"
)
kpi_tiles({
    "客户 Persons scored": len(scores),
    "高风险 High risk": int((scores["risk_band"] == "high").sum()),
    "30天沉默 Silent 30 days": int(scores["pre_churn_silent"].sum()),
    "风险价值 Value at risk": money(warn["value_at_risk"].sum()),
})  # fmt: skip
st.plotly_chart(plots.plot_risk_distribution(scores), width="stretch")

st.subheader("预警名单 / Early-warning list (costliest first)")
limit = st.slider("显示 / Show", 10, 500, 50, step=10, key="churn_limit")
cols = ["person_id", "churn_probability", "risk_band", "silent_days", "recency_days", "clv",
        "value_at_risk", "reasons"]  # fmt: skip
show_table(
    warn.head(limit)[cols], key="churn_warning",
    column_config=column_config({
        "churn_probability": st.column_config.NumberColumn(format="percent"),
        "clv": st.column_config.NumberColumn(format="yen"),
        "value_at_risk": st.column_config.NumberColumn(format="yen"),
    }),
)  # fmt: skip
audited_download(
    "下载预警名单 / Download the list", warn[cols], filename="churn_early_warning.csv",
    what="churn_early_warning",
)  # fmt: skip

if user.can("save_segment"):
    with st.form("churn_segment"):
        st.write("把这些客户存为分群 / Make a segment of these")
        name = st.text_input("分群名 / Segment name", value="churn-early-warning")
        top_n = st.number_input("前N名 / Top N by value at risk", 1, max(len(warn), 1),
                                min(limit, max(len(warn), 1)))  # fmt: skip
        if st.form_submit_button("保存 / Save") and len(warn):
            from scrm_lib.segments import definitions as segments

            try:
                saved = segments.save_segment(
                    name, scoring.segment_filter(warn.head(int(top_n))["person_id"]),
                    author=user.username, role=user.role,
                    description="churn early-warning list, top by value at risk",
                )  # fmt: skip
                st.success(f"已保存 saved {saved['name']} v{saved['version']}: "
                           f"{saved['persons']} persons")  # fmt: skip
            except ScrmError as exc:
                st.error(str(exc))

st.subheader("模型质量 / Model quality (temporal backtest)")
if card is None:
    st.info("还没有训练模型 / No model trained yet: `scrm churn train`")
else:
    metrics = card["backtest"]["metrics"]
    st.caption(f"验证截点 validation cutoff {card['backtest']['cutoffs']['validate']} · "
               f"{reason(card['label'])}")  # fmt: skip
    st.dataframe(labelled(plots.metrics_frame(metrics).round(3)), hide_index=True)
    st.plotly_chart(plots.plot_calibration(metrics), width="stretch")
