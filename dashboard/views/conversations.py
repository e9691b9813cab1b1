"""Conversations (会话洞察): what customers say in chats and comments. The intent mix over
time, the daily negative share with its alert days, the 高意向 persons to follow up, the
service KPIs per staff member, CSAT and NPS per week where survey answers exist, a box that
tags a typed message, and a segment of the high-intent persons."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard.components import (
    current_user,
    query,
    query_or_empty,
    show_table,
    status,
    warehouse_path,
    with_interval,
)
from scrm_lib.errors import ScrmError
from scrm_lib.labels import label, labelled, value_label
from scrm_lib.segments import definitions as segments
from scrm_lib.social.conversations import analysis

#: The taxonomy's order (intents that need action first), each with a colour kept across weeks.
INTENT_COLOURS = {
    "purchase_intent": "#2ca02c",
    "needs_explanation": "#98df8a",
    "service_logistics": "#1f77b4",
    "service_return": "#aec7e8",
    "service_order": "#17becf",
    "complaint": "#d62728",
    "churn_risk": "#ff7f0e",
    "praise": "#9467bd",
    "other": "#c7c7c7",
}
FREQS = ("week", "day", "month")
FREQ_LABELS = {"week": "按周 / weekly", "day": "按天 / daily", "month": "按月 / monthly"}
ALERT_COLOUR, SHARE_COLOUR = "#d62728", "#4c78a8"
HIGH_INTENT = [{"tag": "high_intent", "op": "has_tag"}]


def pct(v: object) -> str:
    return "" if v is None or pd.isna(v) else f"{v:.1%}"


def intent_figure(mix: pd.DataFrame) -> go.Figure:
    """Customer messages per period, stacked by intent; the hover gives the share too."""
    order = [i for i in INTENT_COLOURS if i in set(mix["intent"])]
    order += sorted(set(mix["intent"]) - set(order))
    fig = go.Figure()
    for intent in order:
        rows = mix[mix["intent"] == intent]
        name = value_label("intent", intent)
        fig.add_trace(
            go.Bar(
                x=rows["period"],
                y=rows["messages"],
                name=name,
                marker_color=INTENT_COLOURS.get(intent),
                customdata=rows["share"],
                hovertemplate=f"{name}<br>%{{x|%Y-%m-%d}}: %{{y:,}} "
                "(%{customdata:.1%})<extra></extra>",
            )
        )
    fig.update_layout(
        barmode="stack",
        xaxis={"title": {"text": label("period")}},
        yaxis={"title": {"text": label("messages")}},
        legend={"title": {"text": label("intent")}},
        margin={"t": 20},
    )
    return fig


def survey_figure(scores: pd.DataFrame) -> go.Figure:
    """Mean CSAT (1–5, left axis) and NPS (−100 to 100, right axis) per week."""
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=scores["week"], y=scores["csat_mean"], name=label("csat_mean"),
            mode="lines+markers", line={"color": SHARE_COLOUR},
            customdata=scores["csat_responses"],
            hovertemplate="%{x|%Y-%m-%d}: %{y:.2f} (n=%{customdata})<extra></extra>",
        )
    )  # fmt: skip
    fig.add_trace(
        go.Scatter(
            x=scores["week"], y=scores["nps"], name=label("nps"), yaxis="y2",
            mode="lines+markers", line={"color": "#ff7f0e"},
            customdata=scores["nps_responses"],
            hovertemplate="%{x|%Y-%m-%d}: %{y:.0f} (n=%{customdata})<extra></extra>",
        )
    )  # fmt: skip
    fig.update_layout(
        xaxis={"title": {"text": label("week")}},
        yaxis={"title": {"text": label("csat_mean")}, "range": [1, 5]},
        yaxis2={"title": {"text": label("nps")}, "range": [-100, 100], "overlaying": "y",
                "side": "right"},
        margin={"t": 20},
    )  # fmt: skip
    return fig


def sentiment_figure(trend: pd.DataFrame, days: int = 180) -> go.Figure:
    """The negative share per day and over the last 7 days, its baseline, alert days in red.

    A quiet day's share swings between 0% and 100%, so the 7-day share is the line to read;
    the chart opens on the last ``days`` days (zoom out for the rest).
    """
    trend = trend.sort_values("day")
    day = pd.to_datetime(trend["day"])
    week = trend.set_index(day)[["negative", "messages"]].rolling("7D").sum()
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=day, y=trend["share"], mode="lines", name=label("negative_share"),
            line={"color": SHARE_COLOUR, "width": 1}, opacity=0.35,
            customdata=trend[["negative", "messages"]],
            hovertemplate="%{x|%Y-%m-%d}: %{y:.1%} (%{customdata[0]:,} / %{customdata[1]:,})"
            "<extra></extra>",
        )
    )  # fmt: skip
    fig.add_trace(
        go.Scatter(
            x=week.index, y=(week["negative"] / week["messages"]).to_numpy(), mode="lines",
            name=label("negative_share_7d"), line={"color": SHARE_COLOUR, "width": 2.5},
            hovertemplate="%{x|%Y-%m-%d}: %{y:.1%}<extra></extra>",
        )
    )  # fmt: skip
    fig.add_trace(
        go.Scatter(
            x=day, y=trend["baseline"], mode="lines", name=label("baseline"),
            line={"color": "grey", "dash": "dot", "width": 1}, hoverinfo="skip",
        )
    )  # fmt: skip
    flagged = trend["alert"].fillna(False).astype(bool).to_numpy()
    alerts = trend[flagged]
    fig.add_trace(
        go.Scatter(
            x=day[flagged], y=alerts["share"], mode="markers", name=label("alert"),
            marker={"color": ALERT_COLOUR, "size": 11, "symbol": "triangle-up"},
            customdata=alerts["z"],
            hovertemplate="%{x|%Y-%m-%d}: %{y:.1%}, z = %{customdata:.1f}<extra></extra>",
        )
    )  # fmt: skip
    last = day.max()
    shown = (day >= last - pd.Timedelta(days=days)).to_numpy()
    recent = (week["negative"] / week["messages"]).to_numpy()[shown]
    peaks = [recent.max(), trend["baseline"].to_numpy()[shown].max()]
    top = max([0.05, *(2 * v for v in peaks if pd.notna(v))])
    top = max([top, *(1.1 * v for v in alerts["share"].to_numpy()[shown[flagged]])])
    fig.update_layout(
        yaxis={
            "title": {"text": label("negative_share")},
            "tickformat": ".0%",
            "range": [0, min(top, 1.0)],
        },
        xaxis={
            "title": {"text": label("day")},
            "range": [last - pd.Timedelta(days=days), last + pd.Timedelta(days=1)],
        },
        legend={"orientation": "h", "y": 1.1},
        margin={"t": 30},
    )
    return fig


@st.cache_data(show_spinner=False, max_entries=256)
def tag_one(text: str) -> dict:
    return analysis.tag_messages([text]).iloc[0].to_dict()


def try_it() -> None:
    """Tag a typed message: works on any warehouse, with or without the marts."""
    st.subheader("试一试 / Try it")
    text = st.text_input(
        "输入一条客户消息 / Type a customer message", key="conv_try",
        placeholder="例如：蹲链接 / e.g. 不是不喜欢，就是太贵了",
    )  # fmt: skip
    if not text.strip():
        return
    try:
        tags = tag_one(text)
    except ScrmError as exc:
        st.warning(str(exc))
        return
    phrase = tags.get("phrase")
    shown = {
        "意图 / Intent": value_label("intent", tags["intent"]),
        "情绪 / Sentiment": value_label("sentiment", tags["sentiment"]),
        "判定方式 / Decided by": value_label("decided_by", tags["layer"]),
        "命中短语 / Phrase": phrase if isinstance(phrase, str) and phrase else "—",
    }
    for col, (name, value) in zip(st.columns(4), shown.items(), strict=True):
        col.metric(name, value)
    score = tags.get("sentiment_score")
    notes = [f"{label('sentiment_score')} {score:.2f}"] if pd.notna(score) else []
    if isinstance(tags.get("reason"), str) and tags["reason"]:
        notes.append(str(tags["reason"]))
    notes.append(f"{label('taxonomy_version')} {tags.get('taxonomy_version', '')}")
    st.caption(" · ".join(notes))


# ---------------------------------------------------------------- page

st.title("会话洞察 / Conversations")
user = current_user()
if status() is None:
    st.stop()

f1, f2 = st.columns([2, 1])
freq = f1.radio("周期 / Period", FREQS, format_func=FREQ_LABELS.get, horizontal=True,
                key="conv_freq")  # fmt: skip
top_n = int(f2.number_input("高意向显示人数 / High-intent persons shown", min_value=5,
                            max_value=1000, value=50, step=10, key="conv_top_n"))  # fmt: skip

try:
    mix = query(analysis.message_intents, freq=freq)
except ScrmError:
    # an older build: no conversation marts yet, but the tagger still works on typed text
    st.info("没有会话数据：运行 `scrm build` 生成会话标签 / No conversation marts: run "
            "`scrm build` to tag the messages")  # fmt: skip
    try_it()
    st.stop()

st.subheader("意图分布 / Intent mix")
if mix.empty:
    st.info("没有客户消息 / No customer messages")
else:
    total = int(mix["messages"].sum())
    buying = int(mix.loc[mix["intent"] == "purchase_intent", "messages"].sum())
    st.caption(
        f"客户消息 {total:,} 条 / customer messages, 其中高意向 {buying:,} 条 "
        f"({pct(buying / total if total else None)}) / purchase intent"
    )
    st.plotly_chart(intent_figure(mix), width="stretch", key="conv_intents")

st.subheader("负面情绪 / Negative sentiment")
trend = query_or_empty(analysis.sentiment_trend)
if trend.empty:
    st.info("没有客户消息 / No customer messages")
else:
    alert_days = trend[trend["alert"].fillna(False).astype(bool)]
    st.plotly_chart(sentiment_figure(trend), width="stretch", key="conv_sentiment")
    if len(alert_days):
        last = alert_days.iloc[-1]
        st.warning(
            f"{len(alert_days)} 天负面占比突增 / days with a jump in the negative share; "
            f"最近 / latest {pd.Timestamp(last['day']):%Y-%m-%d}: {pct(last['share'])} "
            f"(基线 / baseline {pct(last['baseline'])}, {int(last['negative'])}/"
            f"{int(last['messages'])})"
        )
    else:
        st.caption("没有负面占比突增的日子 / No day with a jump in the negative share")

st.subheader("高意向跟进 / High-intent follow-up")
hot = query_or_empty(analysis.high_intent_persons, limit=top_n)
if hot.empty:
    st.info("近期没有高意向消息 / No purchase-intent message lately")
else:
    st.caption("按最近一条高意向消息排序，消息内容按角色脱敏 / Newest first; the message text is "
               "masked unless an admin unmasks it")  # fmt: skip
    shown = hot.drop(columns=["message_id"], errors="ignore")
    # a message the classifier read matched no phrase: blank, not "None"
    shown["phrase"] = shown["phrase"].fillna("")
    show_table(shown, key="conv_high_intent", table="messages", what="high-intent messages")

st.subheader("客服表现 / Service by staff")
kpis = query_or_empty(analysis.service_view)
if kpis.empty:
    st.info("没有私聊会话 / No private-chat conversations")
else:
    weeks = sorted(kpis["week"].dropna().unique(), reverse=True)
    week = st.selectbox("周 / Week", weeks, key="conv_week")
    rows = kpis[kpis["week"] == week].sort_values("conversations", ascending=False)
    table = pd.DataFrame({
        "staff_id": rows["staff_id"].to_numpy(),
        "conversations": rows["conversations"].to_numpy(),
        "answered_share": [pct(v) for v in rows["answered_share"]],
        "within_share": with_interval(rows["within_share"], rows["within_lo"], rows["within_hi"],
                                      pct),
        "median_first_response_min": rows["median_first_response_min"].round(1).to_numpy(),
        "p90_first_response_min": rows["p90_first_response_min"].round(1).to_numpy(),
        "median_resolution_min": rows["median_resolution_min"].round(1).to_numpy(),
    })  # fmt: skip
    show_table(table, key="conv_service", table="service_kpis")
    st.caption("分钟按工作时间计；括号内为95%区间 / Minutes in business hours; in brackets the "
               "95% interval")  # fmt: skip

st.subheader("满意度与推荐 / CSAT and NPS")
scores = query_or_empty(analysis.survey_view)
if scores.empty:
    st.caption("没有问卷评价数据 / No survey answers (a 满意度 or 推荐意愿 export)")
else:
    st.plotly_chart(survey_figure(scores), width="stretch", key="conv_surveys")
    recent = scores.sort_values("week", ascending=False).head(8)
    # weekly counts and means: no person's data, nothing to mask
    st.dataframe(labelled(pd.DataFrame({
        "week": recent["week"].to_numpy(),
        "csat_responses": recent["csat_responses"].to_numpy(),
        "csat_mean": recent["csat_mean"].round(2).to_numpy(),
        "csat_satisfied_share": [pct(v) for v in recent["csat_satisfied_share"]],
        "nps_responses": recent["nps_responses"].to_numpy(),
        "nps": recent["nps"].round(0).to_numpy(),
    })), hide_index=True, key="conv_survey_table")  # fmt: skip
    st.caption("满意度1–5分，4–5分为满意；净推荐值=推荐者(9–10)占比−贬损者(0–6)占比 / "
               "CSAT 1–5, 4 and 5 satisfied; NPS = promoters (9–10) less detractors (0–6), "
               "in points")  # fmt: skip

try_it()

st.subheader("高意向客户分群 / Make a segment of the high-intent persons")
if not user.can("save_segment"):
    st.caption("保存分群需要营销或管理员角色 / Saving a segment needs the marketer or admin role")
    st.stop()
st.caption(
    "分群条件：带“高意向”标签（近7天有高意向消息）的客户，每次构建更新 / Persons tagged "
    "high_intent (a purchase-intent message in the last 7 days), as of each build"
)
name = st.text_input("分群名称 / Segment name", key="conv_seg_name")
if st.button("保存 / Save", disabled=not name, key="conv_seg_save"):
    try:
        saved = segments.save_segment(
            name, HIGH_INTENT, author=user.username, role=user.role,
            warehouse=warehouse_path(), description="persons tagged high_intent",
        )  # fmt: skip
        st.success(f"已保存 / Saved {name} v{saved['version']}: {saved['persons']:,}")
    except ScrmError as exc:
        st.error(str(exc))
