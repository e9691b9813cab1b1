"""Two experiments with known true effects, written into the purchase stream.

1. ``birthday_msg``: a birthday message, variant A (plain greeting) or B
   (greeting + coupon), randomized PER ACCOUNT (WeChat openid / WeCom
   contact), so a person with two accounts may land in both arms. Outcome:
   the person orders anywhere within 7 days of the message.
2. ``group_buy_post``: a 拼团 post in customer group chats, randomized BY
   GROUP (unit = roomid). Outcome: a member orders within 3 days.

For every enrolled, active person the simulated purchases inside the
outcome window are replaced: exactly round(rate × n) randomly chosen persons
of each arm convert (one order in the window), the others do not. The
realized rates therefore equal the true rates up to rounding, so a pipeline
test can compare its estimate with the truth without sampling noise among
active persons; the noise left is the real-world kind (contamination across
arms, inactive units diluting per-account rates).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scrm_lib.sample.timeline import DAY, Window

BIRTHDAY = {"name": "birthday_msg", "rate_a": 0.04, "rate_b": 0.052, "days": 7}
GROUP = {"name": "group_buy_post", "rate_a": 0.05, "rate_b": 0.10, "days": 3}


def _birthday_in(birthday: pd.Series, lo: pd.Timestamp, hi: pd.Timestamp) -> pd.Series:
    """The first occurrence of each birthday (month-day) in ``[lo, hi]``, else NaT."""
    md = birthday.str.slice(5, 10)
    md = md.where(md != "02-29", "03-01")
    out = pd.Series(pd.NaT, index=birthday.index, dtype="datetime64[us]")
    for year in range(lo.year, hi.year + 1):
        cand = pd.to_datetime(str(year) + "-" + md, format="%Y-%m-%d", errors="coerce")
        ok = out.isna() & cand.notna() & (cand >= lo) & (cand <= hi)
        out[ok] = cand[ok]
    return out


def _replace_outcome(rng, purchases, person, at, days, rate):
    """Drop each person's purchases in ``[at, at + days)`` and draw one at ``rate``."""
    ends = at + days * DAY
    lo = pd.Series(at, index=person)
    hi = pd.Series(ends, index=person)
    p = purchases["person_idx"].to_numpy()
    in_exp = np.isin(p, person)
    a = lo.reindex(p[in_exp]).to_numpy()
    b = hi.reindex(p[in_exp]).to_numpy()
    t = purchases["t"].to_numpy()[in_exp]
    drop = np.zeros(len(purchases), dtype=bool)
    drop[np.flatnonzero(in_exp)[(t >= a) & (t < b)]] = True
    buy = np.zeros(len(person), dtype=bool)
    for r in np.unique(rate):
        idx = np.flatnonzero(rate == r)
        k = int(np.floor(r * len(idx) + 0.5))
        buy[rng.choice(idx, size=k, replace=False)] = True
    new = pd.DataFrame(
        {
            "person_idx": person[buy],
            "t": at[buy] + rng.integers(60, days * DAY - 60, int(buy.sum())),
        }
    )
    return pd.concat([purchases[~drop], new], ignore_index=True), buy


def _alive_through(churned, churn_t, pidx, lo, hi):
    """Not churned before ``hi``; persons whose dropout falls inside the window are excluded."""
    gone_before = churned[pidx] & (churn_t[pidx] < lo)
    inside = churned[pidx] & (churn_t[pidx] >= lo) & (churn_t[pidx] < hi)
    return ~gone_before & ~inside, gone_before


