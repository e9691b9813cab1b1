"""Experiments: SRM status first, then lifts with intervals, Bayesian and sequential read-outs,
the contamination report and a power calculator. Every number comes from scrm_lib."""

import pandas as pd
import streamlit as st

from dashboard.components import audited_download, query, show_table
from scrm_lib.errors import ScrmError
from scrm_lib.experiments import analysis, contamination_report, list_experiments, plots
from scrm_lib.experiments.power import minimum_detectable_effect, sample_size
from scrm_lib.labels import label_figure, labelled, reason, value_label

st.title("实验 / Experiments")
try:
    known = query(list_experiments)
except ScrmError as exc:
    st.warning(str(exc))
    st.stop()

names = sorted(known["experiment"].unique()) if len(known) else []
if not names:
    st.info("还没有实验 / No experiments in the warehouse yet (assignments table is empty).")
else:
    c1, c2, c3 = st.columns(3)
    name = c1.selectbox("实验 / Experiment", names)
    alpha = c2.select_slider("α", options=[0.01, 0.05, 0.1], value=0.05)
    correction = c3.selectbox("多重比较 / Correction", ["holm", "bh", "none"])
    try:
        result = query(
            analysis.analyze_experiment, experiment=name, alpha=alpha, correction=correction
        )
        res = result.to_dict()
    except ScrmError as exc:
        st.error(str(exc))
        st.stop()
    srm = res["srm"]
    st.subheader("样本比例 / Sample-ratio check")
    if srm["srm"]:
        st.error(
            f"样本比例失衡 / SAMPLE RATIO MISMATCH (p = {srm['p_value']:.2g}): "
            "the assignment or logging is broken — do not trust the lifts below."
        )
    else:
        st.success(f"样本比例正常 / SRM ok (p = {srm['p_value']:.3g})")
    st.dataframe(
        labelled(
            pd.DataFrame(
                {"arm": srm["arms"], "units": srm["observed"], "expected": srm["expected"]}
            )
        ),
        hide_index=True,
    )
    for message in res["messages"]:
        st.warning(reason(message))

    results = result.results
    st.subheader("提升 / Lifts vs control " + f"`{res['control']}`")
    if results.empty:
        st.info("No comparisons.")
    else:
        st.plotly_chart(
            label_figure(plots.plot_lifts(labelled(results, rename=False))), width="stretch"
        )
        cols = ["metric", "arm", "method", "n_control", "n_treatment", "control_mean",
                "treatment_mean", "absolute", "absolute_lo", "absolute_hi", "relative",
                "p_adjusted", "error"]  # fmt: skip
        show_table(results[[c for c in cols if c in results]].round(4), key="ab_lifts")
        st.subheader("贝叶斯与序贯 / Bayesian and sequential")
        show_table(
            results[["metric", "arm", "chance_to_beat_control", "expected_loss",
                     "sequential_p_value", "sequential_lo", "sequential_hi"]],
            key="ab_bayes",
        )  # fmt: skip
        metric = st.selectbox(
            "序贯监控指标 / Metric to monitor", sorted(results["metric"].unique()),
            format_func=lambda m: str(value_label("metric", m)),
        )  # fmt: skip
        looks = query(analysis.sequential_readout, experiment=name, metric=metric, alpha=alpha)
        if len(looks):
            st.plotly_chart(plots.plot_sequential(looks), width="stretch")
        audited_download(
            "下载结果 / Download results", results, filename=f"{name}_results.csv",
            what=f"experiment_{name}",
        )  # fmt: skip

    st.subheader("污染 / Contamination")
    mixed = query(contamination_report, experiment=name)
    st.caption(
        f"{len(mixed):,} 位客户的账号或群在不止一个实验组 / persons had accounts or groups in "
        f"more than one arm (处理方式 policy: {res['info'].get('contamination_policy')})"
    )
    show_table(mixed.head(200), key="ab_contamination")

st.subheader("功效计算 / Power calculator")
p1, p2, p3, p4 = st.columns(4)
KINDS = {"proportion": "比例 / proportion", "mean": "均值 / mean"}
kind = p1.radio("指标 / Metric", list(KINDS), horizontal=True, format_func=KINDS.get)
baseline = p2.number_input("基线 / Baseline", value=0.04 if kind == "proportion" else 100.0)
sd = p3.number_input("标准差 / SD", value=50.0, disabled=kind == "proportion")
mde = p4.number_input(
    "最小可检测效应 / MDE (absolute)", value=0.01 if kind == "proportion" else 5.0
)
q1, q2, q3 = st.columns(3)
cuped_r2 = q1.slider("CUPED R²", 0.0, 0.9, 0.0)
icc = q2.number_input("ICC (cluster)", 0.0, 1.0, 0.0)
cluster_size = q3.number_input("每簇人数 / persons per cluster", 1.0, 10000.0, 1.0)
try:
    n = sample_size(
        baseline=baseline, mde=mde, metric=kind, sd=sd if kind == "mean" else None,
        cuped_r2=cuped_r2, icc=icc, cluster_size=cluster_size,
    )  # fmt: skip
    st.metric("每组样本量 / Units per arm", f"{n['n_control']:,}")
    if "clusters_per_arm" in n:
        st.caption(
            f"每组 {n['clusters_per_arm']:,} 簇 clusters per arm "
            f"(设计效应 design effect {n['design_effect']:.2f})"
        )
    half = minimum_detectable_effect(
        max(n["n_control"] / 2, 2), baseline=baseline, metric=kind,
        sd=sd if kind == "mean" else None, cuped_r2=cuped_r2, icc=icc, cluster_size=cluster_size,
    )  # fmt: skip
    st.caption(f"样本减半时最小可检测效应为 {half:.4g} / "
               f"With half as many units the minimum detectable effect is {half:.4g}.")  # fmt: skip
except ScrmError as exc:
    st.error(str(exc))
