"""WeCom files: contact details, change callbacks, and the chat archive (会话存档)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from scrm_lib.sample import vocab
from scrm_lib.sample.files import add_duplicates, js, write_lines
from scrm_lib.sample.timeline import DAY, Window

NEVER = np.iinfo("int64").max
CORP_ID = "ww5f3c8a1b2d4e6f70"
#: Follow relations whose staff member recorded the customer's mobile (remark_mobiles);
#: always when the contact was added by searching the phone or from phone contacts.
REMARK_MOBILE_SHARE = 0.75
BY_PHONE = (2, 5)


def contacts_file(rng, accounts, persons, follows, out: Path, window: Window) -> int:
    f = follows.reset_index(drop=True)
    m = len(f)
    row = f["account_row"].to_numpy()
    pidx = accounts["person_idx"].to_numpy()[row]
    # Tags: zero to three per follow relation.
    tag_json = np.array(
        ['{{"group_name":"{}","tag_name":"{}","type":1}}'.format(*t) for t in vocab.WECOM_TAGS],
        dtype=object,
    )
    n_tags = rng.choice(4, size=m, p=[0.35, 0.35, 0.2, 0.1])
    tags = pd.Series(np.full(m, "", dtype=object))
    for j in range(3):
        pick = tag_json[(rng.integers(0, len(tag_json), m) + j * 3) % len(tag_json)]
        tags = tags + np.where(n_tags > j, np.where(j > 0, ",", "") + pick, "")
    mob = np.where(
        accounts["test_phone"].to_numpy()[row],
        vocab.TEST_PHONE,
        np.where(
            (rng.random(m) < REMARK_MOBILE_SHARE) | np.isin(f["add_way"].to_numpy(), BY_PHONE),
            accounts["phone"].to_numpy()[row],
            "",
        ),
    )
    mob_json = np.where(mob == "", "[]", '["' + mob.astype(object) + '"]')
    cat = persons["category"].to_numpy(dtype=object)[pidx]
    remark = np.where(
        rng.random(m) < 0.5,
        accounts["display_name"].to_numpy()[row],
        accounts["display_name"].to_numpy()[row] + "-" + cat,
    )
    desc = np.array(["", "", "老客户", "VIP", "门店到访", "直播间来的"], dtype=object)[
        rng.integers(0, 6, m)
    ]
    entry = (
        '{"userid":'
        + js(f["userid"])
        + ',"remark":'
        + js(remark)
        + ',"description":'
        + js(desc)
        + ',"createtime":'
        + pd.Series(window.unix_s(f["created"].to_numpy())).astype(str)
        + ',"tags":['
        + tags
        + '],"remark_mobiles":'
        + pd.Series(mob_json)
        + ',"add_way":'
        + f["add_way"].astype(str)
        + ',"state":'
        + js(f["state"])
        + "}"
    )
    first = pd.Series(entry[~f["second"]].to_numpy(), index=row[~f["second"].to_numpy()])
    sec = pd.Series(entry[f["second"]].to_numpy(), index=row[f["second"].to_numpy()])
    follow = first + ("," + sec).reindex(first.index).fillna("")
    r = first.index.to_numpy()
    a = accounts
    rng.random(len(r))  # the contact type is drawn with the account; the draw stays
    typ = a["contact_type"].to_numpy()[r]
    union = a["unionid"].to_numpy(dtype=object)[r]
    union_part = np.where(pd.notna(union), ',"unionid":' + js(union).to_numpy(dtype=object), "")
    gender = persons["gender"].to_numpy()[a["person_idx"].to_numpy()[r]]
    lines = (
        '{"errcode":0,"errmsg":"ok","external_contact":{"external_userid":'
        + js(a["native_id"].to_numpy()[r])
        + ',"name":'
        + js(a["nickname"].to_numpy()[r])
        + ',"type":'
        + pd.Series(typ).astype(str)
        + ',"gender":'
        + pd.Series(gender).astype(str)
        + pd.Series(union_part)
        + '},"follow_user":['
        + follow.reset_index(drop=True)
        + "]}"
    )
    return write_lines(lines, out / "wecom_contacts.jsonl")


def _event(t, change, user, ext, extra="") -> pd.Series:
    n = len(t)
    return (
        '{"ToUserName":"'
        + CORP_ID
        + '","FromUserName":"sys","MsgType":"event","CreateTime":'
        + pd.Series(t).astype(str)
        + ',"Event":"change_external_contact","ChangeType":"'
        + change
        + '","UserID":'
        + js(user)
        + ',"ExternalUserID":'
        + js(ext)
        + pd.Series(np.broadcast_to(np.asarray(extra, dtype=object), (n,)))
        + "}"
    )


def events_file(
    rng, accounts, follows, groups, members, churned, churn_t, window, out: Path, noise: dict
) -> tuple[int, pd.DataFrame]:
    """Change callbacks; returns the row count and the customer-deleted-staff events."""
    f = follows.reset_index(drop=True)
    nid = accounts["native_id"].to_numpy(dtype=object)
    row = f["account_row"].to_numpy()
    span = window.seconds
    orig = np.where(pd.notna(f["handover_from"]), f["handover_from"], f["userid"])
    parts, times = [], []

    def add(t, lines):
        parts.append(lines)
        times.append(np.asarray(t))

    t = f["created"].to_numpy()
    add(
        t,
        _event(
            window.unix_s(t),
            "add_external_contact",
            orig,
            nid[row],
            ',"State":' + js(f["state"]).to_numpy(dtype=object),
        ),
    )
    tr = f["transfer_t"].to_numpy() < NEVER
    t = f["transfer_t"].to_numpy()[tr]
    add(
        t,
        _event(
            window.unix_s(t),
            "transfer_success",
            f["userid"].to_numpy()[tr],
            nid[row[tr]],
            ',"HandoverUserID":' + js(f["handover_from"].to_numpy()[tr]).to_numpy(dtype=object),
        ),
    )
    fail = rng.random(len(f)) < 0.005
    t = np.minimum(f["created"].to_numpy()[fail] + 30 * DAY, span - 1)
    add(
        t,
        _event(
            window.unix_s(t),
            "transfer_fail",
            orig[fail],
            nid[row[fail]],
            ',"FailReason":"customer_refused"',
        ),
    )
    # Customers delete their sales rep when they drift away: mostly the churned, near churn.
    pidx = accounts["person_idx"].to_numpy()[row]
    ch = churned[pidx]
    p_del = np.where(ch, 0.35, 0.03)
    when = np.where(
        ch,
        np.maximum(churn_t[pidx], f["created"].to_numpy()) + rng.integers(0, 60 * DAY, len(f)),
        f["created"].to_numpy()
        + (rng.random(len(f)) * (span - f["created"].to_numpy())).astype("int64"),
    )
    dele = (rng.random(len(f)) < p_del) & (when < span) & (when > f["created"].to_numpy())
    t = when[dele]
    add(
        t, _event(window.unix_s(t), "del_follow_user", f["userid"].to_numpy()[dele], nid[row[dele]])
    )
    deleted = pd.DataFrame({"account_row": row[dele], "t": t})
    staff_del = rng.random(len(f)) < 0.01
    t = f["created"].to_numpy()[staff_del] + rng.integers(DAY, 100 * DAY, int(staff_del.sum()))
    keep = t < span
    add(
        t[keep],
        _event(
            window.unix_s(t[keep]),
            "del_external_contact",
            f["userid"].to_numpy()[staff_del][keep],
            nid[row[staff_del]][keep],
        ),
    )
    audit = rng.random(len(f)) < 0.2
    t = np.minimum(
        f["created"].to_numpy()[audit] + rng.integers(60, 5 * DAY, int(audit.sum())), span - 1
    )
    add(
        t,
        _event(
            window.unix_s(t), "msg_audit_approved", f["userid"].to_numpy()[audit], nid[row[audit]]
        ),
    )

    # Group chat membership changes.
    room = groups["roomid"].to_numpy(dtype=object)
    owner = groups["owner"].to_numpy(dtype=object)
    mrow = members["account_row"].to_numpy()
    g = members["group"].to_numpy()
    for kind, tcol, scene in (
        ("add_member", "join_t", "JoinScene"),
        ("del_member", "leave_t", "QuitScene"),
    ):
        t = members[tcol].to_numpy()
        ok = t < span
        sc = rng.choice(3, size=int(ok.sum())) + (1 if kind == "add_member" else 0)
        lines = (
            '{"ToUserName":"'
            + CORP_ID
            + '","FromUserName":"sys","MsgType":"event","CreateTime":'
            + pd.Series(window.unix_s(t[ok])).astype(str)
            + ',"Event":"change_external_chat","ChatId":'
            + js(room[g[ok]])
            + ',"ChangeType":"update","UpdateDetail":"'
            + kind
            + '","'
            + scene
            + '":'
            + pd.Series(sc).astype(str)
            + ',"UserID":'
            + js(owner[g[ok]])
            + ',"MemChangeCnt":1,"MemChangeList":['
            + js(nid[mrow[ok]])
            + "]}"
        )
        add(t[ok], lines)

    lines = pd.concat(parts, ignore_index=True)
    t_all = np.concatenate(times)
    # Callbacks arrive roughly in time order, with retries and lag shuffling neighbours.
    jitter = t_all + rng.integers(0, 6 * 3600, len(t_all))
    lines = lines.iloc[np.argsort(jitter, kind="stable")].reset_index(drop=True)
    df, n_dup = add_duplicates(rng, lines.to_frame("l"), 0.003)
    noise["wecom_events.jsonl"] = {
        "duplicate_rows": n_dup,
        "garbage_rows": 0,
        "time_order": "roughly sorted, neighbours shuffled by up to 6 h",
    }
    return write_lines(df["l"], out / "wecom_events.jsonl"), deleted


def _text(rng, intent: np.ndarray) -> np.ndarray:
    out = np.empty(len(intent), dtype=object)
    pre = np.array(vocab.CHAT_PREFIX, dtype=object)
    for name, phrases in vocab.INTENTS.items():
        sel = intent == name
        k = int(sel.sum())
        ph = np.array(phrases, dtype=object)[rng.integers(0, len(phrases), k)]
        suf = np.array(vocab.CHAT_SUFFIX[name], dtype=object)
        out[sel] = pre[rng.integers(0, len(pre), k)] + ph + suf[rng.integers(0, len(suf), k)]
    return out


def chat_file(
    rng, accounts, follows, groups, members, orders, churned, churn_t, window, out: Path
) -> tuple[int, pd.DataFrame]:
    """Private and group messages; returns the row count and the truth labels."""
    span = window.seconds
    f = follows[~follows["second"].to_numpy()]
    contact_staff = pd.Series(f["userid"].to_numpy(), index=f["account_row"].to_numpy())
    contact_created = pd.Series(f["created"].to_numpy(), index=f["account_row"].to_numpy())
    # Each person's WeCom account (at most one per person).
    wc_of_person = pd.Series(
        f["account_row"].to_numpy(),
        index=accounts["person_idx"].to_numpy()[f["account_row"].to_numpy()],
    )
    rows, ts, intents = [], [], []
    op = orders["person_idx"].to_numpy()
    has = np.isin(op, wc_of_person.index.to_numpy())
    o = orders[has]
    acct = wc_of_person.reindex(o["person_idx"].to_numpy()).to_numpy()
    created = contact_created.reindex(acct).to_numpy()

    def after(col, lo, hi):  # an offset from a status time, "never" when it never happened
        base = o[col].to_numpy()
        return np.where(base < NEVER, base + rng.integers(lo, hi, len(o)), NEVER)

    specs = [
        ("purchase_intent", o["created"].to_numpy() - rng.integers(300, 3 * DAY, len(o)), 0.22),
        ("complaint", o["request_at"].to_numpy(), 0.4),
        ("praise", after("done_at", 0, 10 * DAY), 0.06),
        ("service", after("paid_at", 3600, 3 * DAY), 0.08),
    ]
    for intent, t, p in specs:
        valid = (t < span) & (t > created) & (rng.random(len(o)) < p)
        rows.append(acct[valid])
        ts.append(t[valid])
        intents.append(np.full(int(valid.sum()), intent, dtype=object))
    # Background chatter over the contact's life, and complaints around churn.
    rr = f["account_row"].to_numpy()
    k = rng.poisson(0.8, len(rr))
    r = np.repeat(rr, k)
    c0 = np.repeat(f["created"].to_numpy(), k)
    t = c0 + (rng.random(len(r)) * (span - c0)).astype("int64")
    rows.append(r)
    ts.append(t)
    intents.append(
        np.array(list(vocab.INTENTS), dtype=object)[
            rng.choice(5, size=len(r), p=[0.2, 0.2, 0.05, 0.1, 0.45])
        ]
    )
    pidx = accounts["person_idx"].to_numpy()[rr]
    sad = churned[pidx] & (rng.random(len(rr)) < 0.2)
    t = np.maximum(churn_t[pidx[sad]], f["created"].to_numpy()[sad]) + rng.integers(
        0, 20 * DAY, int(sad.sum())
    )
    rows.append(rr[sad][t < span])
    ts.append(t[t < span])
    intents.append(np.full(int((t < span).sum()), "complaint", dtype=object))

    cust = pd.DataFrame(
        {"row": np.concatenate(rows), "t": np.concatenate(ts), "intent": np.concatenate(intents)}
    )
    cust["t"] = cust["t"].astype("int64")
    nid = accounts["native_id"].to_numpy(dtype=object)
    # A quarter of what members say is said in their group.
    first_m = members.drop_duplicates("account_row").set_index("account_row")
    jm = first_m.reindex(cust["row"].to_numpy())
    in_group = (
        (jm["join_t"].to_numpy() <= cust["t"].to_numpy())
        & (cust["t"].to_numpy() < jm["leave_t"].to_numpy())
        & (rng.random(len(cust)) < 0.25)
    )
    gidx = np.where(in_group, jm["group"].fillna(0).to_numpy().astype("int64"), 0)
    room = np.where(in_group, groups["roomid"].to_numpy(dtype=object)[gidx], "")
    staff = contact_staff.reindex(cust["row"].to_numpy()).to_numpy(dtype=object)
    staff = np.where(in_group, groups["owner"].to_numpy(dtype=object)[gidx], staff)
    c = pd.DataFrame(
        {
            "from": nid[cust["row"].to_numpy()],
            "to": staff,
            "roomid": room,
            "t": cust["t"].to_numpy(),
            "intent": cust["intent"].to_numpy(),
        }
    )
    c["text"] = _text(rng, c["intent"].to_numpy())
    # Staff answer most private questions within two hours.
    ans = (room == "") & (rng.random(len(c)) < 0.8)
    s = pd.DataFrame(
        {
            "from": staff[ans],
            "to": c["from"].to_numpy()[ans],
            "roomid": "",
            "t": c["t"].to_numpy()[ans] + rng.integers(30, 7200, int(ans.sum())),
            "intent": "staff",
        }
    )
    # Group owners post offers to their groups every week or so.
    n_posts = rng.poisson(max(1, window.days // 7), len(groups))
    gi = np.repeat(np.arange(len(groups)), n_posts)
    g0 = groups["created"].to_numpy()[gi]
    posts = pd.DataFrame(
        {
            "from": groups["owner"].to_numpy(dtype=object)[gi],
            "to": "",
            "roomid": groups["roomid"].to_numpy(dtype=object)[gi],
            "t": g0 + (rng.random(len(gi)) * (span - g0)).astype("int64"),
            "intent": "staff",
        }
    )
    staff_msgs = pd.concat([s, posts], ignore_index=True)
    lines_pool = np.array(vocab.STAFF_LINES, dtype=object)
    staff_msgs["text"] = lines_pool[rng.integers(0, len(lines_pool), len(staff_msgs))]
    msgs = pd.concat([c, staff_msgs], ignore_index=True)
    msgs = msgs[msgs["t"] < span].sort_values("t", kind="stable").reset_index(drop=True)
    n = len(msgs)
    msgtime = window.unix_ms(msgs["t"].to_numpy(), rng)
    seq = 10**18 + np.cumsum(rng.integers(1, 10**6, n))
    msgid = pd.Series(seq).astype(str) + "_" + pd.Series(msgtime).astype(str) + "_external"
    to = msgs["to"].to_numpy(dtype=object)
    tolist = np.where(to == "", "[]", '["' + to.astype(str).astype(object) + '"]')
    lines = (
        '{"msgid":'
        + js(msgid)
        + ',"action":"send","from":'
        + js(msgs["from"])
        + ',"tolist":'
        + pd.Series(tolist)
        + ',"roomid":'
        + js(msgs["roomid"])
        + ',"msgtime":'
        + pd.Series(msgtime).astype(str)
        + ',"msgtype":"text","text":{"content":'
        + js(msgs["text"])
        + "}}"
    )
    sentiment = pd.Series(msgs["intent"]).map(vocab.INTENT_SENTIMENT).fillna("neutral")
    truth = pd.DataFrame(
        {
            "msgid": msgid,
            "intent": msgs["intent"].to_numpy(),
            "sentiment": sentiment.to_numpy(),
            "direction": np.where(msgs["intent"] == "staff", "out", "in"),
            "roomid": msgs["roomid"].to_numpy(),
        }
    )
    return write_lines(lines, out / "wecom_chat_archive.jsonl"), truth
