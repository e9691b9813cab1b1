"""Referral structure with known answers: influential persons and planted abuse.

The natural invite graph (:func:`.miniapp.referrals`) is Pareto-weighted and
random: nobody in it is influential by design. This module plants, from its
own random stream and after every other simulation step has drawn:

- influential persons: a few early mini-program customers who take over the
  invites of referral-acquired persons that converted fast and bought well,
  some of them through invitees of theirs (multi-hop), so that their true
  downstream net GMV is clearly the highest of all persons;
- fake invitees: new mini-program users (``用户8372``, never an order) that a
  few inviters create in bursts minutes apart, some of them sharing a burner
  phone number (one fake person per phone);
- rings: a few cycles A→B→C→A of later invites among existing referral
  customers, each invite in a different campaign;
- self-referrals: a second mini-program account of a person, with the
  person's phone, invited by their first account.

Planted accounts and persons are appended after the simulated ones (rows
and ids follow on), so every simulated row keeps its index and id.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from scrm_lib.sample import dialects as D
from scrm_lib.sample import orders as O
from scrm_lib.sample import vocab
from scrm_lib.sample.files import js, money, write_csv
from scrm_lib.sample.ids import random_strings
from scrm_lib.sample.journeys import net_value
from scrm_lib.sample.timeline import DAY, Window

#: Influential persons: this share of all persons, and at least MIN_INFLUENCERS.
INFLUENCER_SHARE = 0.0005
MIN_INFLUENCERS = 5
#: Their invitees placed their first order within this many days of the invite.
CONVERT_DAYS = 14
#: Each influential person's downstream net GMV is at least this multiple of
#: the highest any other person reaches.
MARGIN = 1.25
#: Invitees first given to each influential person: this share of the busiest
#: natural inviter's, and at least MIN_DIRECT.
DIRECT_SHARE = 0.6
MIN_DIRECT = 12
#: Every CHAIN_EVERY-th invitee given to an influential person is invited by
#: one of their earlier invitees instead: chains two hops deep below them.
CHAIN_EVERY = 4
#: Shares an influential person makes besides those before each invite (mean).
INFLUENCER_SHARES = 20
#: Fake invitees per burst, and the seconds between two of them.
BURST_SIZE = (6, 13)
BURST_GAP_S = (10, 60)
#: Fake accounts sharing one burner phone (one fake person): at most this many,
#: since OneID takes a phone on more mini-program accounts for a hub, not a person.
PHONE_GROUP = 3
#: Campaigns of a ring's invites, one each.
RING_CAMPAIGNS = ("老带新有礼", "好友助力", "邀请有礼")
#: Prefixes of the virtual-operator numbers the burner phones use.
BURNER_PREFIXES = ("170", "171", "165", "167")

CASE_COLUMNS = [
    "case_id",
    "kind",
    "inviter_account_ids",
    "invitee_account_ids",
    "person_ids",
    "detail",
]


@dataclass
class Plants:
    """The simulation's frames with the planted rows, and what was planted.

    ``persons``, ``accounts``, ``churned``, ``churn_t`` and ``info`` are the
    simulated ones with planted rows appended; ``roles`` is aligned with
    ``info``; ``ref`` holds every invite, ``acquiring`` marks the invites
    that acquired their invitee (not rings nor self-referrals).
    ``user_lines`` are the planted accounts' lines of the users file;
    ``extra_shares`` the mean of further shares per row of the simulated
    ``info`` (the influential persons share more).
    """

    persons: pd.DataFrame
    accounts: pd.DataFrame
    churned: np.ndarray
    churn_t: np.ndarray
    info: pd.DataFrame
    roles: np.ndarray
    ref: pd.DataFrame
    acquiring: np.ndarray
    user_lines: pd.Series
    influencers: np.ndarray
    extra_shares: np.ndarray
    fake_persons: np.ndarray
    cases: pd.DataFrame


def _subtree_gmv(a: np.ndarray, b: np.ndarray, order: np.ndarray, gmv: np.ndarray) -> np.ndarray:
    """Downstream GMV per person on a forest of invites (each invitee invited once).

    An inviter subscribed before their invitee, so walking the invites from the
    latest back (``order``) finishes every invitee's subtree before it is added upwards.
    """
    sub = [0.0] * len(gmv)
    g = np.asarray(gmv, dtype=float).tolist()
    for x, y in zip(a[order].tolist(), b[order].tolist(), strict=True):
        sub[x] += g[y] + sub[y]
    return np.array(sub)


def _year_campaign(window: Window, t: np.ndarray, name) -> np.ndarray:
    year = pd.Series(window.local_text(np.asarray(t), "date")).str.slice(0, 4).to_numpy()
    return (year + np.asarray(name, dtype=object)).astype(object)


def _plant_influencers(rng, persons, accounts, info, ref, roles, gmv, first_paid, window):
    """Rewire invitees under a few early customers; returns the new inviter rows and them.

    First each gets about DIRECT_SHARE of the busiest natural inviter's count
    of the best-buying invitees that converted fast, two of those inviting
    every CHAIN_EVERY-th of the rest; then, while one of them is short of
    MARGIN, the weakest takes the invitee bringing most with them (their
    subtree included), which also thins the natural chains.
    """
    n = len(persons)
    po = accounts["person_idx"].to_numpy()
    rows = info["account_row"].to_numpy()
    wx_row = np.full(n, -1)
    wx_row[po[rows]] = rows
    wx_sub = np.full(n, O.NEVER, dtype="int64")
    wx_sub[po[rows]] = info["sub_t"].to_numpy()

    inviter = ref["inviter_row"].to_numpy().copy()
    invitee_row = ref["invitee_row"].to_numpy()
    invitee_p = po[invitee_row]
    t = ref["t"].to_numpy()
    invited = np.zeros(n, dtype=bool)
    invited[invitee_p] = True
    # customers since before the window, the earliest: nearly every invite can be theirs
    cand = np.flatnonzero((wx_row >= 0) & ~invited & (wx_sub <= 0) & (gmv > 0))
    k = min(max(MIN_INFLUENCERS, round(INFLUENCER_SHARE * n)), len(cand))
    cand = cand[np.argsort(wx_sub[cand], kind="stable")][: max(4 * k, 20)]
    infl = np.sort(rng.choice(cand, size=k, replace=False))
    if k == 0:
        return inviter, infl

    conv = (first_paid[invitee_p] >= t) & (first_paid[invitee_p] - t <= CONVERT_DAYS * DAY)
    ok = (t > wx_sub[infl].max() + DAY) & ~np.isin(invitee_p, infl)
    natural = np.bincount(po[inviter], minlength=n).max()
    d = max(MIN_DIRECT, round(DIRECT_SHARE * natural))
    fast = np.flatnonzero(ok & conv)
    fast = fast[np.argsort(-gmv[invitee_p[fast]], kind="stable")][: d * k]
    # dealt out like cards, each round in a new order: every one gets a similar hand
    deal = np.concatenate([rng.permutation(k) for _ in range(len(fast) // k + 1)])
    owner = infl[deal[: len(fast)]]
    for p in infl:
        mine = fast[owner == p]
        mine = mine[np.argsort(t[mine], kind="stable")]
        inviter[mine] = wx_row[p]
        heads = invitee_row[mine[:2]]
        for i in range(2, len(mine)):
            if i % CHAIN_EVERY == 0:
                inviter[mine[i]] = heads[int(rng.integers(len(heads)))]

    is_infl = np.zeros(n, dtype=bool)
    is_infl[infl] = True
    free = ok.copy()
    free[fast] = False
    order = np.argsort(-t, kind="stable")
    while free.any():
        down = _subtree_gmv(po[inviter], invitee_p, order, gmv)
        short = infl[down[infl] < MARGIN * down[~is_infl].max()]
        if not len(short):
            break
        heads = _subtree_gmv(po[inviter], invitee_p, order, np.ones(n)) > 0
        worth = np.where(free & (conv | heads[invitee_p]), gmv[invitee_p] + down[invitee_p], -1)
        for p in short[np.argsort(down[short], kind="stable")]:
            e = int(np.argmax(worth))
            if worth[e] < 0:
                break
            inviter[e] = wx_row[p]
            free[e] = False
            worth[e] = -1
        else:
            continue
        break
    role_of_row = pd.Series(roles, index=rows)
    changed = inviter != ref["inviter_row"].to_numpy()
    kinds = np.array(["invite", "group_leader", "distributor"], dtype=object)
    names = np.array(["老带新有礼", "团长招募", "分销推广"], dtype=object)
    code = pd.Series({"member": 0, "group_leader": 1, "distributor": 2})
    k_new = code.reindex(role_of_row.reindex(inviter[changed]).to_numpy()).to_numpy()
    ref.loc[changed, "inviter_row"] = inviter[changed]
    ref.loc[changed, "kind"] = kinds[k_new]
    ref.loc[changed, "campaign"] = _year_campaign(window, t[changed], names[k_new])
    return inviter, infl


def _new_accounts(accounts: pd.DataFrame, n: int) -> pd.DataFrame:
    """Blank mini-program account rows with every column of ``accounts``."""
    blank = {}
    for c in accounts.columns:
        dt = accounts[c].dtype
        if pd.api.types.is_bool_dtype(dt):
            blank[c] = np.zeros(n, dtype=bool)
        elif pd.api.types.is_integer_dtype(dt):
            blank[c] = np.zeros(n, dtype=dt)
        else:
            blank[c] = np.full(n, None, dtype=object)
    return pd.DataFrame(blank)


def _burner_phones(rng, k: int, taken: set[str]) -> list[str]:
    out: list[str] = []
    while len(out) < k:
        p = BURNER_PREFIXES[int(rng.integers(len(BURNER_PREFIXES)))]
        p += f"{int(rng.integers(0, 10**8)):08d}"
        if p not in taken:
            taken.add(p)
            out.append(p)
    return out


def plant(
    rng: np.random.Generator,
    persons: pd.DataFrame,
    accounts: pd.DataFrame,
    churned: np.ndarray,
    churn_t: np.ndarray,
    info: pd.DataFrame,
    ref: pd.DataFrame,
    roles: np.ndarray,
    orders: pd.DataFrame,
    window: Window,
    user_dialect: dict | None,
) -> Plants:
    """Plant influential persons and abuse into the invite graph (see the module doc)."""
    n = len(persons)
    ref = ref.copy()
    po = accounts["person_idx"].to_numpy()
    paid = net_value(orders, window)
    gmv = np.bincount(paid["person_idx"].to_numpy(), weights=paid["net"], minlength=n)
    first_paid = np.full(n, O.NEVER, dtype="int64")
    np.minimum.at(first_paid, paid["person_idx"].to_numpy(), paid["created"].to_numpy())

    inviter, infl = _plant_influencers(
        rng, persons, accounts, info, ref, roles, gmv, first_paid, window
    )
    rows = info["account_row"].to_numpy()
    sub = info["sub_t"].to_numpy()
    wx_row = np.full(n, -1)
    wx_row[po[rows]] = rows
    wx_sub = np.full(n, O.NEVER, dtype="int64")
    wx_sub[po[rows]] = sub
    role_of_row = pd.Series(roles, index=rows)
    invitee_p = po[ref["invitee_row"].to_numpy()]
    inviter_p = po[inviter]
    # everyone below an influential person stays out of the abuse cases
    below = np.zeros(n, dtype=bool)
    below[infl] = True
    for i in np.argsort(ref["t"].to_numpy(), kind="stable"):
        if below[inviter_p[i]]:
            below[invitee_p[i]] = True
    used = below.copy()
    n_acc = np.bincount(po, minlength=n)
    late = window.seconds - 150 * DAY

    def pick(mask: np.ndarray, k: int) -> np.ndarray:
        cand = np.flatnonzero(mask & ~used)
        got = np.sort(rng.choice(cand, size=min(k, len(cand)), replace=False))
        used[got] = True
        return got

    role_is_member = np.zeros(n, dtype=bool)
    role_is_member[po[rows]] = np.asarray(roles, dtype=object) == "member"
    has_wx = (wx_row >= 0) & (wx_sub < late)
    abusers = pick(has_wx & role_is_member, max(2, round(n / 5000)))
    leaf = np.ones(n, dtype=bool)
    leaf[inviter_p] = False
    invited = np.zeros(n, dtype=bool)
    invited[invitee_p] = True
    ring_p = pick(has_wx & invited & leaf, 3 * max(2, round(n / 5000)))
    ring_p = ring_p[: len(ring_p) // 3 * 3]
    w_orders = orders[orders["platform"].to_numpy() == "wechat"]
    shows_phone = np.zeros(n, dtype=bool)  # a mini-program order's address has it in full
    ok_rows = w_orders["account_row"].to_numpy()
    ok_rows = ok_rows[~accounts["test_phone"].to_numpy()[ok_rows]]
    shows_phone[po[ok_rows]] = True
    selfish = pick(has_wx & shows_phone & (n_acc < 4), max(3, round(n / 4000)))

    new_rows: list[dict] = []  # planted accounts: person, time, phone, nickname, ...
    new_edges: list[tuple] = []  # (inviter_row, new account index or row, t, kind, campaign)
    cases: list[dict] = []
    fake_persons: list[int] = []
    next_person = n
    taken = set(persons["phone"].astype(str))
    nick_words = np.array(vocab.NICKNAME_WORDS, dtype=object)
    nick_extras = np.array(vocab.NICKNAME_EXTRAS, dtype=object)
    new_id = lambda i: len(accounts) + i  # noqa: E731

    # Fake invitees, in bursts minutes apart; half the bursts share burner phones.
    burst_no = 0
    for a in abusers:
        for _ in range(1 + int(rng.random() < 0.5)):
            size = int(rng.integers(*BURST_SIZE))
            start = max(int(wx_sub[a]), 0) + DAY
            start += int(rng.random() * max(window.seconds - 2 * DAY - start, 1))
            times = start + np.cumsum(rng.integers(*BURST_GAP_S, size))
            shared = rng.random() < 0.5
            groups = np.arange(size) // PHONE_GROUP if shared else np.arange(size)
            phones = _burner_phones(rng, int(groups.max()) + 1, taken) if shared else None
            burst_no += 1
            first_new = len(new_rows)
            group_person = {}
            for j in range(size):
                g = int(groups[j])
                if g not in group_person:
                    group_person[g] = next_person
                    fake_persons.append(next_person)
                    next_person += 1
                new_rows.append(
                    {
                        "person_idx": group_person[g],
                        "t": int(times[j]),
                        "phone": phones[g] if shared else None,
                        "nickname": f"用户{int(rng.integers(1000, 10000))}",
                        "display_name": None,
                        "city": persons["city"].to_numpy()[a],
                        "fake": True,
                    }
                )
                camp = _year_campaign(window, times[j : j + 1], ["老带新有礼"])[0]
                new_edges.append((wx_row[a], len(new_rows) - 1, int(times[j]), "invite", camp))
            span = (times[-1] - times[0]) / 60
            ids = list(range(first_new, len(new_rows)))
            cases.append(
                {
                    "kind": "burst",
                    "inviter": [wx_row[a]] * size,
                    "invitee": [("new", i) for i in ids],
                    "persons": [a, *sorted({new_rows[i]["person_idx"] for i in ids})],
                    "detail": f"{size} invites in {span:.0f} min"
                    + (f", {len(phones)} shared phone(s)" if shared else ""),
                }
            )
            for i in ids:
                ph = new_rows[i]["phone"]
                cases.append(
                    {
                        "kind": "fake_invitee",
                        "inviter": [wx_row[a]],
                        "invitee": [("new", i)],
                        "persons": [a, new_rows[i]["person_idx"]],
                        "detail": f"burst {burst_no}" + (f", phone +86{ph}" if ph else ""),
                    }
                )

    # Rings: later invites A→B→C→A among referral customers, one campaign each.
    ring_edges = []
    for r in range(len(ring_p) // 3):
        trio = ring_p[3 * r : 3 * r + 3]
        t = int(wx_sub[trio].max()) + int(rng.integers(5, 40)) * DAY
        tt = []
        for _ in range(3):
            t = min(
                t + int(rng.integers(3, 30)) * DAY + int(rng.integers(0, DAY)), window.seconds - 1
            )
            tt.append(t)
        for j in range(3):
            a, b = wx_row[trio[j]], wx_row[trio[(j + 1) % 3]]
            camp = _year_campaign(window, np.array([tt[j]]), [RING_CAMPAIGNS[j]])[0]
            ring_edges.append((a, b, tt[j], "invite", camp))
        cases.append(
            {
                "kind": "ring",
                "inviter": [wx_row[p] for p in trio],
                "invitee": [wx_row[trio[(j + 1) % 3]] for j in range(3)],
                "persons": list(trio),
                "detail": "→".join(str(c[4]) for c in ring_edges[-3:]),
            }
        )

    # Self-referrals: a second account with the person's phone, invited by their first.
    for p in selfish:
        t = max(int(wx_sub[p]), 0) + int(rng.integers(3, 60)) * DAY + int(rng.integers(0, DAY))
        t = min(t, window.seconds - 3600)
        nick = (
            nick_words[rng.integers(len(nick_words))] + nick_extras[rng.integers(len(nick_extras))]
        )
        new_rows.append(
            {
                "person_idx": p,
                "t": t,
                "phone": persons["phone"].to_numpy()[p],
                "nickname": nick,
                "display_name": persons["name"].to_numpy()[p],
                "city": persons["city"].to_numpy()[p],
                "fake": False,
            }
        )
        k = {"member": 0, "group_leader": 1, "distributor": 2}[role_of_row[wx_row[p]]]
        kind = ("invite", "group_leader", "distributor")[k]
        camp = _year_campaign(window, np.array([t]), [("老带新有礼", "团长招募", "分销推广")[k]])[0]
        new_edges.append((wx_row[p], len(new_rows) - 1, t, kind, camp))
        cases.append(
            {
                "kind": "self_referral",
                "inviter": [wx_row[p]],
                "invitee": [("new", len(new_rows) - 1)],
                "persons": [p],
                "detail": "same phone",
            }
        )

    # The planted accounts, persons and users-file lines.
    m = len(new_rows)
    nr = pd.DataFrame(new_rows)
    add = _new_accounts(accounts, m)
    native = "o" + random_strings(rng, m, 27)
    if m:
        add["person_idx"] = nr["person_idx"].to_numpy()
        add["platform"] = "wechat"
        add["display_name"] = nr["display_name"].fillna(nr["nickname"]).to_numpy()
        add["phone"] = nr["phone"].to_numpy()
        add["created"] = nr["t"].to_numpy()
        add["city"] = nr["city"].to_numpy()
        add["native_id"] = native
        add["account_id"] = "wechat:" + native
        add["unionid"] = "o" + random_strings(rng, m, 27)
        add["nickname"] = nr["nickname"].to_numpy()
        add["channel_code"] = ""
        # a fake person's first account is the one their (fake) invite opened
        add["acq"] = (nr["fake"] & ~nr["person_idx"].duplicated()).to_numpy()
        if "test_phone" in add:
            add["test_phone"] = False
    assert not set(native) & set(accounts["native_id"]), "a planted openid collides"
    accounts_all = pd.concat([accounts, add], ignore_index=True)
    first_t = nr.groupby("person_idx")["t"].min() if m else pd.Series(dtype="int64")
    fakes = np.array(fake_persons, dtype="int64")
    if len(fakes):
        frow = nr[nr["fake"]].drop_duplicates("person_idx").set_index("person_idx")
        new_p = pd.DataFrame(
            {
                "person_id": pd.Series(fakes + 1).map("P{:07d}".format).to_numpy(),
                "surname": "",
                "given": "",
                "name": frow.loc[fakes, "nickname"].to_numpy(),
                "gender": 0,
                "phone": frow.loc[fakes, "phone"].to_numpy(),
                "email": None,
                "birthday": None,
                "province": None,
                "city": frow.loc[fakes, "city"].to_numpy(),
                "district": None,
                "address": None,
                "category": "",
                "lam": 0.0,
                "p": 1.0,
                "t0": first_t.loc[fakes].to_numpy(),
                "channel_code": "",
                "acquisition": "referral",
                "acq_platform": "wechat",
            }
        )
        persons_all = pd.concat([persons, new_p[persons.columns]], ignore_index=True)
    else:
        persons_all = persons
    churned_all = np.concatenate([churned, np.zeros(len(fakes), dtype=bool)])
    churn_t_all = np.concatenate([churn_t, np.zeros(len(fakes), dtype=churn_t.dtype)])

    info_add = pd.DataFrame(
        {
            "account_row": len(accounts) + np.arange(m),
            "sub_t": nr["t"].to_numpy() if m else np.zeros(0, dtype="int64"),
            "qr_code": "",
            "scene_lost": False,
            "invited": nr["fake"].to_numpy(dtype=bool) if m else np.zeros(0, dtype=bool),
        }
    )
    info_all = pd.concat([info, info_add], ignore_index=True)
    roles_all = np.concatenate([np.asarray(roles, dtype=object), np.full(m, "member", object)])
    user_lines = _user_lines(rng, add, nr, window, user_dialect) if m else pd.Series([], dtype=str)

    def row_of(x):
        return new_id(x[1]) if isinstance(x, tuple) else int(x)

    edges = [(a, new_id(b), t, k, c) for a, b, t, k, c in new_edges] + ring_edges
    extra = pd.DataFrame(edges, columns=["inviter_row", "invitee_row", "t", "kind", "campaign"])
    ref_all = pd.concat([ref, extra.astype({"t": "int64"})], ignore_index=True)
    # a fake invitee's invite acquired them; rings and self-referrals came later
    fake_edge = np.zeros(len(extra), dtype=bool)
    fake_edge[: len(new_edges)] = [bool(new_rows[b]["fake"]) for _, b, _, _, _ in new_edges]
    acquiring = np.concatenate([np.ones(len(ref), dtype=bool), fake_edge])

    acc_ids = accounts_all["account_id"].to_numpy(dtype=object)
    pid_all = persons_all["person_id"].to_numpy(dtype=object)
    case_rows = []
    counters: dict[str, int] = {}
    prefix = {"burst": "B", "fake_invitee": "F", "ring": "R", "self_referral": "S"}
    for c in cases:
        counters[c["kind"]] = counters.get(c["kind"], 0) + 1
        case_rows.append(
            {
                "case_id": f"{prefix[c['kind']]}{counters[c['kind']]:03d}",
                "kind": c["kind"],
                "inviter_account_ids": ";".join(acc_ids[row_of(x)] for x in c["inviter"]),
                "invitee_account_ids": ";".join(acc_ids[row_of(x)] for x in c["invitee"]),
                "person_ids": ";".join(pid_all[p] for p in c["persons"]),
                "detail": c["detail"],
            }
        )
    return Plants(
        persons=persons_all,
        accounts=accounts_all,
        churned=churned_all,
        churn_t=churn_t_all,
        info=info_all,
        roles=roles_all,
        ref=ref_all,
        acquiring=acquiring,
        user_lines=user_lines,
        influencers=infl,
        extra_shares=np.where(np.isin(po[rows], infl), float(INFLUENCER_SHARES), 0.0),
        fake_persons=fakes,
        cases=pd.DataFrame(case_rows, columns=CASE_COLUMNS),
    )


def _user_lines(rng, add: pd.DataFrame, nr: pd.DataFrame, window: Window, d) -> pd.Series:
    """The planted accounts' users-file lines, in the file's own dialect."""
    m = len(add)

    def opt(v):
        v = pd.Series(v, dtype=object)
        return js(v).where(pd.notna(v).to_numpy())

    fields = {
        "openid": js(add["native_id"]),
        "unionid": js(add["unionid"]),
        "nickname": js(add["nickname"]),
        "phone": opt(add["phone"].to_numpy()),
        "gender": pd.Series(np.zeros(m, dtype=int)).astype(str),
        "birthday": opt(np.full(m, None, dtype=object)),
        "city": js(add["city"]),
        "subscribe_time": None,
        "subscribe_scene": pd.Series(np.array([1007, 1008])[rng.integers(0, 2, m)]).astype(str),
        "qr_scene_str": js(np.full(m, "", dtype=object)),
    }
    if d is None:
        d = {"rename": {}, "values": {}, "extra": [], "order": [], "time_unit": "s"}
        d["time_unit"] = D.MINIAPP_USERS.time_units[0][0]
    ms = window.unix_s(nr["t"].to_numpy()) * 1000
    fields["subscribe_time"] = D.json_time(window, ms, d["time_unit"])
    return D.render_json(fields, d, D.MINIAPP_USERS)


def _reach(children: dict[int, list[int]], start: int) -> set[int]:
    seen: set[int] = set()
    stack = list(children.get(start, ()))
    while stack:
        x = stack.pop()
        if x in seen or x == start:
            continue
        seen.add(x)
        stack.extend(children.get(x, ()))
    return seen


def truth_frames(plants: Plants, orders: pd.DataFrame, window: Window) -> dict[str, pd.DataFrame]:
    """``referrals.csv`` (one row per person) and ``referral_abuse.csv`` (one row per case)."""
    persons, accounts = plants.persons, plants.accounts
    n = len(persons)
    po = accounts["person_idx"].to_numpy()
    paid = net_value(orders, window)
    gmv = np.bincount(paid["person_idx"].to_numpy(), weights=paid["net"], minlength=n)
    a = po[plants.ref["inviter_row"].to_numpy()]
    b = po[plants.ref["invitee_row"].to_numpy()]
    fake = np.zeros(n, dtype=bool)
    fake[plants.fake_persons] = True
    # the true person graph: real persons only, an invite of oneself is no edge
    keep = (a != b) & ~fake[b]
    children: dict[int, list[int]] = {}
    for x, y in set(zip(a[keep].tolist(), b[keep].tolist(), strict=True)):
        children.setdefault(x, []).append(y)
    direct = np.zeros(n, dtype="int64")
    direct_gmv = np.zeros(n)
    down_n = np.zeros(n, dtype="int64")
    down_gmv = np.zeros(n)
    for x, kids in children.items():
        direct[x] = len(kids)
        direct_gmv[x] = gmv[kids].sum()
        reach = list(_reach(children, x))
        down_n[x] = len(reach)
        down_gmv[x] = gmv[reach].sum()
    rank = {"member": 0, "group_leader": 1, "distributor": 2}
    rows = plants.info["account_row"].to_numpy()
    r = pd.Series(plants.roles).map(rank).to_numpy()
    best = np.full(n, -1)
    np.maximum.at(best, po[rows], r)
    names = np.array(["", "member", "group_leader", "distributor"], dtype=object)
    influential = np.zeros(n, dtype=bool)
    influential[plants.influencers] = True
    ref = pd.DataFrame(
        {
            "person_id": persons["person_id"],
            "referral_role": names[best + 1],
            "influential": influential,
            "planted_fake": fake,
            "direct_invites": direct,
            "direct_net_gmv": money(np.round(direct_gmv).astype("int64")).to_numpy(),
            "downstream_persons": down_n,
            "downstream_net_gmv": money(np.round(down_gmv).astype("int64")).to_numpy(),
        }
    )
    return {"referrals.csv": ref, "referral_abuse.csv": plants.cases}


def write_truth(out: Path, plants: Plants, orders: pd.DataFrame, window: Window) -> dict[str, int]:
    frames = truth_frames(plants, orders, window)
    for name, df in frames.items():
        write_csv(df, out / name, "utf-8")
    return {name: len(df) for name, df in frames.items()}