def run(
    rng: np.random.Generator,
    persons: pd.DataFrame,
    accounts: pd.DataFrame,
    purchases: pd.DataFrame,
    churned: np.ndarray,
    churn_t: np.ndarray,
    can_order: np.ndarray,
    groups: pd.DataFrame,
    members: pd.DataFrame,
    window: Window,
) -> tuple[pd.DataFrame, pd.DataFrame, dict, pd.DataFrame]:
    """Assign both experiments and rewrite the purchases they affect.

    Returns ``(purchases, assignments, truth, outcomes)``; assignments carry
    ``experiment, unit_type, unit_id, variant, t``; outcomes one row per
    enrolled person: effective arm, outcome window start, active, converted.
    """
    truth: dict = {}
    span = window.days
    # --- birthday message, per account ---
    lo = window.start + pd.Timedelta(days=int(span * 0.15))
    hi = window.start + pd.Timedelta(days=int(span * 0.5))
    bday = _birthday_in(persons["birthday"], lo, hi)
    reach = accounts["platform"].isin(["wechat", "wecom"]).to_numpy()
    acc = accounts[reach]
    at_day = bday.to_numpy()[acc["person_idx"].to_numpy()]
    has = ~pd.isna(at_day)
    acc = acc[has]
    at = (
        (pd.DatetimeIndex(at_day[has]) - window.start).total_seconds().to_numpy().astype("int64")
        + 10 * 3600
        + rng.integers(0, 3600, len(acc))
    )
    pidx = acc["person_idx"].to_numpy()
    days = BIRTHDAY["days"]
    alive, gone = _alive_through(churned, churn_t, pidx, at, at + days * DAY)
    enrolled = alive | gone  # dropouts inside the outcome window are left out
    enrolled &= acc["created"].to_numpy() <= at  # only an account that exists gets the message
    acc, at, pidx, gone = acc[enrolled], at[enrolled], pidx[enrolled], gone[enrolled]
    variant = np.where(rng.random(len(acc)) < 0.5, "B", "A")
    a_rows = pd.DataFrame(
        {
            "experiment": BIRTHDAY["name"],
            "unit_type": "account",
            "unit_id": acc["account_id"].to_numpy(),
            "variant": variant,
            "t": at,
            "person_idx": pidx,
        }
    )
    per_person = (
        a_rows.assign(b=a_rows["variant"] == "B")
        .groupby("person_idx")
        .agg(t=("t", "min"), any_b=("b", "max"))
    )
    pp = per_person.index.to_numpy()
    active = (
        ~(churned[pp] & (churn_t[pp] < per_person["t"].to_numpy()))
        & can_order[pp]
        & (persons["t0"].to_numpy()[pp] < per_person["t"].to_numpy())
    )
    rate = np.where(per_person["any_b"].to_numpy(), BIRTHDAY["rate_b"], BIRTHDAY["rate_a"])
    purchases, bought = _replace_outcome(
        rng, purchases, pp[active], per_person["t"].to_numpy()[active], days, rate[active]
    )
    outcomes = [
        pd.DataFrame(
            {
                "experiment": BIRTHDAY["name"],
                "person_idx": pp,
                "arm": np.where(per_person["any_b"].to_numpy(), "B", "A"),
                "t": per_person["t"].to_numpy(),
                "active": active,
                "converted": _scatter(active, bought),
            }
        )
    ]
    mixed = a_rows.groupby("person_idx")["variant"].nunique()
    truth[BIRTHDAY["name"]] = {
        "unit_type": "account",
        "variants": {"A": "生日祝福（纯文字）", "B": "生日祝福 + 专属优惠券"},
        "metric": f"person places any order within {days} days after assigned_at",
        "true_rate": {"A": BIRTHDAY["rate_a"], "B": BIRTHDAY["rate_b"]},
        "true_effect": round(BIRTHDAY["rate_b"] - BIRTHDAY["rate_a"], 6),
        "true_relative_lift": round(BIRTHDAY["rate_b"] / BIRTHDAY["rate_a"] - 1, 6),
        "design": (
            "accounts (wechat openid, wecom external_userid) of persons whose birthday "
            f"falls in {lo.date()}..{hi.date()}, 50/50 per account at the birthday 10:00"
        ),
        "rates_apply_to": (
            "persons active at the message (acquired before it, not churned, able "
            "to order); others never convert; a person with any account in B "
            "behaves as B; persons who drop out inside the 7 days are not enrolled"
        ),
        "n_units": len(a_rows),
        "n_units_by_variant": {k: int(v) for k, v in a_rows["variant"].value_counts().items()},
        "n_persons": len(pp),
        "n_persons_in_both_arms": int((mixed > 1).sum()),
        "n_active_persons": int(active.sum()),
        "realized_conversions_active": {
            "A": int(bought[~per_person["any_b"].to_numpy()[active]].sum()),
            "B": int(bought[per_person["any_b"].to_numpy()[active]].sum()),
        },
    }

    # --- group-buy post, per group chat ---
    g_at = int(span * 0.7) * DAY + 20 * 3600
    gdays = GROUP["days"]
    live = np.flatnonzero(groups["created"].to_numpy() < g_at)
    gvar = np.array(["A", "B"] * (len(live) // 2 + 1), dtype=object)[: len(live)]
    gvar = rng.permutation(gvar)
    g_rows = pd.DataFrame(
        {
            "experiment": GROUP["name"],
            "unit_type": "group",
            "unit_id": groups["roomid"].to_numpy()[live],
            "variant": gvar,
            "t": g_at,
            "person_idx": -1,
        }
    )
    var_of_group = pd.Series(gvar, index=live)
    m = members[
        (members["join_t"] <= g_at) & (members["leave_t"] > g_at) & members["group"].isin(live)
    ]
    mp = accounts["person_idx"].to_numpy()[m["account_row"].to_numpy()]
    in_b = (
        pd.Series(var_of_group.reindex(m["group"].to_numpy()).to_numpy() == "B").groupby(mp).any()
    )
    pp = in_b.index.to_numpy()
    at_arr = np.full(len(pp), g_at, dtype="int64")
    alive, _ = _alive_through(churned, churn_t, pp, at_arr, at_arr + gdays * DAY)
    active = alive & can_order[pp] & (persons["t0"].to_numpy()[pp] < g_at)
    active &= ~np.isin(pp, a_rows["person_idx"].to_numpy()[a_rows["t"].to_numpy() > g_at - 8 * DAY])
    rate = np.where(in_b.to_numpy(), GROUP["rate_b"], GROUP["rate_a"])
    purchases, bought = _replace_outcome(
        rng, purchases, pp[active], at_arr[active], gdays, rate[active]
    )
    outcomes.append(
        pd.DataFrame(
            {
                "experiment": GROUP["name"],
                "person_idx": pp,
                "arm": np.where(in_b.to_numpy(), "B", "A"),
                "t": at_arr,
                "active": active,
                "converted": _scatter(active, bought),
            }
        )
    )
    truth[GROUP["name"]] = {
        "unit_type": "group",
        "variants": {"A": "群内无拼团帖", "B": "群内发布拼团帖（3人成团）"},
        "metric": f"a member (in the group at assigned_at) orders within {gdays} days",
        "true_rate": {"A": GROUP["rate_a"], "B": GROUP["rate_b"]},
        "true_effect": round(GROUP["rate_b"] - GROUP["rate_a"], 6),
        "true_relative_lift": round(GROUP["rate_b"] / GROUP["rate_a"] - 1, 6),
        "design": "every group chat created before assigned_at, balanced 50/50 by group",
        "rates_apply_to": (
            "members active at assigned_at (not churned, able to order); a person "
            "in any B group behaves as B"
        ),
        "n_units": len(g_rows),
        "n_member_persons": len(pp),
        "n_active_member_persons": int(active.sum()),
        "realized_conversions_active": {
            "A": int(bought[~in_b.to_numpy()[active]].sum()),
            "B": int(bought[in_b.to_numpy()[active]].sum()),
        },
    }
    assignments = pd.concat([a_rows, g_rows], ignore_index=True)
    purchases = purchases.sort_values(["person_idx", "t"], kind="stable").reset_index(drop=True)
    return purchases, assignments, truth, pd.concat(outcomes, ignore_index=True)


def _scatter(mask: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = np.zeros(len(mask), dtype=bool)
    out[mask] = values
    return out
