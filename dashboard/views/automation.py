"""Automation (自动化营销): the rules with their conditions in words, the audiences of a run
date (marketers and admins run a date; viewers read), what the suppression step held back
and why, the outbox (masked unless an admin unmasks, audited) with its audited download for
the sending tool, and each rule's results against its hold-out."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard.components import (
    current_user,
    kpi_tiles,
    settings,
    show_table,
    status,
    warehouse_path,
    with_interval,
)
from scrm_lib.access.state import record_audit
from scrm_lib.engine import published_version
from scrm_lib.errors import ScrmError
from scrm_lib.labels import label, labelled, language, reason, value_label
from scrm_lib.social.automation.words import channels_words, condition_words

#: the outbox rows the page lists at most (the download carries every row to send)
SHOWN_ROWS = 2000
#: sent units in blue, hold-out in grey; an uplift whose interval excludes 0 in colour
SEND, HOLD, UP, DOWN, FLAT = "#4c78a8", "#bbbbbb", "#54a24b", "#d62728", "#999999"
FORMATS = {"csv": ("CSV", "text/csv"),
           "xlsx": ("XLSX", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
           "json": ("JSON", "application/json")}  # fmt: skip
NO_RUNS = (
    "还没有自动化运行：运行 `scrm triggers run --date YYYY-MM-DD`（或由营销、管理员在本页运行）"
    " / No automation runs yet: run `scrm triggers run --date YYYY-MM-DD` (or a marketer or "
    "admin runs a date on this page)"
)


def pct(v: object, digits: int = 1) -> str:
    return "" if v is None or pd.isna(v) else f"{v:.{digits}%}"


# ---------------------------------------------------------------- reads (cached by state)


def _paths() -> tuple[Path, Path]:
    """Where runs are kept and the rules file read (``[automation]`` settings)."""
    from scrm_lib.social.automation.config import automation_config

    cfg = automation_config(settings())
    return Path(cfg["state_path"]), Path(cfg["rules_path"])


def _runs_signature() -> tuple:
    """The state folder and its kept outboxes as (file, mtime): a new run, a re-run or
    another folder invalidates the caches."""
    state, _ = _paths()
    folder = state / "outbox"
    files = sorted(folder.glob("*.parquet")) if folder.exists() else []
    return (str(state), *((f.name, f.stat().st_mtime_ns) for f in files))


def _rules_signature() -> tuple:
    _, rules = _paths()
    try:
        return (str(rules), rules.stat().st_mtime_ns)
    except OSError:
        return (str(rules), 0)


@st.cache_data(show_spinner=False, max_entries=8)
def rules_table(version: str, sig: tuple) -> pd.DataFrame:
    from scrm_lib.social.automation import automation_rules

    return automation_rules(settings=settings())


@st.cache_data(show_spinner=False, max_entries=8)
def runs_table(sig: tuple, home: str) -> pd.DataFrame:
    from scrm_lib.social.automation import automation_runs

    return automation_runs(settings=settings())


@st.cache_data(show_spinner=False, max_entries=8)
def outbox_rows(sig: tuple, home: str, date: str) -> pd.DataFrame:
    from scrm_lib.social.automation import automation_outbox

    return automation_outbox(date, settings=settings())


@st.cache_data(show_spinner="计算结果… / Measuring results…", max_entries=8)
def results_table(sig: tuple, version: str, warehouse: str, home: str) -> pd.DataFrame:
    from scrm_lib.social.automation import automation_results

    return automation_results(warehouse, settings=settings())


@st.cache_data(show_spinner=False, max_entries=8)
def next_day(version: str, warehouse: str) -> dt.date | None:
    """The day after the build's latest order: what the build's audiences were counted for."""
    from scrm_lib.engine import using
    from scrm_lib.social.automation.step import next_run_date

    try:
        with using(warehouse) as con:
            return next_run_date(con, settings().timezone)
    except Exception:  # no orders table, an older warehouse: the page picks today
        return None


# ---------------------------------------------------------------- tables and charts


def rules_display(rules: pd.DataFrame, lang: str) -> pd.DataFrame:
    zh = lang == "zh"
    return pd.DataFrame({
        "rule": rules["rule"].to_numpy(),
        "title": rules["title"].to_numpy(),
        "condition": [condition_words(c, zh) for c in rules["condition"]],
        "channels": [channels_words(c, lang) for c in rules["channels"]],
        "template": rules["template"].to_numpy(),
        "priority": rules["priority"].to_numpy(),
        "holdout": [pct(v, 0) for v in rules["holdout"]],
        "kind": rules["kind"].to_numpy(),
        "window_days": rules["window_days"].to_numpy(),
    })  # fmt: skip


def by_rule_display(out: pd.DataFrame, titles: dict[str, str]) -> pd.DataFrame:
    planned = out["status"] == "planned"
    g = out.assign(
        _planned=planned, _send=out["send"].astype(bool),
        _hold=planned & (out["arm"] == "holdout"), _supp=~planned,
    ).groupby("rule", sort=False)  # fmt: skip
    df = pd.DataFrame({
        "rows_in": g.size(), "planned": g["_planned"].sum(), "to_send": g["_send"].sum(),
        "held_out": g["_hold"].sum(), "suppressed": g["_supp"].sum(),
    }).reset_index()  # fmt: skip
    df.insert(1, "title", df["rule"].map(titles).fillna(df["rule"]))
    first = out.drop_duplicates("rule").set_index("rule")["priority"]
    df.insert(2, "priority", df["rule"].map(first).to_numpy())
    return df.sort_values(["priority", "rule"], kind="stable").reset_index(drop=True)


def suppression_figure(supp: pd.DataFrame, titles: dict[str, str]) -> go.Figure:
    """Suppressed rows by reason (bars), stacked by rule."""
    order = supp["reason"].value_counts().index.tolist()
    names = [reason(r) for r in order]
    fig = go.Figure()
    for rule, part in supp.groupby("rule", sort=True):
        counts = part["reason"].value_counts().reindex(order, fill_value=0)
        fig.add_trace(go.Bar(
            x=names, y=counts.to_numpy(), name=titles.get(rule, rule),
            hovertemplate=f"{label('reason')}: %{{x}}<br>{label('rule')}: "
            f"{titles.get(rule, rule)}<br>{label('rows')}: %{{y:,}}<extra></extra>",
        ))  # fmt: skip
    fig.update_layout(
        barmode="stack", margin={"t": 30},
        xaxis={"title": {"text": label("reason")}},
        yaxis={"title": {"text": label("suppressed")}},
        legend={"title": {"text": label("rule")}},
    )  # fmt: skip
    return fig


def uplift_figure(res: pd.DataFrame, titles: dict[str, str]) -> go.Figure:
    """Each rule's uplift against its hold-out with the 95% interval; 0 marked."""
    res = res[res["uplift"].notna()].iloc[::-1]
    names = [titles.get(r, value_label("rule", r)) for r in res["rule"]]
    colour = [UP if lo > 0 else DOWN if hi < 0 else FLAT
              for lo, hi in zip(res["uplift_lo"], res["uplift_hi"], strict=True)]  # fmt: skip
    fig = go.Figure(go.Scatter(
        x=res["uplift"], y=names, mode="markers",
        marker={"size": 11, "color": colour},
        error_x={"type": "data", "symmetric": False,
                 "array": (res["uplift_hi"] - res["uplift"]).to_numpy(),
                 "arrayminus": (res["uplift"] - res["uplift_lo"]).to_numpy()},
        customdata=res[["uplift_lo", "uplift_hi", "send_units", "holdout_units"]].to_numpy(),
        hovertemplate=f"%{{y}}<br>{label('uplift')}: %{{x:.2%}} (%{{customdata[0]:.2%}}–"
        f"%{{customdata[1]:.2%}})<br>{label('send_units')}: %{{customdata[2]:,}}<br>"
        f"{label('holdout_units')}: %{{customdata[3]:,}}<extra></extra>",
    ))  # fmt: skip
    fig.add_vline(x=0, line_dash="dash", line_color="#666666")
    fig.update_layout(
        margin={"t": 30}, height=120 + 40 * len(res),
        xaxis={"title": {"text": "增量转化率（95%区间）/ Uplift (95% interval)"},
               "tickformat": ".1%"},
        yaxis={"title": {"text": label("rule")}},
    )  # fmt: skip
    return fig


