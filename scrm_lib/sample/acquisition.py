"""How each person was acquired: a code's touch, a friend's invitation, or nothing.

A 活码 (live code) adds the customer to a staff member's WeCom, so a person
acquired by one has a WeCom account; any other code (poster, ad, live room,
store) is a QR scan that opens the mini-program, and so is an invitation.
The person's code drawn in :func:`.persons.make_persons` is matched with the
accounts they have: kept when it fits, swapped for a code of the other kind
when only that account exists, dropped (organic) when neither does. The
account the touch opened was created at the person's ``t0``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scrm_lib.sample.persons import zipf_weights

#: Persons with a mini-program account and no code who came by a friend's invitation.
REFERRAL_SHARE = 0.8
#: Dropout probability bounds after dividing by a code's value multiplier.
P_BOUNDS = (0.01, 0.95)


def _has(accounts: pd.DataFrame, platform: str, n: int) -> np.ndarray:
    pidx = accounts["person_idx"].to_numpy()[accounts["platform"].to_numpy() == platform]
    return np.bincount(pidx, minlength=n) > 0


def _redraw(rng: np.random.Generator, pool: np.ndarray, n: int) -> np.ndarray:
    """Code positions from ``pool`` (a mask over the codes), Zipf like the first draw."""
    w = np.where(pool, zipf_weights(len(pool)), 0.0)
    if not pool.any():
        return np.full(n, -1)
    return rng.choice(len(pool), size=n, p=w / w.sum())


def settle(
    rng: np.random.Generator,
    persons: pd.DataFrame,
    accounts: pd.DataFrame,
    channels: pd.DataFrame,
) -> None:
    """Fix every person's acquisition, in place.

    Sets on ``persons``: ``channel_code``, ``acquisition`` (``code``,
    ``referral`` or ``organic``: a would-be invitee nobody could invite is
    counted organic in the truth) and ``acq_platform``, and multiplies ``lam``
    and divides ``p`` by the code's value multiplier (1 without a code). Sets
    on ``accounts``: ``channel_code``, ``acq`` (the account the touch opened)
    and ``created`` (``t0`` for that account).

    Examples
    --------
    >>> settle(rng, persons, accounts, channels)  # doctest: +SKIP
    >>> persons["acquisition"].value_counts()  # doctest: +SKIP
    """
    n = len(persons)
    has_wecom, has_wechat = _has(accounts, "wecom", n), _has(accounts, "wechat", n)
    codes = channels["渠道码"].to_numpy(dtype=object)
    live_code = channels["渠道类型"].to_numpy(dtype=object) == "活码"

    pos = pd.Index(codes).get_indexer(persons["channel_code"].to_numpy(dtype=object))
    drawn = pos >= 0
    live = drawn & live_code[np.maximum(pos, 0)]
    fits = drawn & np.where(live, has_wecom, has_wechat)
    swap = drawn & ~fits & np.where(live, has_wechat, has_wecom)
    alt_live = _redraw(rng, live_code, n)
    alt_other = _redraw(rng, ~live_code, n)
    pos = np.where(swap & ~live, alt_live, np.where(swap & live, alt_other, pos))
    coded = (fits | swap) & (pos >= 0)
    pos = np.where(coded, pos, -1)
    live = coded & live_code[np.maximum(pos, 0)]
    referral = ~coded & has_wechat & (rng.random(n) < REFERRAL_SHARE)

    persons["channel_code"] = np.where(coded, codes[np.maximum(pos, 0)], "")
    persons["acquisition"] = np.where(coded, "code", np.where(referral, "referral", "organic"))
    persons["acq_platform"] = np.where(
        coded, np.where(live, "wecom", "wechat"), np.where(referral, "wechat", "")
    )
    # A code's value shows in how often its persons buy and how long they stay.
    mult = np.where(coded, channels["multiplier"].to_numpy(dtype=float)[np.maximum(pos, 0)], 1.0)
    persons["lam"] = persons["lam"].to_numpy() * mult
    persons["p"] = np.clip(persons["p"].to_numpy() / mult, *P_BOUNDS)

    pidx = accounts["person_idx"].to_numpy()
    accounts["channel_code"] = persons["channel_code"].to_numpy()[pidx]
    acq = accounts["platform"].to_numpy() == persons["acq_platform"].to_numpy()[pidx]
    accounts["acq"] = acq
    t0 = persons["t0"].to_numpy()[pidx]
    accounts["created"] = np.where(acq, t0, accounts["created"].to_numpy())
