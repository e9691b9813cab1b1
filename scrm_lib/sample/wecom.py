"""WeCom (企业微信) structure: staff, who follows which contact, group chats."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scrm_lib.sample import vocab
from scrm_lib.sample.ids import random_strings
from scrm_lib.sample.timeline import DAY, Window

NEVER = np.iinfo("int64").max
# add_way codes of the external-contact API: 1 QR code, 2 phone search, 3 card share,
# 4 group chat, 5 phone contacts, 6 WeChat contacts, 201 internal share, 202 assigned.
ADD_WAYS = np.array([1, 2, 3, 4, 5, 6, 201, 202])
ADD_WAY_P = np.array([0.55, 0.12, 0.1, 0.1, 0.04, 0.04, 0.03, 0.02])
#: 活码 adds whose ``state`` did not reach the export (the customer added the staff
#: member from a forwarded card of the code, which carries no state).
LOST_STATE = 0.06


def make_staff(rng: np.random.Generator, n_persons: int) -> pd.DataFrame:
    n = max(8, int(np.ceil(n_persons / 1500)))
    s = rng.integers(0, len(vocab.STAFF_SURNAMES), n)
    g = rng.integers(0, len(vocab.STAFF_GIVEN), n)
    base = pd.Series(
        [vocab.STAFF_SURNAMES[i][1] + vocab.STAFF_GIVEN[j][1] for i, j in zip(s, g, strict=True)]
    )
    nth = base.groupby(base).cumcount()
    userid = base.where(nth == 0, base + (nth + 1).astype(str).str.zfill(2))
    name = [vocab.STAFF_SURNAMES[i][0] + vocab.STAFF_GIVEN[j][0] for i, j in zip(s, g, strict=True)]
    dept = np.array(vocab.DEPARTMENTS, dtype=object)[rng.integers(0, len(vocab.DEPARTMENTS), n)]
    return pd.DataFrame({"userid": userid.to_numpy(dtype=object), "name": name, "department": dept})


def _staff_weights(n: int) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** 0.6  # star sales reps carry more customers
    return w / w.sum()


def make_follows(
    rng: np.random.Generator,
    accounts: pd.DataFrame,
    staff: pd.DataFrame,
    channels: pd.DataFrame,
    persons: pd.DataFrame,
    window: Window,
) -> pd.DataFrame:
    """Staff–contact follow relations (one contact may be followed by two staff).

    ``userid`` is the current follower; ``handover_from`` the previous one when
    the contact was transferred (离职继承 / 在职转接). A person acquired by a
    活码 was added through it at their ``t0``: that follow is the code's staff
    member's, with ``state`` = the code, except for the :data:`LOST_STATE`
    share whose state was not recorded (``state_lost``). Any other follow
    with a code is a later touch: a 活码 ``state`` is only written on follows
    made after the person's ``t0``.
    """
    wc = np.flatnonzero(accounts["platform"].to_numpy() == "wecom")
    two = rng.random(len(wc)) < 0.15
    rows = np.concatenate([wc, wc[two]])
    second = np.concatenate([np.zeros(len(wc), bool), np.ones(int(two.sum()), bool)])
    m = len(rows)
    p = _staff_weights(len(staff))
    first_staff = rng.choice(len(staff), size=len(wc), p=p)
    other = (first_staff[two] + 1 + rng.integers(0, len(staff) - 1, int(two.sum()))) % len(staff)
    st = np.concatenate([first_staff, other])
    created = accounts["created"].to_numpy()[rows]
    created = np.where(second, created + rng.integers(DAY, 90 * DAY, m), created)
    created = np.minimum(created, window.seconds - 60)
    add_way = rng.choice(ADD_WAYS, size=m, p=ADD_WAY_P)
    live = channels.loc[channels["渠道类型"] == "活码", "渠道码"].to_numpy(dtype=object)
    person_code = accounts["channel_code"].to_numpy(dtype=object)[rows]
    acq = accounts["acq"].to_numpy(dtype=bool)[rows] & ~second
    t0 = persons["t0"].to_numpy()[accounts["person_idx"].to_numpy()[rows]]
    transferred = rng.random(m) < 0.04
    shift = rng.integers(0, len(staff) - 1, m)
    transfer_t = created + rng.integers(7 * DAY, 200 * DAY, m)
    transferred &= transfer_t < window.seconds
    # (drawn last: the draws above stay where they were)
    other_live = live[rng.integers(0, len(live), m)]
    lost = acq & (rng.random(m) < LOST_STATE)
    add_way = np.where(acq, 1, add_way)
    state = np.where(
        acq,
        np.where(lost, "", person_code),
        np.where((add_way == 1) & (created > t0), other_live, ""),
    )
    code_staff = pd.Series(channels["导购"].to_numpy(), index=channels["渠道码"].to_numpy())
    staff_pos = pd.Series(np.arange(len(staff)), index=staff["userid"].to_numpy())
    own = staff_pos.reindex(code_staff.reindex(person_code).to_numpy()).to_numpy()
    st = np.where(acq & ~np.isnan(own), np.nan_to_num(own), st).astype("int64")
    new_staff = (st + 1 + shift) % len(staff)  # a handover goes to someone else
    userid = staff["userid"].to_numpy(dtype=object)
    return pd.DataFrame(
        {
            "account_row": rows,
            "second": second,
            "created": created,
            "add_way": add_way,
            "state": state,
            "state_lost": lost,
            "userid": np.where(transferred, userid[new_staff], userid[st]),
            "handover_from": np.where(transferred, userid[st], None),
            "transfer_t": np.where(transferred, transfer_t, NEVER),
        }
    )


def make_groups(
    rng: np.random.Generator,
    accounts: pd.DataFrame,
    follows: pd.DataFrame,
    churned: np.ndarray,
    churn_t: np.ndarray,
    window: Window,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Customer group chats and who was in them when (joins and leaves)."""
    first = follows[~follows["second"].to_numpy()]
    n_contacts = len(first)
    n_groups = max(4, n_contacts // 120)
    groups = pd.DataFrame(
        {
            "roomid": "wr" + random_strings(rng, n_groups, 28),
            "owner": first["userid"].to_numpy(dtype=object)[
                rng.integers(0, max(n_contacts, 1), n_groups)
            ]
            if n_contacts
            else np.full(n_groups, "", dtype=object),
            "created": rng.integers(0, window.seconds // 2, n_groups),
            "name": pd.Series(np.arange(1, n_groups + 1)).map("悦享生活福利群{}".format).to_numpy(),
        }
    )
    joins = rng.random(n_contacts) < 0.5
    member = first[joins]
    twice = rng.random(len(member)) < 0.3
    rows = np.concatenate(
        [member["account_row"].to_numpy(), member["account_row"].to_numpy()[twice]]
    )
    base_t = np.concatenate([member["created"].to_numpy(), member["created"].to_numpy()[twice]])
    gsize = 1.0 / np.arange(1, n_groups + 1) ** 0.5
    g = rng.choice(n_groups, size=len(rows), p=gsize / gsize.sum())
    join_t = np.maximum(base_t, groups["created"].to_numpy()[g]) + rng.integers(
        0, 30 * DAY, len(rows)
    )
    pidx = accounts["person_idx"].to_numpy()[rows]
    # People who drop out of buying drift out of the groups too.
    leave_p = np.where(churned[pidx], 0.45, 0.1)
    leaves = rng.random(len(rows)) < leave_p
    leave_t = np.where(
        churned[pidx],
        np.maximum(churn_t[pidx], join_t) + rng.integers(DAY, 90 * DAY, len(rows)),
        join_t + rng.integers(DAY, 400 * DAY, len(rows)),
    )
    keep = join_t < window.seconds
    leave_t = np.where(leaves & (leave_t < window.seconds), leave_t, NEVER)
    members = pd.DataFrame({"account_row": rows, "group": g, "join_t": join_t, "leave_t": leave_t})[
        keep
    ]
    members = members.drop_duplicates(["account_row", "group"]).reset_index(drop=True)
    return groups, members
