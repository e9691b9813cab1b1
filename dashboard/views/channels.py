"""Channels & funnel: what each acquisition channel's persons are worth (with intervals, cost,
CAC, ROI), 90-day GMV against cost, the journey funnel with its worst step, the staff (导购)
table, unknown channel codes, and a segment of one channel's customers."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard.components import (
    current_user,
    query,
    query_or_empty,
    settings,
    show_table,
    status,
    warehouse_path,
    with_interval,
)
from scrm_lib.errors import ScrmError
from scrm_lib.labels import column_config, label, labelled, message, money, value_label
from scrm_lib.segments import definitions as segments
from scrm_lib.social.channels import analysis
from scrm_lib.social.channels.config import RULES, channels_config
from scrm_lib.social.channels.value import LEVELS

WORST_COLOUR, STEP_COLOUR = "#d62728", "#4c78a8"
RANKED_COLOUR, UNRANKED_COLOUR = "#4c78a8", "#bab0ac"


def pct(v: object) -> str:
    return "" if v is None or pd.isna(v) else f"{v:.1%}"


def yen(v: object) -> str:
    return "" if v is None or pd.isna(v) else money(v)


def ranks(rows: pd.DataFrame, min_cohort: int) -> list[str]:
    """The rank, or a visible note that a group too small to rank is not ranked."""
    note = f"未排名（少于{min_cohort}人）/ not ranked (< {min_cohort})"
    return [str(int(r)) if ok and not pd.isna(r) else note
            for r, ok in zip(rows["rank"], rows["rankable"], strict=True)]  # fmt: skip


def value_table(rows: pd.DataFrame, level: str, min_cohort: int) -> pd.DataFrame:
    """The channel value rows for display: intervals in words, empty cost when unknown."""
    rows = rows.assign(_order=rows["rank"].astype("Float64").fillna(10**9))
    rows = rows.sort_values(["_order", "persons"], ascending=[True, False])
    key = LEVELS[level]
    out = pd.DataFrame({key: rows["key"].to_numpy()})
    if level == "channel_code":
        out["channel_name"] = rows["channel_name"].to_numpy()
    if level in ("campaign", "channel_code"):
        out["channel_type"] = rows["channel_type"].to_numpy()
    out["persons"] = rows["persons"].to_numpy()
    out["conversion"] = with_interval(
        rows["conversion"], rows["conversion_lo"], rows["conversion_hi"], pct
    )
    out["gmv90_per_person"] = with_interval(
        rows["gmv90_per_person"], rows["gmv90_lo"], rows["gmv90_hi"], yen
    )
    out["repeat_rate"] = with_interval(
        rows["repeat_rate"], rows["repeat_lo"], rows["repeat_hi"], pct
    )
    out["clv_mean"] = with_interval(rows["clv_mean"], rows["clv_lo"], rows["clv_hi"], yen)
    for col in ("cost", "cost_per_person", "cac"):
        out[col] = [yen(v) for v in rows[col]]
    for col in ("roi_gmv", "roi_clv"):
        out[col] = [pct(v) for v in rows[col]]
    out["rank"] = ranks(rows, min_cohort)
    return out


def gmv_vs_cost(codes: pd.DataFrame) -> go.Figure | None:
    """90-day GMV per person against cost per person, one bubble per channel code.

    Costs per person run from a few yuan (a 活码) to thousands (an ad bought for a handful of
    persons), so the cost axis is logarithmic when every cost is above zero.
    """
    pts = codes[codes["cost_per_person"].notna() & codes["gmv90_per_person"].notna()]
    if pts.empty:
        return None
    y = pts["gmv90_per_person"]
    log_x = bool((pts["cost_per_person"] > 0).all())
    fig = go.Figure(
        go.Scatter(
            x=pts["cost_per_person"],
            y=y,
            mode="markers+text",
            text=pts["key"],
            textposition="top center",
            marker={
                "size": pts["persons"],
                "sizemode": "area",
                "sizeref": 2.0 * float(pts["persons"].max()) / 45**2,
                "sizemin": 5,
                "color": [RANKED_COLOUR if r else UNRANKED_COLOUR for r in pts["rankable"]],
                "opacity": 0.75,
            },
            error_y={
                "type": "data",
                "symmetric": False,
                "array": (pts["gmv90_hi"] - y).clip(lower=0).fillna(0),
                "arrayminus": (y - pts["gmv90_lo"]).clip(lower=0).fillna(0),
                "thickness": 1,
            },
            customdata=pts["persons"],
            hovertemplate=(
                f"<b>%{{text}}</b><br>{label('persons')}: %{{customdata:,}}"
                f"<br>{label('cost_per_person')}: ¥%{{x:,.0f}}"
                f"<br>{label('gmv90_per_person')}: ¥%{{y:,.0f}}<extra></extra>"
            ),
        )
    )
    # above this line a person's first 90 days already paid back what acquiring them cost
    low, high = float(pts["cost_per_person"].min()), float(pts["cost_per_person"].max())
    even = np.geomspace(max(low, 1e-2), high, 50) if log_x else np.linspace(0, high, 2)
    fig.add_trace(go.Scatter(x=even, y=even, mode="lines", hoverinfo="skip",
                             line={"dash": "dot", "color": "grey", "width": 1}))  # fmt: skip
    top = float(np.nanmax([pts["gmv90_hi"].max(), y.max()])) * 1.15
    fig.update_layout(
        title="90天人均GMV vs 人均成本（虚线：回本）/ 90-day GMV vs cost per person (dotted: "
        "break-even)",
        xaxis={"title": {"text": label("cost_per_person")}, "type": "log" if log_x else "linear"},
        yaxis={"title": {"text": label("gmv90_per_person")}, "range": [0, max(top, 1.0)]},
        showlegend=False,
        margin={"t": 60},
    )
    return fig


def funnel_figure(steps: pd.DataFrame) -> go.Figure:
    """The funnel, the step that loses the most in red."""
    names = [value_label("step", s) for s in steps["step"]]
    fig = go.Figure(
        go.Funnel(
            y=names,
            x=steps["persons"],
            textinfo="value+percent initial",
            marker={"color": [WORST_COLOUR if w else STEP_COLOUR for w in steps["worst"]]},
            hovertemplate=f"%{{y}}<br>{label('persons')}: %{{x:,}}<extra></extra>",
        )
    )
    fig.update_layout(margin={"t": 20, "l": 10})
    return fig


# ---------------------------------------------------------------- page

st.title("渠道与旅程 / Channels & funnel")
user = current_user()
if status() is None:
    st.stop()
try:
    cfg = channels_config(settings())
except ScrmError as exc:
    st.error(str(exc))
    st.stop()

c1, c2, c3, c4, c5 = st.columns([2.2, 1.3, 1.3, 1.4, 1.2])
rule = c1.radio(
    "归因规则 / Attribution rule", RULES, index=RULES.index(cfg["attribution"]),
    format_func=lambda r: value_label("rule", r), horizontal=True, key="ch_rule",
)  # fmt: skip
since = c2.date_input("获客日期起 / Acquired from", value=None, key="ch_since")
until = c3.date_input("获客日期止 / Acquired until", value=None, key="ch_until")
level = c4.selectbox("层级 / Level", list(LEVELS), format_func=lambda v: value_label("level", v),
                     key="ch_level")  # fmt: skip
min_cohort = int(
    c5.number_input("最小人数 / Min group size", min_value=1, value=int(cfg["min_cohort"]),
                    step=5, key="ch_min_cohort")
)  # fmt: skip

# the build's own rule over the whole period reads the marts; anything else is computed now
period = {
    "rule": None if rule == cfg["attribution"] else rule,
    "since": since.isoformat() if isinstance(since, dt.date) else None,
    "until": until.isoformat() if isinstance(until, dt.date) else None,
}
try:
    value = query(
        analysis.channel_value,
        min_cohort=None if min_cohort == cfg["min_cohort"] else min_cohort,
        **period,
    )
except ScrmError as exc:
    st.warning(str(exc))
    st.stop()

st.subheader("渠道价值 / What each channel's customers are worth")
total = value[value["level"] == "total"]
rows = value[value["level"] == level]
if len(total):
    t = total.iloc[0]
    st.caption(
        f"{value_label('rule', rule)} · 共获客 {int(t['persons']):,} 人 / persons acquired · "
        f"首单转化 conversion {pct(t['conversion'])} · 90天人均GMV {yen(t['gmv90_per_person'])}"
    )
if rows.empty:
    st.info("这一层级没有获客记录 / No persons acquired at this level in this period")
else:
    show_table(value_table(rows, level, min_cohort), key="channel_value", table="channel_value")
    st.caption(
        f"括号内为95%区间 / In brackets: the 95% interval. 少于{min_cohort}人的分组不参与排名 / "
        f"groups under {min_cohort} persons are not ranked. 成本为空：有渠道码没有成本 / "
        "empty cost: a code of the group has none. ROI = (GMV − 成本) / 成本."
    )

codes = value[value["level"] == "channel_code"]
fig = gmv_vs_cost(codes)
if fig is None:
    st.info("没有带成本的渠道码 / No channel code has a cost: add costs to the channels table")
else:
    st.plotly_chart(fig, width="stretch")
    st.caption("气泡大小为人数，竖线为95%区间，灰色为未排名 / Bubble size: persons; bars: 95% "
               "interval; grey: not ranked")  # fmt: skip

st.subheader("旅程漏斗 / Journey funnel")
f1, f2 = st.columns([1, 2])
mode = f1.radio(
    "顺序 / Order", ("strict", "any"), index=0 if cfg["funnel_mode"] == "strict" else 1,
    format_func=lambda m: value_label("mode", m), horizontal=True, key="ch_mode",
)  # fmt: skip
try:
    funnel = query(
        analysis.journey_funnel, mode=None if mode == cfg["funnel_mode"] else mode,
        min_cohort=None if min_cohort == cfg["min_cohort"] else min_cohort, **period,
    )  # fmt: skip
except ScrmError as exc:
    st.warning(str(exc))
    funnel = pd.DataFrame(columns=["group"])
groups = ["all", *sorted(set(funnel["group"]) - {"all"})]
group = f2.selectbox("渠道类型 / Channel type", groups, key="ch_group",
                     format_func=lambda g: value_label("channel_type", g))  # fmt: skip
steps = funnel[funnel["group"] == group].sort_values("step_no") if len(funnel) else funnel
if steps.empty:
    st.info("没有进入漏斗的客户 / No one entered the funnel")
else:
    conversion = with_interval(
        steps["from_previous"], steps["from_previous_lo"], steps["from_previous_hi"], pct
    )
    st.plotly_chart(funnel_figure(steps), width="stretch")
    for (_, w), text in zip(steps.iterrows(), conversion, strict=True):
        if w["worst"]:
            st.error(
                f"流失最多的一步 / Loses the most: **{value_label('step', w['step'])}** — "
                f"{int(w['previous']):,} → {int(w['persons']):,}, 上一步转化 / conversion {text}"
            )
    shown = pd.DataFrame({
        "funnel_step": steps["step"].to_numpy(),
        "persons": steps["persons"].to_numpy(),
        "from_previous": conversion,
        "from_start": [pct(v) for v in steps["from_start"]],
        "median_hours_from_previous": [
            "" if pd.isna(v) else f"{v:,.1f}" for v in steps["median_hours_from_previous"]
        ],
        "worst": steps["worst"].to_numpy(),
    })  # fmt: skip
    # counts per step: no personal data, so no unmask toggle either
    st.dataframe(labelled(shown), hide_index=True)

st.subheader("导购 / Staff")
staff = query_or_empty(analysis.staff_view, **period)
if staff.empty:
    st.caption("没有企业微信导购数据 / No WeCom staff data")
else:
    show_table(
        staff, key="channel_staff", table="channel_staff",
        column_config=column_config({
            "contacts_gmv": st.column_config.NumberColumn(format="yen"),
            "lost_gmv": st.column_config.NumberColumn(format="yen"),
            "median_response_minutes": st.column_config.NumberColumn(format="%.1f"),
        }),
    )  # fmt: skip

try:
    unknown = query(analysis.unknown_codes)
except ScrmError:
    unknown = pd.DataFrame()
if len(unknown):
    st.warning(
        f"{len(unknown)} 个渠道码不在渠道表中 / channel codes are not in the channels table "
        f"({int(unknown['touches'].sum()):,} 次触点 touches): 补上后重新构建 / add them, then "
        "build again (`scrm channels unknown-codes`)"
    )
    show_table(unknown, key="channel_unknown")

st.subheader("渠道客户分群 / Make a segment of a channel's customers")
if not user.can("save_segment"):
    st.caption("保存分群需要营销或管理员角色 / Saving a segment needs the marketer or admin role")
    st.stop()
column = LEVELS[level]
keys = rows.sort_values("persons", ascending=False)["key"].tolist()
s1, s2 = st.columns(2)
pick = s1.selectbox(f"{label(column)} / {label(column, lang='en')}", keys, index=None,
                    placeholder=message("choose"), key="ch_seg_key",
                    format_func=lambda k: value_label(column, k))  # fmt: skip
name = s2.text_input("分群名称 / Segment name", key="ch_seg_name")
st.caption(
    "分群按本次构建的归因规则、全部时间段 / The segment follows the build's attribution rule "
    f"({value_label('rule', cfg['attribution'])}) over all periods"
)
if st.button("保存 / Save", disabled=not (pick and name), key="ch_seg_save"):
    try:
        saved = segments.save_segment(
            name, [{"column": column, "op": "==", "value": pick}], author=user.username,
            role=user.role, warehouse=warehouse_path(),
            description=f"customers acquired through {column} {pick}",
        )  # fmt: skip
        st.success(f"已保存 / Saved {name} v{saved['version']}: {saved['persons']:,}")
    except ScrmError as exc:
        st.error(str(exc))
