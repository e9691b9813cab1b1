"""Identity: recognition, platform overlap, hubs, a merge explained; admins record splits."""

import streamlit as st

from dashboard.components import current_user, kpi_tiles, query, require_identity_tables, show_table
from scrm_lib.errors import ScrmError
from scrm_lib.identity import views
from scrm_lib.identity.overrides import add_override, read_overrides
from scrm_lib.labels import label_figure, labelled, message, value_label

st.title("统一身份 / Identity")
user = current_user()
require_identity_tables()

s = query(views.summary)
kpi_tiles(
    {
        "平台账号 / Platform accounts": s["platform_accounts"],
        "客户 / Persons": s["persons"],
        "识别率 / Recognition": f"{s['recognition_rate']:.1%}",
        "枢纽标识 / Hubs": s["hubs"],
        "共用账号 / Shared account keys": s.get("account_key_hubs", 0),
    }
)
edges = s.get("edges_by_stage") or {}
st.caption(
    message(
        "identity_caption",
        merges=f"{s['merges']:,}",
        splits=f"{s['splits']:,}",
        edges="、".join(f"{value_label('stage', k)} {v:,}" for k, v in edges.items())
        or message("identity_edges_none"),
    )
)

st.subheader("识别率与平台重叠 / Recognition and platform overlap")
rec = query(views.recognition)
if len(rec):
    left, right = st.columns(2)
    matrix = query(views.overlap_matrix).copy()
    matrix.index = matrix.index.map(lambda p: value_label("platform", p))
    matrix.columns = matrix.columns.map(lambda p: value_label("platform", p))
    left.plotly_chart(label_figure(views.plot_recognition(labelled(rec, rename=False))),
                      width="stretch")  # fmt: skip
    right.plotly_chart(label_figure(views.plot_overlap(matrix)), width="stretch")

st.subheader('跨平台"新"客户 / "New" accounts already known elsewhere')
monthly = query(views.new_elsewhere_by_month)
if len(monthly):
    st.plotly_chart(label_figure(views.plot_new_elsewhere(monthly)), width="stretch")

st.subheader("枢纽标识 / Hubs (flagged, never linking)")
key_hubs = query(views.hubs, scope="account_key")
if len(key_hubs):
    st.caption(
        "共用账号 / Account keys shared by many buyers (a counter phone typed as the buyer's): "
        "not customers; each order went to its recipient, the rest are unattributed."
    )
    show_table(key_hubs, key="identity_account_hubs")
st.caption("共用标识 / Identifier values shared by more accounts than the hub limit.")
show_table(query(views.hubs, scope="identifier"), key="identity_hubs")

st.subheader("合并解释 / A merge explained")
example = query(views.example_person) or ""
key = st.text_input("客户、账号、手机号或姓名 / Person, account, phone or name", value=example)
if key.strip():
    try:
        pid, accounts, edges = query(views.explain_frames, key=key.strip())
    except ScrmError as exc:
        st.warning(str(exc))
    else:
        st.caption(f"客户 / Person `{pid}`: {len(accounts)} account(s)")
        show_table(accounts, key="identity_explain_accounts")
        show_table(
            edges[["a", "b", "stage", "rule", "evidence", "used"]], key="identity_explain_edges"
        )

if user.can("edit_identity"):
    st.subheader("拆分 / Split or never-link (admins)")
    st.caption("下次构建生效 / Recorded with an audit row; the next build applies it.")
    with st.form("identity_override"):
        action = st.selectbox(
            "操作 / Action",
            ["never_link", "split"],
            format_func={"never_link": "永不合并 / Never link A–B", "split": "拆出 / Split A"}.get,
        )
        account_a = st.text_input("账号 A / Account A")
        account_b = st.text_input("账号 B / Account B (never-link only)")
        reason = st.text_input("原因 / Reason")
        submitted = st.form_submit_button("记录 / Record")
    if submitted:
        try:
            oid = add_override(
                action,
                account_a.strip(),
                account_b.strip() or None if action == "never_link" else None,
                reason=reason,
                username=user.username,
                role=user.role,
            )
        except ScrmError as exc:
            st.error(str(exc))
        else:
            st.success(f"已记录 / Recorded {action} ({oid}); run `scrm build` to apply.")
    recorded = read_overrides()
    if len(recorded):
        show_table(recorded, key="identity_overrides")
