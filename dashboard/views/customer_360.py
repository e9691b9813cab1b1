"""Customer 360: find a person by phone, name, account or person id; accounts, ids, journey."""

import streamlit as st

from dashboard.components import current_user, kpi_tiles, query, require_identity_tables, show_table
from scrm_lib.errors import ScrmError
from scrm_lib.identity import views
from scrm_lib.labels import column_config, fmt_time, labelled, value_label
from scrm_lib.tags.registry import person_tags

st.title("客户360 / Customer 360")
user = current_user()
require_identity_tables()

text = st.text_input(
    "手机号、姓名、账号或客户ID / Phone, name, account or person id",
    key="c360_search",
    placeholder="13812345678 · 张伟 · youzan:+8613812345678 · P…",
)
if not text.strip():
    st.info("输入后回车搜索 / Type and press Enter to search.")
    st.stop()
try:
    hits = query(views.search, text=text.strip())
except ScrmError as exc:
    st.warning(str(exc))
    st.stop()
if hits.empty:
    st.warning(f"没有匹配 / Nothing matches {text.strip()!r}")
    st.stop()

st.subheader(f"匹配的客户 / Matching persons ({len(hits)})")
show_table(hits, key="c360_hits")
person_id = st.selectbox("客户 / Person", hits["person_id"].tolist(), key="c360_person")

card = query(views.person_card, key=person_id, max_rows=200)
person = card["person"]
kpi_tiles(
    {
        "账号 / Accounts": int(person.get("n_accounts", 0)),
        "平台 / Platforms": "、".join(
            str(value_label("platform", p.strip()))
            for p in str(person.get("platforms") or "").split(",")
            if p.strip()
        ),
        "首次 / First seen": fmt_time(person.get("first_seen"))[:10],
        "获客渠道 / Channel": str(person.get("acquisition_channel") or "-"),
    }
)

st.subheader("标签 / Tags")
tags = query(person_tags, person_id=person_id)
if tags.empty:
    st.caption("没有标签 / No tags")
else:
    tags = tags.assign(
        value=[value_label(t, v) if isinstance(v, str) else v
               for t, v in zip(tags["tag"], tags["value"], strict=True)],
    )[["tag", "value", "source", "since"]]  # fmt: skip
    st.dataframe(labelled(tags), hide_index=True)

st.subheader("账号 / Accounts")
show_table(card["accounts"], key="c360_accounts", table="accounts")

st.subheader("标识 / Identifiers by role")
show_table(card["identifiers"], key="c360_ids", table="identifiers",
           what=f"customer_360 {card['person_id']}")  # fmt: skip

st.subheader("旅程 / Journey timeline")
tl = card["timeline"]
if tl.empty:
    st.caption("没有活动 / No activity recorded")
else:
    show_table(
        tl.iloc[::-1], key="c360_timeline",
        column_config=column_config({"amount": st.column_config.NumberColumn(format="yen")}),
    )  # fmt: skip
