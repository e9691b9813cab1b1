"""Buy-till-you-die purchase times (BG/NBD-like, with seasonality).

Each person buys as a Poisson process with their own rate λ, modulated by
the calendar (618, 双11, Spring Festival); right after every purchase they
drop out for good with probability p. Simulated for all persons at once:
each loop step advances every still-active person to their next candidate
purchase, so the loop runs as many times as the busiest buyer's purchases,
not once per person.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scrm_lib.sample.timeline import DAY, Window, draw_second_of_day, seasonality


def simulate(
    rng: np.random.Generator, persons: pd.DataFrame, buyer: np.ndarray, window: Window
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Purchase times for every buyer.

    Returns ``(purchases, churned, churn_t)``: purchases has ``person_idx`` and
    ``t`` (seconds into the window); ``churned[i]`` says the person dropped
    out before the window end, at ``churn_t[i]`` (the moment of their last
    purchase; -1 when not churned).
    """
    season = seasonality(window)
    m_max = season.max()
    lam = persons["lam"].to_numpy() / DAY  # per second
    p = persons["p"].to_numpy()
    n = len(persons)
    span = window.seconds

    idx = np.flatnonzero(buyer)
    t = persons["t0"].to_numpy()[idx].astype(float)
    who = [idx]
    when = [t.copy()]
    # BG/NBD: the first purchase opens the relationship, and may be the last.
    dead = rng.random(len(idx)) < p[idx]
    churned = np.zeros(n, dtype=bool)
    churn_t = np.full(n, -1, dtype="int64")
    churned[idx[dead]] = True
    churn_t[idx[dead]] = t[dead].astype("int64")
    idx, t = idx[~dead], t[~dead]
    while len(idx):
        # Thinning: candidates at the peak rate, kept in proportion to the day's intensity.
        t = t + rng.exponential(1.0, len(idx)) / (lam[idx] * m_max)
        inside = t < span
        idx, t = idx[inside], t[inside]
        day = np.maximum(t // DAY, 0).astype("int64")  # before the window: an ordinary day
        keep = rng.random(len(idx)) < season[day] / m_max
        who.append(idx[keep])
        when.append(t[keep])
        dies = keep.copy()
        dies[keep] = rng.random(int(keep.sum())) < p[idx[keep]]
        churned[idx[dies]] = True
        churn_t[idx[dies]] = t[dies].astype("int64")
        idx, t = idx[~dies], t[~dies]

    person_idx = np.concatenate(who)
    t_all = np.concatenate(when).astype("int64")
    seen = t_all >= 0  # purchases before the window are not in any export
    person_idx, t_all = person_idx[seen], t_all[seen]
    # Purchases happen at shopping hours: keep the day, redraw the time of day,
    # but never move a purchase past the dropout moment.
    day_start = t_all // DAY * DAY
    t_new = day_start + draw_second_of_day(rng, len(t_all))
    limit = np.where(churned[person_idx], churn_t[person_idx], span - 1)
    t_new = np.where(t_all == limit, t_all, np.clip(t_new, day_start, limit))
    purchases = pd.DataFrame({"person_idx": person_idx, "t": t_new})
    purchases = purchases.sort_values(["person_idx", "t"], kind="stable").reset_index(drop=True)
    return purchases, churned, churn_t