def results_display(res: pd.DataFrame, titles: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({
        "rule": res["rule"].to_numpy(),
        "title": [titles.get(r, "全部规则 / All rules" if r == "all" else r)
                  for r in res["rule"]],
        "units": res["units"].to_numpy(),
        "maturing": res["maturing"].to_numpy(),
        "send_units": res["send_units"].to_numpy(),
        "holdout_units": res["holdout_units"].to_numpy(),
        "sent": res["sent"].to_numpy(),
        "open_rate": [pct(v) for v in res["open_rate"]],
        "click_rate": [pct(v) for v in res["click_rate"]],
        "conversion_send": [pct(v, 2) for v in res["conversion_send"]],
        "conversion_holdout": [pct(v, 2) for v in res["conversion_holdout"]],
        "uplift": with_interval(res["uplift"], res["uplift_lo"], res["uplift_hi"],
                                lambda v: f"{v:+.2%}"),
        "p_value": ["" if pd.isna(v) else f"{v:.3f}" for v in res["p_value"]],
        "incremental_conversions": ["" if pd.isna(v) else f"{v:+.1f}"
                                    for v in res["incremental_conversions"]],
        "conversion_days": ["" if pd.isna(v) else str(int(v)) for v in res["conversion_days"]],
        "notes": res["note"].astype("object").where(res["note"].notna(), "").to_numpy(),
    })  # fmt: skip


def export_file(date: str, fmt: str, username: str, role: str, unmask: bool) -> bytes:
    """The rows to send of ``date``'s outbox, made by the library's export on the click
    (masked unless an admin unmasks; the library audits it)."""
    from scrm_lib.social.automation import export_outbox

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"outbox.{fmt}"
        export_outbox(date, out=path, username=username, role=role, fmt=fmt,  # type: ignore[arg-type]
                      unmask=unmask, settings=settings())  # fmt: skip
        return path.read_bytes()


# ---------------------------------------------------------------- page

st.title("自动化营销 / Automation")
user = current_user()
if status() is None:
    st.stop()
lang = language()
home = str(settings().home)
st.caption(
    "scrm 不发送消息：它决定谁在何时收到哪条消息，导出发送清单给发送工具（企业微信、短信、"
    "小程序订阅消息），再从回流的触达和订单衡量效果 / scrm sends nothing: it decides who should "
    "get which message when, exports that outbox for the sending tool, and measures what "
    "happened against each rule's hold-out."
)

# ---------------------------------------------------------------- rules
st.subheader("规则 / Rules")
try:
    rules = rules_table(published_version(warehouse_path()), _rules_signature())
except ScrmError as exc:
    st.error(str(exc))
    rules = pd.DataFrame()
titles = dict(zip(rules["rule"], rules["title"], strict=True)) if len(rules) else {}
if len(rules):
    st.dataframe(labelled(rules_display(rules, lang)), hide_index=True, key="auto_rules",
                 height=min(35 * (len(rules) + 1) + 3, 600))  # fmt: skip
    st.caption(
        f"规则版本 / Rules version {rules['rules_version'].iloc[0]} · 每条规则按对照组比例随机留出"
        "一部分客户不发送，用来衡量增量 / each rule keeps a random hold-out, not sent, to measure "
        "its uplift. 营销类消息受频次上限约束，服务类不受 / marketing messages count towards the "
        "frequency cap, service ones do not."
    )

# ---------------------------------------------------------------- runs and audiences
st.subheader("受众 / Audiences")
sig = _runs_signature()
try:
    runs = runs_table(sig, home)
except ScrmError as exc:
    st.warning(str(exc))
    runs = pd.DataFrame()
kept = runs["run_date"].tolist() if len(runs) else []
wh = warehouse_path()
default = (dt.date.fromisoformat(kept[-1]) if kept
           else next_day(published_version(wh), str(wh)) or dt.date.today())  # fmt: skip
day = st.date_input("运行日期 / Run date", value=default, key="auto_date")
date = (day if isinstance(day, dt.date) else default).isoformat()

if user.can("run_automation"):
    again = date in kept
    verb = "重新运行 / Run again" if again else "运行 / Run"
    if st.button(f"{verb} {date}", key="auto_run"):
        from scrm_lib.social.automation import run_triggers

        try:
            with st.spinner("运行规则… / Running the rules…"):
                done = run_triggers(date, str(warehouse_path()), settings=settings())
            record_audit(
                user.username, "run_automation", f"automation_outbox:{date}",
                rows=done["rows_in"], role=user.role,
                detail={"planned": done["planned"], "suppressed": done["suppressed"],
                        "run_id": done["run_id"]},
            )  # fmt: skip
            st.success(
                f"{date}：读入 {done['rows_in']:,} 行 = 计划 {done['planned']:,}（待发送 "
                f"{done['to_send']:,}，对照组 {done['holdout']:,}）+ 拦截 {done['suppressed']:,} / "
                f"rows in {done['rows_in']:,} = planned {done['planned']:,} + suppressed "
                f"{done['suppressed']:,}"
            )
            sig = _runs_signature()
            runs = runs_table(sig, home)
            kept = runs["run_date"].tolist()
        except ScrmError as exc:
            st.error(str(exc))
    st.caption("同一日期再次运行会替换该日的发送清单，频次只计一次 / Running a date again "
               "replaces its outbox; caps count it once.")  # fmt: skip
else:
    st.caption("运行规则需要营销或管理员角色；查看者只能查看已有的运行 / Running the rules needs "
               "the marketer or admin role; viewers read the kept runs.")  # fmt: skip

if not kept:
    st.info(NO_RUNS)
    st.stop()

if date not in kept:
    st.info(f"{date} 没有运行记录：已有 {', '.join(kept[-5:])} / No run for {date}; kept runs: "
            f"{', '.join(kept[-5:])}")  # fmt: skip
    date = kept[-1]
out = outbox_rows(sig, home, date)
run = runs.set_index("run_date").loc[date]
st.markdown(f"**{date}** · 运行 / run `{run['run_id']}` · 构建 / build `{run['build_id']}`")
kpi_tiles({
    "读入 / Rows in": int(run["rows_in"]),
    "计划 / Planned": int(run["planned"]),
    "待发送 / To send": int(run["to_send"]),
    "对照组 / Held out": int(run["holdout"]),
    "已拦截 / Suppressed": int(run["suppressed"]),
    "规则 / Rules": int(out["rule"].nunique()),
    "客户 / Persons": int(out["person_id"].nunique()),
    "拦截率 / Suppressed share": pct(run["suppressed"] / run["rows_in"]
                                     if run["rows_in"] else None),
})  # fmt: skip
if len(out):
    st.dataframe(labelled(by_rule_display(out, titles)), hide_index=True, key="auto_by_rule")
    st.caption("读入 = 计划 + 拦截；计划 = 待发送 + 对照组 / rows in = planned + suppressed; "
               "planned = to send + held out")  # fmt: skip
if len(runs) > 1:
    with st.expander(f"全部运行 / Every kept run ({len(runs)})"):
        st.dataframe(labelled(runs.rename(columns={"holdout": "held_out"})), hide_index=True,
                     key="auto_runs")  # fmt: skip

# ---------------------------------------------------------------- suppression
st.subheader("拦截原因 / Suppressed by reason")
supp = out[out["status"] == "suppressed"]
if supp.empty:
    st.caption("这次运行没有拦截 / Nothing suppressed in this run")
else:
    st.plotly_chart(suppression_figure(supp, titles), width="stretch", key="auto_supp_chart")
    table = supp.pivot_table(index="reason", columns="rule", values="row_id", aggfunc="count",
                             fill_value=0)  # fmt: skip
    table = table.assign(total=table.sum(axis=1)).sort_values("total", ascending=False)
    counts = labelled(pd.DataFrame({"reason": table.index.to_numpy(),
                                    "rows": table["total"].to_numpy()}))  # fmt: skip
    for rule in table.columns.drop("total"):  # one column per rule, headed by its title
        counts[titles.get(rule, rule)] = table[rule].to_numpy()
    st.dataframe(counts, hide_index=True, key="auto_supp_table")
    st.caption(
        "一个拦截步骤作用于每个发送清单：退订与授权（按渠道）、规则窗口内只发一次、静默时段"
        "（顺延，过时则丢弃）、平台配额、频次上限（按优先级）/ One suppression step on every "
        "outbox: consent and opt-outs per channel, one message per rule window, quiet hours "
        "(moved, or dropped when stale), platform quotas, the frequency cap by priority."
    )

# ---------------------------------------------------------------- outbox
st.subheader("发送清单 / Outbox")
f1, f2 = st.columns(2)
statuses = {"all": "全部 / All", "planned": "计划 / Planned", "suppressed": "已拦截 / Suppressed"}
which = f1.selectbox("状态 / Status", list(statuses), format_func=statuses.get,
                     key="auto_status")  # fmt: skip
rule_names = ["all", *sorted(out["rule"].unique())]
pick = f2.selectbox("规则 / Rule", rule_names, key="auto_rule",
                    format_func=lambda r: "全部 / All" if r == "all"
                    else titles.get(r, r))  # fmt: skip
rows = out if which == "all" else out[out["status"] == which]
rows = rows if pick == "all" else rows[rows["rule"] == pick]
cols = ["rule", "person_id", "channel", "platform", "account_id", "staff_id", "arm", "status",
        "reason", "planned_at", "evidence", "template"]  # fmt: skip
if rows.empty:
    st.caption("没有符合条件的行 / No rows")
else:
    listed = rows[cols].head(SHOWN_ROWS).reset_index(drop=True)
    # no staff member, no account, nothing suppressed: a blank cell, not "None"
    blank = ["platform", "account_id", "staff_id", "reason"]
    listed[blank] = listed[blank].astype("object").where(listed[blank].notna(), "")
    show_table(listed, key="auto_outbox", table="automation_outbox",
               what=f"automation_outbox:{date}")  # fmt: skip
    more = ""
    if len(rows) > SHOWN_ROWS:
        more = f"（显示前 {SHOWN_ROWS:,} 行）/ (first {SHOWN_ROWS:,} shown)"
    st.caption(f"{len(rows):,} 行 / rows {more}. 账号按角色脱敏（企业微信、微信的匿名ID保留，"
               "发送工具据此触达）/ accounts masked by role (opaque WeCom and WeChat ids pass, so "
               "the sending tool can reach them).")  # fmt: skip

st.markdown("**下载待发送行 / Download the rows to send**")
if not user.can("export"):
    st.caption("导出需要营销或管理员角色 / Export needs the marketer or admin role")
else:
    unmask = user.can("unmask") and st.toggle(
        "导出明文（审计）/ Export unmasked (audited)", key="auto_export_unmask"
    )
    st.caption(
        f"{int(run['to_send']):,} 行待发送（计划且不在对照组），每次下载都记入审计 / rows to send "
        "(planned, not held out); every download is audited."
    )
    cols_dl = st.columns(len(FORMATS))
    for (fmt, (name, mime)), col in zip(FORMATS.items(), cols_dl, strict=True):
        col.download_button(
            f"下载 {name} / Download {name}",
            data=lambda fmt=fmt: export_file(date, fmt, user.username, user.role, bool(unmask)),
            file_name=f"outbox_{date}.{fmt}", mime=mime, key=f"auto_download_{fmt}",
            on_click="ignore",
        )  # fmt: skip

# ---------------------------------------------------------------- results
st.subheader("效果 / Results against the hold-out")
try:
    res = results_table(sig, published_version(warehouse_path()), str(warehouse_path()), home)
except ScrmError as exc:
    st.warning(str(exc))
    res = pd.DataFrame()
if res.empty:
    st.caption("还没有可衡量的结果 / No results to measure yet")
else:
    per_rule = res[res["rule"] != "all"]
    total = res[res["rule"] == "all"]
    if len(total):
        t = total.iloc[0]
        kpi_tiles({
            "自动化转化率 / Automation conversion": pct(t["conversion_send"], 2),
            "对照组转化率 / Hold-out conversion": pct(t["conversion_holdout"], 2),
            "增量转化率 / Uplift": "" if pd.isna(t["uplift"]) else f"{t['uplift']:+.2%}",
            "增量转化数 / Incremental conversions": "" if pd.isna(t["incremental_conversions"])
            else f"{t['incremental_conversions']:+.1f}",
        })  # fmt: skip
    if per_rule["uplift"].notna().any():
        st.plotly_chart(uplift_figure(per_rule, titles), width="stretch", key="auto_uplift")
    st.dataframe(labelled(results_display(res, titles)), hide_index=True, key="auto_results")
    st.caption(
        f"所有已保存的运行（{kept[0]} – {kept[-1]}）。每条计划行是一个样本；发送组与"
        "对照组在拦截前随机划分，拦截一视同仁；转化窗口内有订单即转化，窗口未满的样本不计（观察期"
        f"未满）。区间为95%置信区间 / Every kept run. Each planned row is a unit; arms are drawn "
        "before suppression and suppressed alike; a unit converts with an order within the "
        "conversion window, and units whose window is still open are left out (maturing). "
        "Intervals are 95%."
    )
