"""Platform accounts of each person and the identifiers each platform shows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scrm_lib.ingest.keys import douyin_buyer_key
from scrm_lib.sample import vocab
from scrm_lib.sample.ids import lowercase, random_strings, unique_ints
from scrm_lib.sample.timeline import DAY, Window

PLATFORMS = np.array(["tmall", "douyin", "youzan", "wechat", "wecom"], dtype=object)
PLATFORM_WEIGHTS = np.array([0.20, 0.15, 0.08, 0.30, 0.27])
N_ACCOUNTS_P = [0.42, 0.32, 0.18, 0.08]  # persons with 1, 2, 3, 4 accounts
ORDER_PLATFORMS = ("tmall", "douyin", "youzan", "wechat")
TEST_PHONE_SHARE = 0.01  # accounts where staff typed the shop test phone instead
TEST_PHONE_MIN = 40  # ... and at least this many in expectation
WECOM_WECHAT_USER_SHARE = 0.96  # WeCom contacts who are WeChat users (type 1)


def mask_phone(phone: pd.Series | np.ndarray) -> np.ndarray:
    s = pd.Series(phone, dtype="str")
    return (s.str.slice(0, 3) + "****" + s.str.slice(7, 11)).to_numpy(dtype=object)


def name_variants(rng: np.random.Generator, surname: np.ndarray, given: np.ndarray) -> np.ndarray:
    """The name as typed on one account: mostly exact, sometimes a variant.

    Variants are what stitching has to see through: a traditional-character
    spelling, a homophone typo in the given name, a dropped character.
    """
    n = len(surname)
    kind = rng.choice(4, size=n, p=[0.66, 0.11, 0.14, 0.09])
    sur = pd.Series(surname, dtype="str")
    giv = pd.Series(given, dtype="str")
    full = sur + giv
    trad = full.str.translate(str.maketrans(vocab.TRADITIONAL))
    last = giv.str.slice(-1)
    homo_last = last.map(vocab.HOMOPHONE).fillna(last)
    homo = sur + giv.str.slice(0, -1) + homo_last
    dropped = sur + giv.str.slice(0, 1)
    out = full.copy()
    out[kind == 1] = trad[kind == 1]
    out[kind == 2] = homo[kind == 2]
    # Only two-character given names can lose one and stay a name.
    drop_ok = (kind == 3) & (giv.str.len() == 2).to_numpy()
    out[drop_ok] = dropped[drop_ok]
    return out.to_numpy(dtype=object)


def _pick_platforms(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    k = rng.choice(4, size=n, p=N_ACCOUNTS_P) + 1
    # Gumbel top-k: weighted sampling without replacement for every person at once.
    keys = np.log(PLATFORM_WEIGHTS)[None, :] + rng.gumbel(size=(n, len(PLATFORMS)))
    rank = np.argsort(np.argsort(-keys, axis=1), axis=1)
    chosen = rank < k[:, None]
    person_idx, plat_idx = np.nonzero(chosen)
    return person_idx, plat_idx


def make_accounts(rng: np.random.Generator, persons: pd.DataFrame, window: Window) -> pd.DataFrame:
    """One row per account: platform, native id, ``account_id`` and shown identifiers."""
    n = len(persons)
    pidx, plat_idx = _pick_platforms(rng, n)
    m = len(pidx)
    plat = PLATFORMS[plat_idx]
    P = persons.iloc[pidx].reset_index(drop=True)
    surname = P["surname"].to_numpy(dtype=object)
    given = P["given"].to_numpy(dtype=object)
    phone = P["phone"].to_numpy(dtype=object)
    acc = pd.DataFrame({"person_idx": pidx, "platform": plat})
    acc["display_name"] = name_variants(rng, surname, given)
    acc["phone"] = phone
    acc["phone_masked"] = mask_phone(phone)
    # staff type the shop's test phone on a few dozen accounts (hundreds in a big base):
    # enough to be a hub at any sample size, not so many that it hides real customers
    test = rng.random(m) < max(TEST_PHONE_SHARE, TEST_PHONE_MIN / max(m, 1))
    acc["test_phone"] = test

    # When the account appeared: at the person's start or some weeks later.
    later = rng.random(m) < 0.45
    created = P["t0"].to_numpy() + np.where(later, rng.exponential(60 * DAY, m), 0).astype("int64")
    acc["created"] = np.minimum(created, window.seconds - 3600)

    native = np.empty(m, dtype=object)

    # Tmall: a unique buyer nick, masked Alipay account.
    t = plat == "tmall"
    nt = int(t.sum())
    uid = unique_ints(rng, nt, 1000, 10**9).astype(str).astype(object)
    tmpl = rng.choice(4, size=nt, p=[0.4, 0.2, 0.25, 0.15])
    last_char = pd.Series(given[t], dtype="str").str.slice(-1).to_numpy(dtype=object)
    prefixes = np.select(
        [tmpl == 0, tmpl == 1, tmpl == 2],
        ["tb", "小" + last_char + "宝贝", acc["display_name"].to_numpy()[t]],
        lowercase(rng, nt, 6),
    )
    native[t] = prefixes + uid
    email = P["email"].to_numpy(dtype=object)[t]
    use_mail = pd.notna(email) & (rng.random(nt) < 0.5)
    mail_mask = (
        pd.Series(email, dtype="str").str.slice(0, 1)
        + "***@"
        + pd.Series(email, dtype="str").str.split("@").str[-1]
    ).to_numpy(dtype=object)
    alipay = np.where(use_mail, mail_mask, acc["phone_masked"].to_numpy()[t])
    acc["alipay_masked"] = None
    acc.loc[t, "alipay_masked"] = alipay

    # Shipping-side masked phone: Tmall and Douyin show only 138****5678.
    shown_masked = np.where(test, mask_phone(np.full(m, vocab.TEST_PHONE)), acc["phone_masked"])
    acc["shown_masked"] = shown_masked

    # Douyin: no buyer id; the key is a hash of what the export shows.
    d = plat == "douyin"
    acc["province"] = P["province"].to_numpy()
    acc["city"] = P["city"].to_numpy()
    acc["district"] = P["district"].to_numpy()
    acc["address"] = P["address"].to_numpy()
    dkey = douyin_buyer_key(
        acc.loc[d, "display_name"], acc.loc[d, "shown_masked"], acc.loc[d, "address"]
    )
    dup = dkey.duplicated(keep="first").to_numpy()
    if dup.any():  # two people, same name, same masked phone, same address: move one
        rows = np.flatnonzero(d)[dup]
        acc.loc[rows, "address"] = (
            acc.loc[rows, "address"] + "（" + np.arange(len(rows)).astype(str) + "）"
        )
        dkey = douyin_buyer_key(
            acc.loc[d, "display_name"], acc.loc[d, "shown_masked"], acc.loc[d, "address"]
        )
    native[d] = dkey.to_numpy(dtype=object)

    # Youzan: the buyer's phone is the member id.
    y = plat == "youzan"
    native[y] = "+86" + phone[y]

    # WeChat mini-program and WeCom: opaque ids; unionid ties them when bound.
    w = plat == "wechat"
    native[w] = "o" + random_strings(rng, int(w.sum()), 27)
    c = plat == "wecom"
    native[c] = "wm" + random_strings(rng, int(c.sum()), 30)
    person_union = "o" + random_strings(rng, n, 27)
    # The brand's mini-program and WeCom are bound to one open-platform account, so
    # the unionid is a property of the brand, not of the account: every mini-program
    # user has one, and so has every WeCom contact who is a WeChat user (type 1).
    # Type 2 contacts are WeCom users of other companies: no unionid.
    u_draw = rng.random(m)
    rng.random(m)  # keeps the later draws of a seed where they were
    acc["contact_type"] = np.where(c, np.where(u_draw < WECOM_WECHAT_USER_SHARE, 1, 2), 0)
    bound = w | (acc["contact_type"].to_numpy() == 1)
    acc["unionid"] = np.where(bound, person_union[pidx], None)

    acc["native_id"] = native
    acc["account_id"] = plat + ":" + native
    extras = np.array(vocab.NICKNAME_EXTRAS, dtype=object)
    words = np.array(vocab.NICKNAME_WORDS, dtype=object)
    nick_kind = rng.random(m)
    acc["nickname"] = np.where(
        nick_kind < 0.4,
        words[rng.integers(0, len(words), m)] + extras[rng.integers(0, len(extras), m)],
        np.where(
            nick_kind < 0.75,
            extras[rng.integers(0, len(extras), m)] + given,
            acc["display_name"].to_numpy(),
        ),
    )
    acc["channel_code"] = P["channel_code"].to_numpy()
    return acc
