"""Referrals & KOC (推荐与KOC): the fission graph in numbers, the referral chain around a
person drawn as a graph, the KOC pool with its score parts, fission campaigns beside the
other acquisition channels (K-factor, generations, reward cost, 30- and 90-day retention and
GMV), a segment of the KOC pool or one tier, and abuse flags with their evidence (admins)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard.components import (
    current_user,
    kpi_tiles,
    query,
    query_or_empty,
    show_table,
    status,
    warehouse_path,
)
from scrm_lib.errors import ScrmError
from scrm_lib.labels import column_config, label, labelled, money, value_label
from scrm_lib.segments import definitions as segments
from scrm_lib.social.referrals import analysis
from scrm_lib.social.referrals.koc import CORE, POTENTIAL

#: fill of a person's box in the chain by KOC tier, and the colour of a link by its kind
TIER_FILL = {CORE: "#f4a6a6", POTENTIAL: "#fdd9b5"}
PLAIN_FILL, SELF_COLOUR = "#eeeeee", "#d62728"
KIND_COLOUR = {"invite": "#4c78a8", "group_leader": "#54a24b", "distributor": "#b279a2"}
#: retention bars (fission, other channels): 30 days light, 90 days dark
LIGHT, DARK = ("#f4a6a6", "#9ecae1"), ("#d62728", "#4c78a8")
DEPTHS = (1, 2, 3, 4, 5)
PARTS = ("downstream_gmv", "conversion", "engagement", "sentiment")
#: the KOC pool is the persons carrying the koc_tier tag the build wrote from koc_scores
POOL, TIERS = "pool", {"pool": None, CORE: CORE, POTENTIAL: POTENTIAL}
TIER_NAMES = {"pool": "全部KOC / Whole pool", CORE: f"{CORE} / Core", POTENTIAL: f"{POTENTIAL} / "
              "Potential"}  # fmt: skip


def pct(v: object) -> str:
    return "" if v is None or pd.isna(v) else f"{v:.1%}"


def yen(v: object) -> str:
    return "" if v is None or pd.isna(v) else money(v)


def dot_text(text: object) -> str:
    """A DOT string literal."""
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def chain_dot(chain: dict) -> str:
    """The chain as Graphviz DOT: one row per generation (inviters above), the chosen person
    framed, KOC tiers filled, links coloured by kind, self-referrals dashed red."""
    me = chain["person_id"]
    lines = [
        "digraph chain {",
        '  graph [rankdir=TB, bgcolor="transparent", nodesep=0.25, ranksep=0.5];',
        '  node [shape=box, style="rounded,filled", fontname="sans-serif", fontsize=10, '
        'color="#999999"];',
        '  edge [color="#999999", arrowsize=0.6];',
    ]
    levels: dict[int, list[str]] = {}
    for n in chain["nodes"]:
        pid, tier = n["person_id"], n.get("koc_tier")
        levels.setdefault(int(n["level"]), []).append(pid)
        text = [pid, *([tier] if tier else [])]
        text.append(f"直接邀请 {int(n.get('direct_invitees') or 0)} 人")
        text.append(f"下游GMV {yen(n.get('downstream_gmv') or 0.0)}")
        box = "\\n".join(dot_text(t)[1:-1] for t in text)  # DOT's line break between lines
        frame = ', penwidth=3, color="#333333"' if pid == me else ""
        fill = TIER_FILL.get(tier, PLAIN_FILL)
        lines.append(f'  {dot_text(pid)} [label="{box}", fillcolor="{fill}", '
                     f"tooltip={dot_text(pid)}{frame}];")  # fmt: skip
    for _, ids in sorted(levels.items()):
        lines.append("  { rank=same; " + " ".join(dot_text(i) for i in ids) + " }")
    for e in chain["edges"]:
        kind = e.get("kind") or ""
        tip = f"{value_label('kind', kind)} · {e.get('campaign') or ''} · {str(e.get('ts'))[:10]}"
        style = (f'color="{SELF_COLOUR}", style=dashed' if e.get("self_referral")
                 else f'color="{KIND_COLOUR.get(kind, "#999999")}"')  # fmt: skip
        lines.append(f"  {dot_text(e['source'])} -> {dot_text(e['target'])} "
                     f"[{style}, tooltip={dot_text(tip)}];")  # fmt: skip
    lines.append("}")
    return "\n".join(lines)


def koc_table(pool: pd.DataFrame) -> pd.DataFrame:
    """The pool for display: rank, tier, score, what each part added, then the raw parts."""
    out = pd.DataFrame({
        "koc_rank": pool["koc_rank"].to_numpy(),
        "person_id": pool["person_id"].to_numpy(),
        "koc_tier": pool["koc_tier"].to_numpy(),
        "koc_score": pool["koc_score"].round(3).to_numpy(),
        **{f"c_{p}": pool[f"c_{p}"].round(3).to_numpy() for p in PARTS},
        "top_part": pool["top_part"].to_numpy(),
        "explanation": pool["explanation"].to_numpy(),
        "direct_invitees": pool["direct_invitees"].to_numpy(),
        "converted_invitees": pool["converted_invitees"].to_numpy(),
        "invite_conversion": [pct(v) for v in pool["invite_conversion"]],
        "downstream_persons": pool["downstream_persons"].to_numpy(),
        "downstream_gmv": pool["downstream_gmv"].round(0).to_numpy(),
        "engagement": pool["engagement"].to_numpy(),
        # the mean P(positive) of their group messages; empty when they wrote none
        "sentiment_score": pool["sentiment"].round(2).to_numpy(),
    })  # fmt: skip
    return out


def campaign_table(rows: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "campaign": rows["key"].to_numpy(),
        "seeds": rows["seeds"].to_numpy(),
        "participants": rows["participants"].to_numpy(),
        "invitees": rows["invitees"].to_numpy(),
        "converted": rows["converted"].to_numpy(),
        "invite_conversion": [pct(v) for v in rows["invite_conversion"]],
        "k_factor": rows["k_factor"].round(2).to_numpy(),
        "generations": rows["generations"].to_numpy(),
        "rewards": rows["rewards"].to_numpy(),
        "reward_cost": [yen(v) for v in rows["reward_cost"]],
        "acquired": rows["acquired"].to_numpy(),
        "cost_per_acquired": [yen(v) for v in rows["cost_per_acquired"]],
        "retention_30": [pct(v) for v in rows["retention_30"]],
        "retention_90": [pct(v) for v in rows["retention_90"]],
        "gmv90_per_person": [yen(v) for v in rows["gmv90_per_person"]],
    })  # fmt: skip


def channel_table(rows: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "channel_type": rows["key"].to_numpy(),
        "acquired": rows["acquired"].to_numpy(),
        "retention_30": [pct(v) for v in rows["retention_30"]],
        "retention_90": [pct(v) for v in rows["retention_90"]],
        "gmv30_per_person": [yen(v) for v in rows["gmv30_per_person"]],
        "gmv90_per_person": [yen(v) for v in rows["gmv90_per_person"]],
        "matured_90": rows["matured_90"].to_numpy(),
    })  # fmt: skip


def retention_figure(rows: pd.DataFrame) -> go.Figure:
    """30- and 90-day retention per acquisition channel type, fission (referral) in red."""
    rows = rows[rows["retention_90"].notna()].sort_values("retention_90", ascending=False)
    names = [value_label("channel_type", k) for k in rows["key"]]
    fission = (rows["key"] == "referral").to_numpy()
    fig = go.Figure()
    for col, (mine, other) in (("retention_30", LIGHT), ("retention_90", DARK)):
        fig.add_trace(
            go.Bar(
                x=names, y=rows[col], name=label(col),
                marker_color=[mine if f else other for f in fission],
                customdata=rows[["acquired", "gmv90_per_person"]].to_numpy(),
                hovertemplate=f"%{{x}}<br>{label(col)}: %{{y:.1%}}<br>{label('acquired')}: "
                f"%{{customdata[0]:,}}<br>{label('gmv90_per_person')}: ¥%{{customdata[1]:,.0f}}"
                "<extra></extra>",
            )
        )  # fmt: skip
    fig.update_layout(
        barmode="group",
        xaxis={"title": {"text": label("channel_type")}},
        yaxis={"title": {"text": "留存率 / Retention"}, "tickformat": ".0%", "range": [0, 1]},
        legend={"orientation": "h", "y": 1.12},
        margin={"t": 30},
    )
    return fig


# ---------------------------------------------------------------- page

st.title("推荐与KOC / Referrals & KOC")
user = current_user()
if status() is None:
    st.stop()
try:
    summary = query(analysis.referral_summary)
except ScrmError as exc:
    st.info(f"没有推荐数据 / No referral data: {exc}")
    st.stop()
if not summary.get("links"):
    st.info("没有推荐关系：导入邀请、团长或分销记录后运行 `scrm build` / No referral links: "
            "ingest invites, group-buy leaders or distributors, then run `scrm build`")  # fmt: skip
    st.stop()

koc = summary.get("koc") or {}
kpi_tiles({
    "推荐关系 / Links": int(summary.get("links") or 0),
    "邀请人 / Inviters": int(summary.get("inviters") or 0),
    "受邀客户 / Invited": int(summary.get("invited") or 0),
    "已转化 / Converted": int(summary.get("converted") or 0),
    "受邀客户GMV / Invited GMV": yen(summary.get("invited_gmv") or 0.0),
    "裂变活动 / Campaigns": int(summary.get("campaigns") or 0),
    f"{CORE} / Core KOC": int(koc.get(CORE, 0)),
    f"{POTENTIAL} / Potential KOC": int(koc.get(POTENTIAL, 0)),
})  # fmt: skip
invited = summary.get("invited") or 0
st.caption(
    f"受邀后{summary.get('conversion_days', 30)}天内首单算转化 / converted: a first order within "
    f"{summary.get('conversion_days', 30)} days of the invite · 转化率 conversion "
    f"{pct((summary.get('converted') or 0) / invited if invited else None)} · 最深 "
    f"{summary.get('max_generation') or 0} 代 / generations deep · 截至 as of "
    f"{str(summary.get('as_of') or '')[:10]}"
)

# ---------------------------------------------------------------- the chain
st.subheader("推荐链 / Referral chain")
scores = query_or_empty(analysis.koc_scores)
pool = scores[scores["koc_tier"].notna()] if len(scores) else scores
c1, c2, c3 = st.columns([2, 2, 1])
picks = pool["person_id"].tolist() if len(pool) else []
described = {
    r.person_id: f"{r.person_id} · {r.koc_tier} · {r.koc_score:.2f}" for r in pool.itertuples()
}
picked = c1.selectbox("从KOC池选择 / From the KOC pool", picks, index=0 if picks else None,
                      format_func=lambda p: described.get(p, p), key="ref_pick")  # fmt: skip
typed = c2.text_input("或输入客户ID / Or type a person id", key="ref_person",
                      placeholder="P0A1B2C3D4E5")  # fmt: skip
depth = c3.selectbox("上下层数 / Depth", DEPTHS, index=1, key="ref_depth")
who = typed.strip() or picked
if not who:
    st.info("没有KOC，请输入客户ID / No KOC yet: type a person id")
else:
    try:
        chain = query(analysis.referral_chain, person_id=who, depth=int(depth))
    except ScrmError as exc:
        st.warning(str(exc))
        chain = None
    if chain is not None:
        above = sum(1 for n in chain["nodes"] if n["level"] < 0)
        below = sum(1 for n in chain["nodes"] if n["level"] > 0)
        st.graphviz_chart(chain_dot(chain), width="stretch")
        st.caption(
            f"`{who}`: 上游 {above} 人、下游 {below} 人（{depth} 层内）/ {above} above and "
            f"{below} below within {depth} links. 红框：{CORE}，橙框：{POTENTIAL}；连线蓝：邀请，"
            "绿：团长，紫：分销员，红色虚线：自邀 / red: core KOC, orange: potential; links "
            "blue: invite, green: group-buy leader, purple: distributor, dashed red: "
            "self-referral"
        )
        with st.expander(f"链上客户 / Persons on the chain ({len(chain['nodes'])})"):
            nodes = pd.DataFrame(chain["nodes"]).rename(columns={"level": "chain_level"})
            show_table(nodes, key="ref_chain_nodes", table="referral_persons")

# ---------------------------------------------------------------- the KOC pool
st.subheader("KOC池 / KOC pool")
weights = summary.get("koc_weights") or {}
total = sum(weights.values()) or 1.0
st.caption(
    "KOC得分 = 各项得分（0–1）的加权平均 / the KOC score is the weighted mean of four parts "
    "(0–1): "
    + " · ".join(f"{value_label('top_part', p)} {weights.get(p, 0) / total:.0%}" for p in PARTS)
    + "。贡献列为每项加到得分上的部分 / the 'adds' columns are what each part added."
)
tier = st.radio("分层 / Tier", list(TIERS), format_func=TIER_NAMES.get, horizontal=True,
                key="ref_tier")  # fmt: skip
shown_pool = pool if TIERS[tier] is None else pool[pool["koc_tier"] == TIERS[tier]]
if shown_pool.empty:
    st.info("KOC池为空 / The KOC pool is empty")
else:
    show_table(
        koc_table(shown_pool), key="ref_koc", table="koc_scores",
        column_config=column_config({
            "downstream_gmv": st.column_config.NumberColumn(format="yen"),
        }),
    )  # fmt: skip

st.markdown("**KOC分群 / Make a segment of these**")
if not user.can("save_segment"):
    st.caption("保存分群需要营销或管理员角色 / Saving a segment needs the marketer or admin role")
else:
    st.caption(
        "分群条件：带“KOC分层”标签（本次构建的KOC池）的客户，每次构建更新 / Persons tagged "
        "koc_tier (the build's KOC pool), as of each build"
    )
    s1, s2 = st.columns(2)
    seg_tier = s1.selectbox("分层 / Tier", list(TIERS), index=list(TIERS).index(tier),
                            format_func=TIER_NAMES.get, key="ref_seg_tier")  # fmt: skip
    name = s2.text_input("分群名称 / Segment name", key="ref_seg_name")
    if st.button("保存 / Save", disabled=not name, key="ref_seg_save"):
        chosen = TIERS[seg_tier]
        definition = [{"tag": "koc_tier", "op": "has_tag",
                       **({"value": chosen} if chosen else {})}]  # fmt: skip
        try:
            saved = segments.save_segment(
                name, definition, author=user.username, role=user.role,
                warehouse=warehouse_path(),
                description=f"KOC pool ({chosen or 'all tiers'}), tagged koc_tier",
            )  # fmt: skip
            st.success(f"已保存 / Saved {name} v{saved['version']}: {saved['persons']:,}")
        except ScrmError as exc:
            st.error(str(exc))

# ---------------------------------------------------------------- campaigns
st.subheader("裂变活动 / Fission campaigns")
camps = query_or_empty(analysis.referral_campaigns, level=None)
rows = camps[camps["level"] == "campaign"] if len(camps) else camps
if rows.empty:
    st.info("没有裂变活动 / No fission campaigns")
else:
    # counts and rates per campaign: no person's data, so no unmask toggle either
    st.dataframe(labelled(campaign_table(rows)), hide_index=True, key="ref_campaigns")
    st.caption(
        "K因子 = 人均邀请 × 邀请转化率（>1 自我增长）；留存：获客后30 / 90天内下过单的占比，"
        "只算满30 / 90天的人 / K-factor = invites per participant × invite conversion (above 1 the "
        "campaign grows by itself); retention: the share with an order within 30 / 90 days of "
        "acquisition, among persons acquired long enough ago"
    )

st.subheader("裂变获客 vs 其他渠道 / Did fission-acquired customers stay?")
types = camps[camps["level"] == "channel_type"] if len(camps) else camps
if types.empty:
    st.info("没有渠道获客数据 / No acquisition channels to compare")
else:
    st.plotly_chart(retention_figure(types), width="stretch", key="ref_retention")
    st.dataframe(labelled(channel_table(types.sort_values("acquired", ascending=False))),
                 hide_index=True, key="ref_channel_types")  # fmt: skip
    fission = types[types["key"] == "referral"]
    others = types[(types["key"] != "referral") & types["matured_90"].gt(0)]
    if len(fission) and len(others) and pd.notna(fission["retention_90"].iloc[0]):
        mine = float(fission["retention_90"].iloc[0])
        rest = float(others["retained_90"].sum() / others["matured_90"].sum())
        st.caption(
            f"老带新获客90天留存 {pct(mine)}，其他渠道合计 {pct(rest)} / 90-day retention of "
            f"referred customers {pct(mine)}, all other channels {pct(rest)}"
        )

# ---------------------------------------------------------------- abuse (admins)
if user.can("review_abuse"):
    st.subheader("异常邀请 / Abuse flags (admins)")
    abuse = query_or_empty(analysis.referral_abuse)
    counts = summary.get("abuse") or {}
    if abuse.empty:
        st.caption("没有异常邀请 / No abuse flags")
    else:
        st.caption(" · ".join(f"{value_label('flag', f)} {n}" for f, n in counts.items())
                   + "。共用的手机号、设备、地址按角色脱敏 / shared phones, devices and addresses "
                   "are masked unless unmasked")  # fmt: skip
        # a flag without a shared identifier, campaign or related persons: blank, not "None"
        text = ["related", "campaign", "kind", "value"]
        abuse = abuse.assign(**{c: abuse[c].astype("object").where(abuse[c].notna(), "")
                                for c in text})  # fmt: skip
        show_table(abuse, key="ref_abuse", table="referral_abuse", what="referral abuse flags")
